import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_NAMES } from '../shared';

export interface DevServerOptions {
  /** Path to the `temporal` CLI (see `findTemporalCli`). */
  binary: string;
  port: number;
  /** Serve the Temporal UI on this port; no UI when omitted. */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; in-memory when omitted. */
  dbFile?: string;
  ip?: string;
  namespace?: string;
  /** Dynamic config values (`--dynamic-config-value KEY=JSON`), e.g. `{ 'matching.numTaskqueueReadPartitions': 1 }`. */
  dynamicConfig?: Record<string, string | number | boolean>;
  log?: (line: string) => void;
}

export interface DevServer {
  readonly address: string;
  readonly uiUrl?: string;
  stop(): Promise<void>;
}

/**
 * Runs `temporal server start-dev` as a child process with Switchboard's search attributes registered. Unlike the
 * SDK's ephemeral server it can be stopped and started again on the same data file, which the local quick start,
 * the relay's outage test and the chaos run need.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(opts.port), '--log-level', 'error'];
  args.push('--namespace', opts.namespace ?? 'default');
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  for (const name of SEARCH_ATTRIBUTE_NAMES) args.push('--search-attribute', `${name}=Keyword`);
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }

  const child = spawn(opts.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const address = `${ip}:${opts.port}`;
  try {
    await waitUntilServing(address, child);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`Temporal dev server did not start on ${address}: ${(err as Error).message}\n${output.join('')}`);
  }
  opts.log?.(`Temporal dev server on ${address}${opts.dbFile ? ` (data: ${opts.dbFile})` : ''}`);
  return {
    address,
    uiUrl: opts.uiPort ? `http://localhost:${opts.uiPort}` : undefined,
    stop: () => stopChild(child),
  };
}

async function waitUntilServing(address: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`exited with code ${child.exitCode}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        // The frontend answers before the namespace is registered; wait for the namespace too.
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A free TCP port on 127.0.0.1, for servers that need a port number before they start. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('could not allocate a port');
  return address.port;
}
