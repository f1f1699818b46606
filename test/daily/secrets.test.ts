/**
 * The API key must never leave the client inside an error: triggers every error kind with a distinctive key and
 * searches every rendering of the error (and of the client) for it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { Dispatcher } from 'undici';
import { toApplicationFailure } from '../../src/activities';
import { DailyApiError, DailyClient, DailyNetworkError } from '../../src/daily';

const KEY = 'sk_live_SECRET-7f3a9c1e-DO-NOT-LEAK';

type Reply = (req: IncomingMessage, res: ServerResponse) => void;

function renderings(value: unknown): string[] {
  const out = [String(value), inspect(value, { showHidden: true, depth: null, getters: true })];
  try {
    out.push(JSON.stringify(value) ?? '');
  } catch {
    // Circular structures cannot leak through JSON.stringify.
  }
  if (value instanceof Error) {
    out.push(value.message, value.stack ?? '', inspect(value.cause, { showHidden: true, depth: null }));
    out.push(JSON.stringify(Object.getOwnPropertyNames(value).map((name) => [name, String(Reflect.get(value, name))])));
  }
  return out;
}

function expectNoKey(value: unknown): void {
  for (const text of renderings(value)) expect(text).not.toContain(KEY);
}

const echoKey: Reply = (req, res) => {
  // A worst-case server that quotes the credentials it received.
  res.writeHead(400, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: `bad ${req.headers.authorization}`, info: `key ${req.headers.authorization}` }));
};

const replies: Array<[string, Reply]> = [
  ['429', (_q, s) => s.writeHead(429, { 'retry-after': '2' }).end('{"error":"rate-limit-error"}')],
  ['500', (_q, s) => s.writeHead(500).end('{"error":"server-error"}')],
  ['502 html', (_q, s) => s.writeHead(502).end('<html>bad gateway</html>')],
  ['401', (_q, s) => s.writeHead(401).end('{"error":"authentication-error","info":"invalid key"}')],
  ['400 auth', (_q, s) => s.writeHead(400).end('{"error":"authorization-header-error"}')],
  ['403', (_q, s) => s.writeHead(403).end('{"error":"forbidden-error"}')],
  ['404 hosting', (_q, s) => s.writeHead(404).end('{"error":"not-found","info":"Room is not hosting a call"}')],
  ['404 session', (_q, s) => s.writeHead(404).end('{"error":"not-found","info":"invalid sessionId"}')],
  ['400 sfu', (_q, s) => s.writeHead(400).end('{"error":"invalid-request-error","info":"Room not in SFU mode"}')],
  ['400 closed', (_q, s) => s.writeHead(400).end('{"info":"Call closed before command could be delivered"}')],
  ['404', (_q, s) => s.writeHead(404).end('{}')],
  ['409', (_q, s) => s.writeHead(409).end('')],
  ['200 bad body', (_q, s) => s.writeHead(200).end('{"ok":false}')],
  ['200 not json', (_q, s) => s.writeHead(200).end('nope')],
  ['reset', (req) => req.socket.destroy()],
  ['stall', () => undefined],
  ['echoes the key', echoKey],
];

describe('the API key never appears in errors', () => {
  const servers: Array<{ close(): void }> = [];
  const clients: DailyClient[] = [];

  async function clientFor(reply: Reply): Promise<DailyClient> {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => reply(req, res));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({
      close: () => {
        server.closeAllConnections();
        server.close();
      },
    });
    const { port } = server.address() as AddressInfo;
    const client = new DailyClient({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}/v1`, requestTimeoutMs: 300 });
    clients.push(client);
    return client;
  }

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    servers.forEach((s) => s.close());
  });

  it('would notice a key in the message, a property or the cause', () => {
    const leaky = Object.assign(new Error('x', { cause: new Error(KEY) }), { header: KEY });
    const found = (value: unknown) => renderings(value).some((text) => text.includes(KEY));
    expect(found(leaky)).toBe(true);
    expect(found(new Error('x', { cause: { headers: { authorization: `Bearer ${KEY}` } } }))).toBe(true);
    expect(found(Object.assign(new Error('x'), { key: KEY }))).toBe(true);
  });

  it.each(replies)('%s', async (_label, reply) => {
    const daily = await clientFor(reply);
    const calls: Array<() => Promise<unknown>> = [
      () => daily.sipCallTransfer('r', { sessionId: 's', toEndPoint: 'sip:x@example.com' }),
      () => daily.getRoomPresence('r'),
      () => daily.getRoomSipUri('r'),
      () => daily.createWebhook({ url: 'https://relay', hmac: 'aGVsbG8=' }),
    ];
    for (const call of calls) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DailyApiError);
      expectNoKey(err);
      expectNoKey(toApplicationFailure(err as DailyApiError, 'at-most-once'));
    }
  });

  it('redacts a key the server quotes back', async () => {
    const daily = await clientFor(echoKey);
    const err = (await daily.getRoom('r').catch((e: unknown) => e)) as DailyApiError;
    expect(err.info).toBe('key Bearer [redacted]');
  });

  it('covers refused connections and requests that never reach a socket', async () => {
    const refused = await clientFor(() => undefined);
    servers.forEach((s) => s.close());
    const refusedErr = await refused.sipRefer('r', { sessionId: 's', toEndPoint: 'sip:x@example.com' }).catch((e) => e);
    expect(refusedErr).toBeInstanceOf(DailyNetworkError);
    expectNoKey(refusedErr);

    class Stalled extends Dispatcher {
      override dispatch(): boolean {
        return true;
      }
    }
    const stalled = new DailyClient({ apiKey: KEY, dispatcher: new Stalled(), requestTimeoutMs: 50 });
    const stalledErr = await stalled.getRoom('r').catch((e) => e);
    expect(stalledErr).toBeInstanceOf(DailyNetworkError);
    expectNoKey(stalledErr);
  });

  it('keeps the key out of the client object itself', () => {
    const client = new DailyClient({ apiKey: KEY });
    clients.push(client);
    expectNoKey(client);
  });
});
