import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import pino from 'pino';
import { freePort } from '../../src/local/dev-server';
import type { RelayConfig } from '../../src/relay/config';
import type { RunningRelay } from '../../src/relay/server';
import { startRelay } from '../../src/relay/server';
import { transferWorkflowId } from '../../src/shared';
import { startTestTemporal } from '../helpers/temporal';
import { waitFor } from '../helpers/wait';
import { post, SECRET, signed, transferEvent } from './deliveries';
import { receivedQuery, recordDailyEvents } from './fixtures/recorder';

const taskQueue = 'relay-test';
const silent = pino({ level: 'silent' });
const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-relay-temporal-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function relayConfig(address: string): RelayConfig {
  return {
    temporal: { address, namespace: 'default' },
    port: 0,
    host: '127.0.0.1',
    secrets: SECRET,
    watchdogIntervalSec: 60,
    spoolPath: path.join(dataDir, `${randomUUID()}.sqlite`),
  };
}

async function metric(url: string, line: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

describe('relay → real Temporal', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let workerRun: Promise<void>;
  let relay: RunningRelay;

  beforeAll(async () => {
    env = await startTestTemporal();
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: require.resolve('./fixtures/recorder'),
    });
    workerRun = worker.run();
    relay = await startRelay(relayConfig(env.address), { logger: silent });
  });

  afterAll(async () => {
    await relay?.close();
    worker?.shutdown();
    await workerRun;
    await env?.teardown();
  });

  const startRecorder = (room: string, sessionId: string, stopAfter?: number) =>
    env.client.workflow.start(recordDailyEvents, {
      taskQueue,
      workflowId: transferWorkflowId(room, sessionId),
      args: stopAfter === undefined ? [] : [stopAfter],
    });

  test('/readyz is 200 while Temporal answers', async () => {
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(200);
  });

  test('the workflow of the leg receives exactly the normalised events', async () => {
    const sessionId = randomUUID();
    const handle = await startRecorder('front-desk', sessionId);
    const leg = { room: 'front-desk', session_id: sessionId, to_endpoint: '+15551230000' };
    const events = [
      transferEvent('calltransfer.triggered', { ...leg, is_sip_refer: false }),
      transferEvent('calltransfer.initiated', { ...leg, timestamp: 1770005096, is_sip_refer: false }),
      transferEvent('calltransfer.answered', leg),
      transferEvent('calltransfer.completed', { ...leg, completeStatus: 'completed' }),
      transferEvent('participant.left', { room: 'front-desk', session_id: sessionId, duration: 61.5 }),
    ];
    for (const event of events) {
      expect(await post(relay.url, signed(event))).toEqual({ status: 200, body: { ok: true, outcome: 'accepted' } });
    }
    const base = { room: 'front-desk', sessionId, sentAtMs: 1770005095250, domainId: 'domain-a' };
    const received = await waitFor('all five signals', async () => {
      const got = await handle.query(receivedQuery);
      return got.length === events.length && got;
    });
    expect(received).toEqual([
      {
        ...base,
        id: events[0]?.id,
        type: 'calltransfer.triggered',
        occurredAtMs: 1770005095000,
        toEndPoint: '+15551230000',
        isSipRefer: false,
      },
      {
        ...base,
        id: events[1]?.id,
        type: 'calltransfer.initiated',
        occurredAtMs: 1770005096000,
        toEndPoint: '+15551230000',
        isSipRefer: false,
      },
      {
        ...base,
        id: events[2]?.id,
        type: 'calltransfer.answered',
        occurredAtMs: 1770005095000,
        toEndPoint: '+15551230000',
      },
      {
        ...base,
        id: events[3]?.id,
        type: 'calltransfer.completed',
        occurredAtMs: 1770005095000,
        toEndPoint: '+15551230000',
        completeStatus: 'completed',
      },
      { ...base, id: events[4]?.id, type: 'participant.left', occurredAtMs: 1770005095000, durationSec: 61.5 },
    ]);
  });

  test('a burst of duplicate deliveries is answered 200 every time and signaled once', async () => {
    const sessionId = randomUUID();
    const handle = await startRecorder('burst', sessionId);
    const before = await metric(relay.url, 'switchboard_relay_webhooks_signaled_total{type="calltransfer.answered"}');
    const event = transferEvent('calltransfer.answered', { room: 'burst', session_id: sessionId });
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(relay.url, signed(event))));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(answers.filter((a) => (a.body as { outcome: string }).outcome === 'accepted')).toHaveLength(1);
    await waitFor(
      'the signal',
      async () =>
        (await metric(relay.url, 'switchboard_relay_webhooks_signaled_total{type="calltransfer.answered"}')) ===
        before + 1
    );
    const received = await handle.query(receivedQuery);
    expect(received.map((e) => e.id)).toEqual([event.id]);
  });

  test('events for a leg without a running transfer (never started, or closed) are dead-lettered and counted', async () => {
    const unmatched = 'switchboard_relay_webhooks_unmatched_total{reason="no_running_transfer"}';
    const before = await metric(relay.url, unmatched);
    const stray = transferEvent('calltransfer.initiated', { room: 'nobody', session_id: randomUUID() });
    expect(await post(relay.url, signed(stray))).toEqual({ status: 200, body: { ok: true, outcome: 'accepted' } });

    const sessionId = randomUUID();
    const handle = await startRecorder('short', sessionId, 1);
    const leg = { room: 'short', session_id: sessionId };
    expect((await post(relay.url, signed(transferEvent('calltransfer.triggered', leg)))).status).toBe(200);
    await handle.result();
    const late = await post(relay.url, signed(transferEvent('calltransfer.answered', leg)));
    expect(late).toEqual({ status: 200, body: { ok: true, outcome: 'accepted' } });

    await waitFor('both dead-lettered', async () => (await metric(relay.url, unmatched)) === before + 2);
    expect(await metric(relay.url, 'switchboard_relay_dead_letters{reason="no_running_transfer"}')).toBe(before + 2);
  });
});

describe('relay with Temporal unreachable', () => {
  let relay: RunningRelay;
  beforeAll(async () => {
    // A port nothing listens on: the relay starts anyway (lazy connection) and reports it.
    relay = await startRelay(relayConfig(`127.0.0.1:${await freePort()}`), { logger: silent });
  });
  afterAll(() => relay?.close());

  test('answers 200 (the event is spooled), keeps retrying, and /readyz is 503', async () => {
    const event = transferEvent('calltransfer.initiated', { room: 'r', session_id: randomUUID() });
    const answer = await post(relay.url, signed(event));
    expect(answer).toEqual({ status: 200, body: { ok: true, outcome: 'accepted' } });
    await waitFor('a retry', async () => (await metric(relay.url, 'switchboard_relay_signal_retries_total')) >= 1);
    expect(await metric(relay.url, 'switchboard_relay_spool_pending_events')).toBe(1);
    expect((await fetch(`${relay.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
  });
});
