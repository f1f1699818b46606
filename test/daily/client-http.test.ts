/**
 * Replies the sandbox cannot produce (malformed bodies, proxies' HTML, stalled responses, redirects…), from tiny
 * local HTTP servers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Dispatcher, Pool } from 'undici';
import {
  DailyAuthError,
  DailyClient,
  DailyForbiddenError,
  DailyInvalidResponseError,
  DailyNetworkError,
  DailyOutcomeUnknownError,
  DailyRateLimitedError,
  DailyRoomHasNoSipUriError,
  DailyServerError,
  withSipHeaders,
} from '../../src/daily';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Reply = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface TestServer {
  baseUrl: string;
  received: Received[];
  close(): Promise<void>;
}

async function serve(reply: Reply): Promise<TestServer> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      reply(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

const transfer = { sessionId: 'sess-1', toEndPoint: 'sip:desk@example.com' };

describe('DailyClient over plain HTTP servers', () => {
  let server: TestServer | undefined;
  let client: DailyClient | undefined;

  async function start(reply: Reply, requestTimeoutMs?: number): Promise<DailyClient> {
    server = await serve(reply);
    client = new DailyClient({ apiKey: 'test-key', baseUrl: server.baseUrl, requestTimeoutMs });
    return client;
  }

  afterEach(async () => {
    await client?.close();
    await server?.close();
    client = undefined;
    server = undefined;
  });

  it('sends an authenticated JSON POST to the URL-encoded room path', async () => {
    const daily = await start(json(200, { ok: true }));
    await daily.sipCallTransfer('support queue/1', { ...transfer, callerId: 'num-1', extension: '123' });
    expect(server?.received).toHaveLength(1);
    const [request] = server?.received ?? [];
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/v1/rooms/support%20queue%2F1/sipCallTransfer');
    expect(request?.headers.authorization).toBe('Bearer test-key');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request?.body ?? '')).toEqual({ ...transfer, callerId: 'num-1', extension: '123' });
  });

  it('sends only sessionId and toEndPoint for a REFER', async () => {
    const daily = await start(json(200, { ok: true }));
    await daily.sipRefer('r', transfer);
    expect(server?.received[0]?.url).toBe('/v1/rooms/r/sipRefer');
    expect(JSON.parse(server?.received[0]?.body ?? '')).toEqual(transfer);
  });

  it('accepts the documented string "true" as success', async () => {
    const daily = await start(json(200, { ok: 'true', extra: 1 }));
    await expect(daily.sipCallTransfer('r', transfer)).resolves.toBeUndefined();
  });

  it.each([
    ['ok false', JSON.stringify({ ok: false })],
    ['ok "false"', JSON.stringify({ ok: 'false' })],
    ['no ok', JSON.stringify({})],
    ['malformed JSON', '{"ok": tru'],
    ['empty body', ''],
  ])('rejects a 2xx with %s as an invalid response', async (_label, body) => {
    const daily = await start(json(200, body));
    const err = await daily.sipCallTransfer('r', transfer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyInvalidResponseError);
    expect(err).toMatchObject({ status: 200, retryable: false, failureType: 'DailyInvalidResponse' });
  });

  it("reads dialOut/start's session id, and accepts its documented string ok", async () => {
    const daily = await start(json(200, { ok: 'true', sessionId: 'dial-1' }));
    await expect(daily.startDialOut('r', { phoneNumber: '+15551230000' })).resolves.toEqual({ sessionId: 'dial-1' });
    expect(server?.received[0]?.url).toBe('/v1/rooms/r/dialOut/start');
  });

  it('reports a 2xx dialOut/start without a session id as an invalid response: a leg may ring that it cannot name', async () => {
    const daily = await start(json(200, { ok: true }));
    const err = await daily.startDialOut('r', { phoneNumber: '+15551230000' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyInvalidResponseError);
    expect(err).toMatchObject({ status: 200, retryable: false, message: expect.stringContaining('sessionId') });
  });

  it('takes any 2xx to dialOut/stop as success, whatever its body', async () => {
    const daily = await start(json(200, ''));
    await expect(daily.stopDialOut('r', 'dial-1')).resolves.toBeUndefined();
    expect(JSON.parse(server?.received[0]?.body ?? '')).toEqual({ sessionId: 'dial-1' });
  });

  it('withSipHeaders appends X- parameters, URL-encoding values, after any the URI already has', () => {
    expect(withSipHeaders('sip:a@b.c', { 'X-Ticket': 'T 1&2' })).toBe('sip:a@b.c?X-Ticket=T%201%262');
    expect(withSipHeaders('sip:a@b.c?X-A=1', { 'X-B': '2' })).toBe('sip:a@b.c?X-A=1&X-B=2');
    expect(withSipHeaders('sip:a@b.c', {})).toBe('sip:a@b.c');
  });

  it('reports a 502 with an HTML body as a retryable server error', async () => {
    const daily = await start((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body>Bad Gateway</body></html>');
    });
    const err = await daily.sipCallTransfer('r', transfer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyServerError);
    expect(err).toMatchObject({ status: 502, code: undefined, info: undefined, retryable: true });
  });

  it('reads Retry-After as an HTTP-date', async () => {
    const inFiveSeconds = new Date(Math.ceil(Date.now() / 1000) * 1000 + 5000).toUTCString();
    const daily = await start(json(429, { error: 'rate-limit-error' }, { 'retry-after': inFiveSeconds }));
    const err = await daily.sipCallTransfer('r', transfer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyRateLimitedError);
    const { retryAfterMs } = err as DailyRateLimitedError;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(6000);
  });

  it('maps 400 authorization-header-error and 403', async () => {
    const daily = await start((req, res) =>
      req.url?.endsWith('/a')
        ? json(400, { error: 'authorization-header-error', info: 'bad header' })(req, res, '')
        : json(403, { error: 'forbidden-error' })(req, res, '')
    );
    await expect(daily.getRoom('a')).rejects.toBeInstanceOf(DailyAuthError);
    await expect(daily.getRoom('b')).rejects.toBeInstanceOf(DailyForbiddenError);
  });

  it('treats a redirect as an invalid response rather than following it', async () => {
    const daily = await start((_req, res) => {
      res.writeHead(302, { location: 'https://example.com/' });
      res.end();
    });
    const err = await daily.getRoom('r').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyInvalidResponseError);
    expect(err).toMatchObject({ status: 302 });
  });

  it('refuses to buffer an oversized body', async () => {
    const daily = await start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(Buffer.alloc(5 * 1024 * 1024, 0x20));
    });
    await expect(daily.getRoom('r')).rejects.toBeInstanceOf(DailyInvalidResponseError);
  });

  it('reports a stalled response as outcome unknown, not as a network error', async () => {
    const daily = await start(() => undefined, 300);
    const err = await daily.sipCallTransfer('r', transfer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyOutcomeUnknownError);
    expect(err).toMatchObject({ retryable: false, failureType: 'DailyOutcomeUnknown' });
    expect(server?.received).toHaveLength(1);
  });

  it('reports a connection destroyed after the request as outcome unknown', async () => {
    const daily = await start((req) => req.socket.destroy());
    const err = await daily.sipCallTransfer('r', transfer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyOutcomeUnknownError);
    expect((err as Error).cause).toMatchObject({ code: expect.any(String) });
  });

  it('reports a refused connection as a retryable network error', async () => {
    const closed = await serve(json(200, {}));
    await closed.close();
    client = new DailyClient({ apiKey: 'test-key', baseUrl: closed.baseUrl });
    const err = await client.sipCallTransfer('r', transfer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyNetworkError);
    expect(err).toMatchObject({ retryable: true, failureType: 'DailyNetworkError' });
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('reports a deadline reached before the request reached a socket as a network error', async () => {
    // A dispatcher that never connects: the request is never handed to a socket.
    class Stalled extends Dispatcher {
      override dispatch(): boolean {
        return true;
      }
    }
    client = new DailyClient({ apiKey: 'test-key', dispatcher: new Stalled(), requestTimeoutMs: 100 });
    const err = await client.sipCallTransfer('r', transfer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyNetworkError);
    expect((err as Error).message).toContain('not connected within 100 ms');
  });

  it('asks for the whole presence list when Daily counted more than it returned', async () => {
    const everyone = [{ id: 'a' }, { id: 'b' }, { id: 'c', userName: null, duration: 3 }];
    const daily = await start((req, res) => {
      const limited = new URL(req.url ?? '', 'http://x').searchParams.get('limit');
      json(200, { total_count: 3, data: limited ? everyone : everyone.slice(0, 1) })(req, res, '');
    });
    const present = await daily.getRoomPresence('r');
    expect(present.map((p) => p.id)).toEqual(['a', 'b', 'c']);
    expect(server?.received.map((r) => r.url)).toEqual(['/v1/rooms/r/presence', '/v1/rooms/r/presence?limit=3']);
  });

  it('reads the SIP URI from the room config and types its absence', async () => {
    const daily = await start((req, res) =>
      json(200, {
        name: 'r',
        unknownField: true,
        config: req.url?.endsWith('/sip') ? { sip_uri: { endpoint: 'sip:abc@example.sip.daily.co' } } : {},
      })(req, res, '')
    );
    await expect(daily.getRoomSipUri('sip')).resolves.toBe('sip:abc@example.sip.daily.co');
    const err = await daily.getRoomSipUri('plain').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DailyRoomHasNoSipUriError);
    expect(err).toMatchObject({ failureType: 'DailyNotFound', retryable: false, endpoint: 'GET /rooms/plain' });
  });

  it('parses webhooks leniently: numeric states, Unix times, a data envelope', async () => {
    const hook = { uuid: 'u1', url: 'https://relay/webhooks/daily', state: 0, createdAt: 1700000000, extra: 'x' };
    const daily = await start(json(200, { data: [hook] }));
    const [parsed] = await daily.listWebhooks();
    expect(parsed).toMatchObject({ uuid: 'u1', state: 'FAILED', createdAt: 1700000000, extra: 'x' });
  });

  it('does not close a dispatcher it was given', async () => {
    server = await serve(json(200, { ok: true }));
    const pool = new Pool(new URL(server.baseUrl).origin);
    const daily = new DailyClient({ apiKey: 'test-key', baseUrl: server.baseUrl, dispatcher: pool });
    await daily.close();
    await expect(daily.sipRefer('r', transfer)).resolves.toBeUndefined();
    await pool.close();
  });

  it('rejects an unusable configuration without echoing the key', () => {
    expect(() => new DailyClient({ apiKey: '' })).toThrow(TypeError);
    expect(() => new DailyClient({ apiKey: 'bad key\n' })).toThrow(/apiKey/);
    expect(() => new DailyClient({ apiKey: 'bad key\n' })).not.toThrow(/bad key/);
    expect(() => new DailyClient({ apiKey: 'k', baseUrl: 'ftp://x' })).toThrow(/http/);
    expect(() => new DailyClient({ apiKey: 'k', requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs/);
  });
});
