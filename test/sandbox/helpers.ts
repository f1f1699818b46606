import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSandbox } from '../../src/sandbox';
import type { Sandbox, SandboxOptions } from '../../src/sandbox';

/** Scaled-down delays: the suite stays quick while every step still happens on a timer, as it does for real. */
export const FAST_TIMING = {
  triggeredMs: 5,
  initiatedMs: 10,
  outcomeMs: 20,
  roomAnswerMs: 10,
  webhookTimeoutMs: 2_000,
  verifyTimeoutMs: 500,
  retryBaseMs: 10,
  retryCapMs: 40,
};

export function startTestSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  return startSandbox({ port: 0, ...opts, timing: { ...FAST_TIMING, ...opts.timing } });
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** A Daily REST call against the sandbox, over real HTTP. */
export async function api(
  sandbox: Sandbox,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { authorization: `Bearer ${sandbox.apiKey}` }
): Promise<ApiResponse> {
  const res = await fetch(`${sandbox.apiBase}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export function transfer(
  sandbox: Sandbox,
  room: string,
  body: Record<string, unknown>,
  method: 'sipCallTransfer' | 'sipRefer' = 'sipCallTransfer'
): Promise<ApiResponse> {
  return api(sandbox, 'POST', `/rooms/${room}/${method}`, body);
}

/** Polls `probe` until it returns something truthy; fails after a generous deadline. */
export async function waitFor<T>(
  probe: () => T | undefined | null | false,
  what: string,
  timeoutMs = 10_000
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Parsed webhook envelopes (the `{"test":"test"}` verification requests left out). */
  envelopes(): Array<{ id: string; type: string; version: string; event_ts: number; payload: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1:0; `respond` picks each status (a never-settling promise = a hung receiver). */
export async function startReceiver(
  respond: (req: Received, index: number) => number | Promise<number> = () => 200
): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = { headers: req.headers, raw: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      received.push(entry);
      void Promise.resolve(respond(entry, received.length - 1)).then((status) => {
        res.writeHead(status, { 'content-type': 'text/plain' }).end(String(status));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/daily`,
    received,
    envelopes: () =>
      received
        .map((r) => JSON.parse(r.raw) as Record<string, unknown>)
        .filter((body) => body.test === undefined) as ReturnType<Receiver['envelopes']>,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Creates the domain's webhook through the REST API and returns Daily's webhook object. */
export async function createWebhook(
  sandbox: Sandbox,
  body: Record<string, unknown>
): Promise<{ uuid: string; hmac: string; state: string; failedCount: number }> {
  const res = await api(sandbox, 'POST', '/webhooks', body);
  if (res.status !== 200) throw new Error(`webhook create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { uuid: string; hmac: string; state: string; failedCount: number };
}

export function types(sandbox: Sandbox): string[] {
  return sandbox.emittedEvents().map((e) => e.type);
}
