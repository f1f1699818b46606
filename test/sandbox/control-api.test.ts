import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { SandboxControl, SandboxControlError } from '../../src/sandbox';
import type { Sandbox } from '../../src/sandbox';
import { startReceiver, startTestSandbox, waitFor } from './helpers';
import type { Receiver } from './helpers';

async function control(
  sandbox: Sandbox,
  method: string,
  route: string,
  body?: unknown
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${sandbox.url}/_sandbox${route}`, {
    method,
    ...(body !== undefined && { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('sandbox HTTP control API', () => {
  let sandbox: Sandbox;
  let client: SandboxControl;
  let receiver: Receiver;

  beforeAll(async () => {
    sandbox = await startTestSandbox({ apiKey: 'control-key' });
    client = new SandboxControl(sandbox.url);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await client.close();
    await sandbox.close();
    await receiver.close();
  });
  beforeEach(() => sandbox.reset());

  it('drives a whole transfer from another "process": rooms, callers, scenarios, model, events, deliveries', async () => {
    const info = await client.info();
    expect(info).toEqual({
      url: sandbox.url,
      apiBase: `${sandbox.url}/v1`,
      apiKey: 'control-key',
      domainId: expect.any(String),
    });
    expect(client.apiBase).toBe(sandbox.apiBase);

    const webhook = await fetch(`${info.apiBase}/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiver.url, eventTypes: ['calltransfer.answered'] }),
    });
    expect(webhook.status).toBe(200);

    expect(await client.createRoom('ctl')).toEqual({ name: 'ctl', sipUri: 'sip:ctl@sandbox.sip.daily.co' });
    const { sessionId } = await client.addCaller('ctl', {
      kind: 'dialin',
      transport: 'sip',
      from: 'sip:bob@example.com',
    });
    await client.setScenario('+15551230000', { kind: 'answer', afterMs: 5 });
    await client.setModel({ okAsString: true });
    await client.setWebhookFaults({ duplicate: 1 });

    const res = await fetch(`${info.apiBase}/rooms/ctl/sipCallTransfer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${info.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sessionId, toEndPoint: '+15551230000' }),
    });
    expect(await res.json()).toEqual({ ok: 'true' });
    await client.idle();

    expect((await client.emittedEvents()).map((e) => e.type)).toContain('calltransfer.answered');
    const deliveries = await client.deliveries();
    expect(deliveries.map((d) => [d.type, d.status])).toEqual([
      ['calltransfer.answered', 200],
      ['calltransfer.answered', 200],
    ]);
    expect(await client.participant('ctl', sessionId)).toEqual({ state: 'transferred', room: 'ctl' });
    expect(await client.participant('ctl', 'nobody')).toBeUndefined();
    expect(await client.requests({ path: 'sipCallTransfer', room: 'ctl' })).toEqual([
      expect.objectContaining({ status: 200, body: { sessionId, toEndPoint: '+15551230000' } }),
    ]);
    expect((await client.webhooks()).map((w) => w.state)).toEqual(['ACTIVE']);

    await client.reset();
    expect(await client.emittedEvents()).toEqual([]);
    expect(await client.requests()).toEqual([]);
    expect(await client.participant('ctl', sessionId)).toBeUndefined();
    expect(await client.webhooks()).toHaveLength(1); // reset keeps webhooks
    sandbox.setModel({ okAsString: false });
    await fetch(`${info.apiBase}/webhooks/${(await client.webhooks())[0]?.uuid}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${info.apiKey}` },
    });
  });

  it('queues faults over HTTP', async () => {
    await client.createRoom('ctl');
    const { sessionId } = await client.addCaller('ctl');
    await client.queueFault({ path: 'sipCallTransfer' }, { kind: 'rate-limit', retryAfterSec: 3 }, 2);
    for (let i = 0; i < 2; i += 1) {
      const res = await fetch(`${sandbox.apiBase}/rooms/ctl/sipCallTransfer`, {
        method: 'POST',
        headers: { authorization: 'Bearer control-key', 'content-type': 'application/json' },
        body: JSON.stringify({ sessionId, toEndPoint: '+15551230000' }),
      });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('3');
    }
    expect((await client.requests({ path: 'sipCallTransfer' })).map((r) => r.faulted)).toEqual([
      'rate-limit',
      'rate-limit',
    ]);
  });

  it.each([
    ['PUT', '/scenarios', 'scenario.afterMs', { toEndPoint: '+15551230000', scenario: { kind: 'answer' } }],
    ['PUT', '/scenarios', 'scenario', { toEndPoint: '+15551230000', scenario: { kind: 'answer', afterMS: 5 } }],
    ['PUT', '/scenarios', 'scenario.kind', { toEndPoint: '+15551230000', scenario: { kind: 'voicemail' } }],
    ['POST', '/faults', 'match.path', { match: { path: 'dialOut' }, fault: { kind: 'server-error' } }],
    ['POST', '/faults', 'fault.status', { match: { path: 'sipRefer' }, fault: { kind: 'server-error', status: 404 } }],
    ['POST', '/faults', 'fault.ms', { match: { path: 'sipRefer' }, fault: { kind: 'latency' } }],
    ['PUT', '/model', 'failedTransferLeg', { failedTransferLeg: 'vanished' }],
    ['PUT', '/model', 'ringingLegTransfer', { ringingLegTransfer: 'queue' }],
    ['PUT', '/model', 'ejectOutsideRoom', { ejectOutsideRoom: 'sometimes' }],
    ['PUT', '/model', 'presenceLagMs', { presenceLagMs: -1 }],
    ['PUT', '/webhook-faults', 'duplicate', { duplicate: -1 }],
    ['POST', '/rooms', 'name', { name: 'has space' }],
    ['POST', '/rooms', 'maxSipPstnSessions', { name: 'r', maxSipPstnSessions: 0 }],
    [
      'PUT',
      '/scenarios',
      'scenario.errorMsg',
      { toEndPoint: '+15551230000', scenario: { kind: 'error', errorMsg: 1 } },
    ],
  ])('%s %s with a bad body: 400 naming %s', async (method, route, field, body) => {
    const res = await control(sandbox, method, route, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid-control-request');
    expect(String(res.body.info)).toContain(field);
  });

  it('404 for a caller in an unknown room, 409 for a duplicate session id, typed errors in the client', async () => {
    expect((await control(sandbox, 'POST', '/rooms/ghost/callers', {})).status).toBe(404);
    await client.createRoom('ctl');
    await client.addCaller('ctl', { sessionId: 'fixed' });
    const duplicate = client.addCaller('ctl', { sessionId: 'fixed' });
    await expect(duplicate).rejects.toBeInstanceOf(SandboxControlError);
    await expect(client.addCaller('ctl', { sessionId: 'fixed' })).rejects.toMatchObject({ status: 409 });
  });

  it('`npm run sandbox` entry point: banner, webhook set up from env, clean exit on SIGTERM', async () => {
    const secret = randomBytes(32).toString('base64');
    const child = spawn(
      process.execPath,
      [require.resolve('tsx/cli'), path.join(__dirname, '../../src/sandbox/main.ts')],
      {
        env: { ...process.env, SANDBOX_PORT: '0', SANDBOX_WEBHOOK_URL: receiver.url, SANDBOX_WEBHOOK_SECRET: secret },
        stdio: ['ignore', 'pipe', 'pipe'],
      }
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => /webhook \S+ ->/.test(output), `the webhook to be set up (output so far: ${output})`, 30_000);
      const apiBase = /API base\s+(\S+)/.exec(output)?.[1];
      expect(apiBase).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(output).toContain('API key    sandbox-key');
      const remote = new SandboxControl(String(apiBase).replace(/\/v1$/, ''));
      try {
        expect(await remote.webhooks()).toEqual([
          expect.objectContaining({ url: receiver.url, hmac: secret, retryType: 'exponential', state: 'ACTIVE' }),
        ]);
      } finally {
        await remote.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
