/**
 * A native process of the cluster (Temporal server, UI server, PostgreSQL) run as a child: its output goes to a log
 * file, and it is killed when this run exits whatever the reason (bench/processes.ts owns that cleanup for every
 * process of a run, Node ones included).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync, readFileSync } from 'node:fs';
import { disownPid, ownPid } from '../../bench/processes';

export interface NativeProcessOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Appended to across restarts. */
  logFile: string;
  cwd?: string;
  /** Run as this user (root only): PostgreSQL refuses to run as root. */
  spawnAs?: { uid: number; gid: number };
}

export class NativeProcess {
  private child: ChildProcess | undefined;

  constructor(readonly opts: NativeProcessOptions) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  start(): this {
    if (this.running) throw new Error(`${this.opts.name} is already running`);
    const out = openSync(this.opts.logFile, 'a');
    const child = spawn(this.opts.command, this.opts.args, {
      cwd: this.opts.cwd,
      ...this.opts.spawnAs,
      env: this.opts.env ?? process.env,
      stdio: ['ignore', out, out],
    });
    if (child.pid === undefined) throw new Error(`could not start ${this.opts.name} (${this.opts.command})`);
    const pid = child.pid;
    ownPid(pid);
    child.once('exit', () => disownPid(pid));
    this.child = child;
    return this;
  }

  /** `signal` (SIGTERM: a clean shutdown), then SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** The end of its log, for error messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.opts.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}
