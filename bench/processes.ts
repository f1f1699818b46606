/**
 * A small supervisor for the processes `npm run bench` and `npm run chaos` start: Node entry points run as their own
 * processes (so their CPU and memory are theirs alone), killed with SIGKILL and started again on demand, and read
 * from `/proc` while they run. Every process started here, and every pid registered with `ownPid`, is killed when
 * this process exits, whatever the reason (an error, Ctrl-C).
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const REPO_ROOT = path.resolve(__dirname, '..');

// ---------------------------------------------------------------------------------------------------------------
// Cleanup: nothing outlives the run
// ---------------------------------------------------------------------------------------------------------------

const owned = new Set<number>();

/** Kills `pid` with SIGKILL when this process exits (for children started by others, e.g. the dev server). */
export function ownPid(pid: number): void {
  owned.add(pid);
}

export function disownPid(pid: number): void {
  owned.delete(pid);
}

process.on('exit', () => {
  for (const pid of owned) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // Exiting runs the 'exit' handler above, which kills every child.
  process.once(signal, () => {
    console.error(`\n${signal}: stopping every process this run started`);
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------------------------------------------

interface ProcessUsage {
  /** User + system CPU since the process started. */
  cpuSec: number;
  rssBytes: number;
}

const clockTicksPerSec = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** `/proc/<pid>/stat` fields after the command name, which may itself contain spaces and parentheses. */
function statFields(pid: number): { comm: string; fields: string[] } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const close = stat.lastIndexOf(')');
  return { comm: stat.slice(stat.indexOf('(') + 1, close), fields: stat.slice(close + 2).split(' ') };
}

/** CPU and resident memory of a live process; undefined once it is gone. */
function readUsage(pid: number): ProcessUsage | undefined {
  try {
    // fields[0] is stat field 3 (state): utime and stime are fields 14 and 15.
    const { fields } = statFields(pid);
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return { cpuSec: ticks / clockTicksPerSec, rssBytes: rssKb * 1024 };
  } catch {
    return undefined;
  }
}

/** Pids of this process's children whose command name is `comm` (e.g. the dev server `startDevServer` spawned). */
export function childPidsNamed(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = statFields(Number(entry));
      if (stat.comm === comm && Number(stat.fields[1]) === process.pid) pids.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return pids;
}

/**
 * CPU used and peak RSS of some processes over a window: CPU is the difference between two readings, RSS is sampled
 * (start-up work such as bundling workflow code happens before the window and would dominate a lifetime peak).
 */
export class UsageWindow {
  private readonly startCpu = new Map<number, number>();
  private readonly peakRss = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: readonly number[],
    sampleMs = 200
  ) {
    for (const pid of pids) this.startCpu.set(pid, readUsage(pid)?.cpuSec ?? 0);
    this.sample();
    this.timer = setInterval(() => this.sample(), sampleMs);
  }

  /** Stops sampling; per pid, CPU seconds used in the window and the highest RSS seen. */
  finish(): Map<number, { cpuSec: number; peakRssBytes: number }> {
    clearInterval(this.timer);
    this.sample();
    const result = new Map<number, { cpuSec: number; peakRssBytes: number }>();
    for (const pid of this.pids) {
      const cpuSec = (readUsage(pid)?.cpuSec ?? 0) - (this.startCpu.get(pid) ?? 0);
      result.set(pid, { cpuSec, peakRssBytes: this.peakRss.get(pid) ?? 0 });
    }
    return result;
  }

  private sample(): void {
    for (const pid of this.pids) {
      const rss = readUsage(pid)?.rssBytes ?? 0;
      if (rss > (this.peakRss.get(pid) ?? 0)) this.peakRss.set(pid, rss);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Node processes
// ---------------------------------------------------------------------------------------------------------------

export interface NodeProcessOptions {
  /** For messages: "worker-1", "relay"... */
  name: string;
  /** A TypeScript entry point, relative to the repository root; run with `node --import tsx` like in production. */
  script: string;
  env: Record<string, string>;
  /** Every stdout/stderr line (pino's JSON lines for the worker and the relay), with the pid that printed it. */
  onLine?: (line: string, pid: number) => void;
  /** Called when the process exits without `kill()`/`stop()` having been asked for it. */
  onUnexpectedExit?: (process: NodeProcess, code: number | null, signal: NodeJS.Signals | null) => void;
}

/**
 * The parent's environment minus Switchboard's own variables: a `TEMPORAL_API_KEY` or `DAILY_API_URL` exported in the
 * shell must not point a benchmark process somewhere else (the processes treat an empty value as set, so they are
 * removed rather than blanked).
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(TEMPORAL|DAILY|RELAY|SANDBOX|WEBHOOK)_|^LOG_LEVEL$/.test(name)) delete env[name];
  }
  return env;
}

/** One entry point run as a child process, which can be killed and started again with the same environment. */
export class NodeProcess {
  private child: ChildProcess | undefined;
  private readonly tail: string[] = [];
  private stopping = false;

  constructor(private readonly opts: NodeProcessOptions) {}

  get name(): string {
    return this.opts.name;
  }

  get pid(): number {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error(`${this.opts.name} is not running`);
    return pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines it printed, for error messages. */
  lastLines(): string {
    return this.tail.join('\n');
  }

  start(): this {
    if (this.running) throw new Error(`${this.opts.name} is already running`);
    this.stopping = false;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, this.opts.script)], {
      cwd: REPO_ROOT,
      env: { ...inheritedEnv(), ...this.opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${this.opts.name}`);
    ownPid(pid);
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => {
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
        this.opts.onLine?.(line, pid);
      });
    }
    child.once('exit', (code, signal) => {
      disownPid(pid);
      if (!this.stopping) this.opts.onUnexpectedExit?.(this, code, signal);
    });
    this.child = child;
    return this;
  }

  /** SIGKILL: no shutdown hook runs, exactly like a crashed or evicted machine. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM (a graceful shutdown), SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
    await this.signal('SIGTERM');
    clearTimeout(timer);
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.stopping = true;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }
}
