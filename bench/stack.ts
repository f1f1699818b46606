/**
 * The pieces `npm run bench` and `npm run chaos` both start: the Temporal dev server, the relay and the worker as
 * separate processes (their production entry points, configured by environment), all on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError } from 'commander';
import { request } from 'undici';
import { freePort, startDevServer } from '../src/local/dev-server';
import { findTemporalCli, TEMPORAL_CLI_VERSION, temporalCliCacheDir } from '../src/local/temporal-cli';
import { childPidsNamed, disownPid, NodeProcess, ownPid } from './processes';
import type { NodeProcessOptions } from './processes';

export interface TemporalServer {
  address: string;
  /** The dev server's pid when this run started it (for its CPU); undefined for a server given with a flag. */
  pid?: number;
  /** `temporal --version` of the binary this run started, or 'external'. */
  version: string;
  stop(): Promise<void>;
}

/** The Temporal CLI built by `npm run setup`; the bench and chaos runs need the binary itself, not the SDK's. */
function temporalBinary(): string {
  const binary = findTemporalCli();
  if (!binary) throw new Error('no Temporal CLI found: run `npm run setup` first (or set TEMPORAL_CLI_PATH)');
  return binary;
}

/**
 * A headless dev server on 127.0.0.1 (in memory, or on `dbFile` so that it can be stopped and started again with its
 * workflows intact), or, with `address`, a server that is already running (its search attributes registered).
 */
export async function startTemporal(opts: {
  address?: string;
  dbFile?: string;
  port?: number;
  /** The dev server's dynamic config values (`--dynamic-config-value`). */
  dynamicConfig?: Record<string, string | number | boolean>;
}): Promise<TemporalServer> {
  if (opts.address) return { address: opts.address, version: 'external', stop: async () => undefined };
  const binary = temporalBinary();
  const before = new Set(childPidsNamed('temporal'));
  const server = await startDevServer({
    binary,
    port: opts.port ?? (await freePort()),
    dbFile: opts.dbFile,
    dynamicConfig: opts.dynamicConfig,
  });
  const pid = childPidsNamed('temporal').find((candidate) => !before.has(candidate));
  if (pid !== undefined) ownPid(pid);
  return {
    address: server.address,
    pid,
    version: cliVersion(binary),
    stop: async () => {
      await server.stop();
      if (pid !== undefined) disownPid(pid);
    },
  };
}

/** `temporal --version`; a `go install` build calls itself 0.0.0-DEV, so the cached one is named by its tag. */
function cliVersion(binary: string): string {
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  return binary.startsWith(temporalCliCacheDir()) ? `${version}, built from ${TEMPORAL_CLI_VERSION}` : version;
}

/** Polls `url` until it answers 200. */
export async function waitForHttp(url: string, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await request(url);
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer 200 on ${url} within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** Prometheus counters and gauges summed over their labels, by metric name. */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const res = await request(`${url}/metrics`);
  const text = await res.body.text();
  const totals = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) continue;
    totals.set(match[1], (totals.get(match[1]) ?? 0) + Number(match[2]));
  }
  return totals;
}

type Hooks = Pick<NodeProcessOptions, 'onLine' | 'onUnexpectedExit'>;

/** `src/relay/main.ts` on a fixed port (Daily's webhook URL must survive restarts); no Daily key, so no watchdog. */
export function relayProcess(
  opts: { port: number; temporalAddress: string; webhookSecret: string; name?: string } & Hooks
): { process: NodeProcess; url: string; spoolPath: string } {
  const url = `http://127.0.0.1:${opts.port}`;
  // Its own spool, kept across restarts of this relay (a restarted relay drains it) and removed when the run ends.
  const spoolDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-relay-'));
  process.on('exit', () => rmSync(spoolDir, { recursive: true, force: true }));
  const spoolPath = path.join(spoolDir, 'relay-spool.sqlite');
  const relay = new NodeProcess({
    name: opts.name ?? 'relay',
    script: 'src/relay/main.ts',
    env: {
      RELAY_PORT: String(opts.port),
      RELAY_HOST: '127.0.0.1',
      DAILY_WEBHOOK_SECRET: opts.webhookSecret,
      TEMPORAL_ADDRESS: opts.temporalAddress,
      RELAY_SPOOL_PATH: spoolPath,
    },
    onLine: opts.onLine,
    onUnexpectedExit: opts.onUnexpectedExit,
  });
  return { process: relay, url, spoolPath };
}

/** `src/worker.ts`, pointed at the sandbox. */
export function workerProcess(
  opts: { name: string; temporalAddress: string; taskQueue: string; dailyApiUrl: string; dailyApiKey: string } & Hooks
): NodeProcess {
  return new NodeProcess({
    name: opts.name,
    script: 'src/worker.ts',
    env: {
      TEMPORAL_ADDRESS: opts.temporalAddress,
      TEMPORAL_TASK_QUEUE: opts.taskQueue,
      DAILY_API_URL: opts.dailyApiUrl,
      DAILY_API_KEY: opts.dailyApiKey,
      LOG_LEVEL: 'warn',
    },
    onLine: opts.onLine,
    onUnexpectedExit: opts.onUnexpectedExit,
  });
}

/** Commander parser for `--transfers` and `--concurrency`. */
export function positiveInteger(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('must be a positive whole number.');
  return Number(value);
}

/**
 * Turns the unexpected exit of a process into a rejected promise to race the run against: a crashed worker or relay
 * must end the run with its last lines, not leave it waiting for results that never come.
 */
export function exitWatch(): { failed: Promise<never>; onUnexpectedExit: NonNullable<Hooks['onUnexpectedExit']> } {
  let fail: (err: Error) => void = () => undefined;
  const failed = new Promise<never>((_resolve, reject) => (fail = reject));
  failed.catch(() => undefined);
  return {
    failed,
    onUnexpectedExit: (process, code, signal) =>
      fail(new Error(`${process.name} exited (${code ?? signal}):\n${process.lastLines()}`)),
  };
}
