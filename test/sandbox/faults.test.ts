import type { Sandbox } from '../../src/sandbox';
import { api, startTestSandbox, transfer, types, waitFor } from './helpers';

const PSTN = '+15551230000';

describe('sandbox REST faults', () => {
  let sandbox: Sandbox;
  let sessionId: string;

  beforeAll(async () => {
    sandbox = await startTestSandbox();
  });
  afterAll(() => sandbox.close());
  beforeEach(() => {
    sandbox.reset();
    sandbox.createRoom('f');
    sessionId = sandbox.addCaller('f').sessionId;
    sandbox.setScenario(PSTN, { kind: 'no-answer' });
  });

  it('server-error: a 5xx, the transfer does not take effect, and the fault is used up', async () => {
    sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'server-error' });
    const failed = await transfer(sandbox, 'f', { sessionId, toEndPoint: PSTN });
    expect(failed.status).toBe(500);
    expect(failed.body.error).toBe('server-error');
    await sandbox.idle();
    expect(types(sandbox)).not.toContain('calltransfer.triggered');
    expect(sandbox.participant('f', sessionId)?.state).toBe('in-room');

    const ok = await transfer(sandbox, 'f', { sessionId, toEndPoint: PSTN });
    expect(ok.status).toBe(200);
    expect(sandbox.requests({ path: 'sipCallTransfer' }).map((r) => [r.status, r.faulted])).toEqual([
      [500, 'server-error'],
      [200, undefined],
    ]);
  });

  it('server-error with a status, queued several times, consumed in order and only by the matching endpoint', async () => {
    sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'server-error', status: 503 }, 2);
    sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'server-error', status: 502 });
    expect((await api(sandbox, 'GET', '/rooms/f/presence')).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1)
      statuses.push((await transfer(sandbox, 'f', { sessionId, toEndPoint: PSTN })).status);
    expect(statuses).toEqual([503, 503, 502, 200]);
  });

  it('a fault for one destination waits for a request naming it; the others pass', async () => {
    const other = '+15551239999';
    sandbox.setScenario(other, { kind: 'no-answer' });
    sandbox.queueFault({ path: 'sipCallTransfer', toEndPoint: PSTN }, { kind: 'server-error', status: 503 });
    const second = sandbox.addCaller('f').sessionId;
    expect((await transfer(sandbox, 'f', { sessionId: second, toEndPoint: other })).status).toBe(200);
    expect((await transfer(sandbox, 'f', { sessionId, toEndPoint: PSTN })).status).toBe(503);
    expect((await transfer(sandbox, 'f', { sessionId, toEndPoint: PSTN })).status).toBe(200);
  });

  it('rate-limit: 429 rate-limit-error with Retry-After when given, without it otherwise; no effect', async () => {
    sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit', retryAfterSec: 7 });
    sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit' });
    const first = await transfer(sandbox, 'f', { sessionId, toEndPoint: PSTN });
    expect(first.status).toBe(429);
    expect(first.body.error).toBe('rate-limit-error');
    expect(first.headers.get('retry-after')).toBe('7');
    const second = await transfer(sandbox, 'f', { sessionId, toEndPoint: PSTN });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBeNull();
    await sandbox.idle();
    expect(types(sandbox)).not.toContain('calltransfer.triggered');
    expect(sandbox.participant('f', sessionId)?.state).toBe('in-room');
  });

  it('lost-response: the socket is destroyed without an answer, yet the transfer took effect', async () => {
    sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
    await expect(transfer(sandbox, 'f', { sessionId, toEndPoint: PSTN })).rejects.toThrow(/fetch failed/);
    await waitFor(() => types(sandbox).includes('calltransfer.initiated'), 'the lost request to take effect');
    expect(sandbox.participant('f', sessionId)?.state).toBe('ringing');
    expect(sandbox.requests({ path: 'sipCallTransfer' })).toEqual([
      expect.objectContaining({ status: 200, faulted: 'lost-response', body: { sessionId, toEndPoint: PSTN } }),
    ]);
  });

  it('latency: the response comes late but the request still takes effect', async () => {
    sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'latency', ms: 100 });
    const res = await transfer(sandbox, 'f', { sessionId, toEndPoint: PSTN });
    expect(res.status).toBe(200);
    await sandbox.idle();
    expect(types(sandbox)).toContain('calltransfer.initiated');
    expect(sandbox.requests({ path: 'sipCallTransfer' })[0]?.faulted).toBe('latency');
  });

  it('call-closed: 400 "Call closed before command could be delivered", no effect', async () => {
    sandbox.queueFault({ path: 'sipRefer' }, { kind: 'call-closed' });
    const res = await transfer(sandbox, 'f', { sessionId, toEndPoint: 'sip:pbx@example.com' }, 'sipRefer');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid-request-error', info: 'Call closed before command could be delivered' });
    await sandbox.idle();
    expect(types(sandbox)).not.toContain('calltransfer.triggered');
  });

  it('faults apply to the other endpoints too (presence, room, webhooks)', async () => {
    sandbox.queueFault({ path: 'presence' }, { kind: 'server-error', status: 504 });
    sandbox.queueFault({ path: 'room' }, { kind: 'rate-limit', retryAfterSec: 1 });
    sandbox.queueFault({ path: 'webhooks' }, { kind: 'server-error' });
    expect((await api(sandbox, 'GET', '/rooms/f/presence')).status).toBe(504);
    expect((await api(sandbox, 'GET', '/rooms/f')).status).toBe(429);
    expect((await api(sandbox, 'GET', '/webhooks')).status).toBe(500);
    expect((await api(sandbox, 'GET', '/webhooks')).status).toBe(200);
  });
});
