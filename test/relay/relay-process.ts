import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';

const REPO_ROOT = path.resolve(__dirname, '../..');

/**
 * `npm run relay` as a child process (the production entry point, `src/relay/main.ts`), so a test can SIGKILL it
 * mid-drain and start it again on the same spool file and port.
 */
export class RelayProcess {
  private child: ChildProcess | undefined;
  /** Every JSON log line it printed, across restarts. */
  readonly lines: Array<Record<string, unknown>> = [];
  private waiters: Array<{ match: (entry: Record<string, unknown>) => boolean; resolve: () => void }> = [];

  constructor(private readonly env: Record<string, string>) {}

  get url(): string {
    return `http://127.0.0.1:${this.env.RELAY_PORT}`;
  }

  /** Starts it and waits for its `relay listening` line. */
  async start(): Promise<void> {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^(TEMPORAL|DAILY|RELAY|SANDBOX|WEBHOOK)_/.test(name))
    );
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/relay/main.ts')], {
      cwd: REPO_ROOT,
      env: { ...inherited, RELAY_HOST: '127.0.0.1', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const output: string[] = [];
    const listening = new Promise<void>((resolve, reject) => {
      child.once('exit', (code, signal) =>
        reject(new Error(`relay exited (${code ?? signal}) before listening:\n${output.join('\n')}`))
      );
      for (const stream of [child.stdout, child.stderr]) {
        if (!stream) continue;
        createInterface({ input: stream }).on('line', (line) => {
          output.push(line);
          try {
            const entry = JSON.parse(line) as Record<string, unknown>;
            this.lines.push(entry);
            if (entry.msg === 'relay listening') resolve();
            const matched = this.waiters.filter((waiter) => waiter.match(entry));
            this.waiters = this.waiters.filter((waiter) => !matched.includes(waiter));
            for (const waiter of matched) waiter.resolve();
          } catch {
            // Not a log line (a stack trace on a crash): kept in `output` for the error above.
          }
        });
      }
    });
    await listening;
  }

  /** Resolves on the first log line that matches, printed from now on. */
  nextLine(match: (entry: Record<string, unknown>) => boolean): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }
}
