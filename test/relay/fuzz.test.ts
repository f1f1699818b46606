/**
 * Thousands of hostile or broken deliveries over real HTTP: random bytes, truncated and oversized bodies, envelopes
 * with fields of the wrong type, bad or missing signatures, stale timestamps — mixed with real transfer events,
 * against a Temporal stand-in that sometimes has the transfer, sometimes not, and sometimes fails. The relay must
 * never answer 5xx or crash, must refuse exactly what it cannot verify, and must account for every verified
 * delivery: signaled, or dead-lettered with a reason.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { WorkflowNotFoundError } from '@temporalio/client';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { createRelay } from '../../src/relay/app';
import type { SignalClient } from '../../src/relay/app';
import { signWebhook } from '../../src/daily/signature';
import { createRelayMetrics } from '../../src/relay/metrics';
import { Spool } from '../../src/relay/spool';
import type { DailyEvent } from '../../src/shared';
import { TRANSFER_EVENT_TYPES } from '../../src/shared';
import { waitFor } from '../helpers/wait';
import { SECRET } from './deliveries';

const CASES = 3000;
const BODY_LIMIT = 8 * 1024;
const OTHER_SECRET = Buffer.from('not the relay secret').toString('base64');

type Signing = 'valid' | 'other-secret' | 'tampered' | 'no-signature' | 'no-timestamp' | 'stale' | 'garbage-timestamp';

interface Case {
  body: Buffer;
  signing: Signing;
}

const anyJson = fc.jsonValue({ maxDepth: 3 });
const room = fc.constantFrom('live-a', 'live-b', 'gone-a', 'gone-b');
const session = fc.constantFrom('s1', 's2', 's3');
const eventType = fc.oneof(
  fc.constantFrom(...TRANSFER_EVENT_TYPES),
  fc.constantFrom('participant.joined', 'x'),
  fc.string()
);

/** A well-formed Daily event; ids repeat now and then, as Daily's retries and duplicates do. */
const event = fc.record({
  version: fc.constant('1.0.0'),
  type: eventType,
  id: fc.oneof(fc.uuid(), fc.constantFrom('dup-1', 'dup-2')),
  payload: fc.record({ room, session_id: session, domain_id: fc.constant('domain-a'), timestamp: fc.nat() }),
  event_ts: fc.double({ min: 0, max: 2e9, noNaN: true }),
});

/** The same, with any field swapped for a value of any type, or dropped. */
const misTyped = fc
  .tuple(
    event,
    fc.constantFrom('type', 'id', 'payload', 'room', 'session_id', 'timestamp', 'event_ts'),
    fc.option(anyJson)
  )
  .map(([e, field, value]) => {
    const copy = JSON.parse(JSON.stringify(e)) as Record<string, Record<string, unknown>>;
    const target = field in copy ? (copy as Record<string, unknown>) : (copy.payload as Record<string, unknown>);
    if (value === null) delete target[field];
    else target[field] = value;
    return copy;
  });

const body: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: event.map((e) => Buffer.from(JSON.stringify(e))) },
  { weight: 3, arbitrary: misTyped.map((e) => Buffer.from(JSON.stringify(e))) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: anyJson.map((value) => Buffer.from(JSON.stringify(value) ?? 'null')) },
  {
    weight: 2,
    arbitrary: fc.tuple(event, fc.nat()).map(([e, cut]) => {
      const text = JSON.stringify(e);
      return Buffer.from(text.slice(0, cut % text.length));
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(event, fc.integer({ min: BODY_LIMIT, max: 4 * BODY_LIMIT }))
      .map(([e, size]) => Buffer.from(JSON.stringify({ ...e, padding: 'x'.repeat(size) }))),
  }
);

const signing = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Signing>('valid') },
  {
    weight: 4,
    arbitrary: fc.constantFrom<Signing>(
      'other-secret',
      'tampered',
      'no-signature',
      'no-timestamp',
      'stale',
      'garbage-timestamp'
    ),
  }
);

/** Daily's signature over the exact bytes (random bodies are not valid UTF-8). */
function signedBytes(bytes: Buffer, secret: string, timestamp: string): Record<string, string> {
  const signature = signWebhook(secret, timestamp, bytes);
  return { 'content-type': 'application/json', 'x-webhook-timestamp': timestamp, 'x-webhook-signature': signature };
}

function headersFor(c: Case): Record<string, string> {
  const now = String(Math.floor(Date.now() / 1000));
  const valid = signedBytes(c.body, SECRET, now);
  switch (c.signing) {
    case 'valid':
      return valid;
    case 'other-secret':
      return signedBytes(c.body, OTHER_SECRET, now);
    case 'tampered': {
      const signature = valid['x-webhook-signature'] ?? '';
      const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
      return { ...valid, 'x-webhook-signature': flipped };
    }
    case 'no-signature':
      return { 'x-webhook-timestamp': now };
    case 'no-timestamp':
      return { 'x-webhook-signature': valid['x-webhook-signature'] ?? '' };
    case 'stale':
      return signedBytes(c.body, SECRET, String(Math.floor(Date.now() / 1000) - 7200));
    case 'garbage-timestamp':
      return signedBytes(c.body, SECRET, 'yesterday');
  }
}

test(`${CASES} random deliveries: no 5xx, no crash, bounded state, every verified one signaled or dead-lettered`, async () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  const cases = fc.sample(fc.record({ body, signing }), { numRuns: CASES, seed });

  const sent: DailyEvent[] = [];
  let calls = 0;
  const temporal: SignalClient = {
    workflow: {
      getHandle: (workflowId) => ({
        signal: async (_def, ...events) => {
          calls += 1;
          // Now and then Temporal is away: the event must stay spooled and go later.
          if (calls % 7 === 0) throw new Error('14 UNAVAILABLE: fuzzed outage');
          if (!workflowId.startsWith('transfer:live-')) throw new WorkflowNotFoundError('gone', workflowId, undefined);
          sent.push(...events);
        },
      }),
    },
    withDeadline: (_deadline, fn) => fn(),
  };
  const spool = new Spool(':memory:');
  const metrics = createRelayMetrics();
  const app: FastifyInstance = createRelay({
    temporal,
    secrets: SECRET,
    isTemporalReady: async () => true,
    spool,
    metrics,
    bodyLimitBytes: BODY_LIMIT,
    retryBaseMs: 1,
    retryCapMs: 5,
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const heapBefore = retainedHeap();

  try {
    const outcomes = new Map<string, number>();
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    const unexpected: string[] = [];
    for (let i = 0; i < cases.length; i += 25) {
      await Promise.all(
        cases.slice(i, i + 25).map(async (c) => {
          const response = await fetch(`${url}/webhooks/daily`, {
            method: 'POST',
            body: c.body,
            headers: headersFor(c),
          });
          const answer = (await response.json()) as { outcome?: string; error?: string };
          const oversized = c.body.length > BODY_LIMIT;
          const verification = c.body.toString() === '{"test":"test"}';
          const expected = oversized ? 413 : c.signing === 'valid' || verification ? 200 : 401;
          if (response.status !== expected) {
            unexpected.push(`${c.signing} ${c.body.length} B → ${response.status} ${JSON.stringify(answer)}`);
          }
          count(response.status === 200 ? (answer.outcome ?? '?') : String(response.status));
        })
      );
    }
    expect({ seed, unexpected: unexpected.slice(0, 5) }).toEqual({ seed, unexpected: [] });

    await waitFor('the spool to drain', async () => {
      const pending = (await metrics.registry.getSingleMetric('switchboard_relay_spool_pending_events')?.get())
        ?.values[0]?.value;
      return pending === 0;
    });
    const dead = spool.deadLetters();
    const deadAtIntake = dead.filter((d) => d.reason !== 'no_running_transfer');
    const unrouted = dead.filter((d) => d.reason === 'no_running_transfer');
    // Every accepted event was signaled or proven to have no transfer; everything else verified was dead-lettered.
    expect({ seed, delivered: sent.length + unrouted.length }).toEqual({
      seed,
      delivered: outcomes.get('accepted') ?? 0,
    });
    expect(deadAtIntake).toHaveLength(outcomes.get('dead_lettered') ?? 0);
    const reasons = new Set(dead.map((d) => d.reason));
    expect(
      [...reasons].filter(
        (r) => !['malformed_json', 'invalid_event', 'ignored_type', 'no_running_transfer'].includes(r)
      )
    ).toEqual([]);
    expect(outcomes.get('accepted')).toBeGreaterThan(50);
    expect(outcomes.get('dead_lettered')).toBeGreaterThan(50);
    expect(outcomes.get('401')).toBeGreaterThan(50);
    expect(outcomes.get('413')).toBeGreaterThan(10);
    expect([...outcomes.keys()].filter((k) => /^5/.test(k))).toEqual([]);

    // Bounded: label sets do not grow with what senders put in `type`, and the heap did not balloon.
    const receivedLabels = (await metrics.received.get()).values.map((v) => v.labels.type);
    expect(receivedLabels.length).toBeLessThanOrEqual(TRANSFER_EVENT_TYPES.length + 4);
    expect(retainedHeap() - heapBefore).toBeLessThan(200 * 1024 * 1024);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  } finally {
    await app.close();
    spool.close();
  }
});

/**
 * The heap still in use after a full garbage collection: what the relay keeps, not garbage the collector has not got
 * to yet (that part varies by 100 MiB and more between runs on a busy machine).
 */
function retainedHeap(): number {
  v8.setFlagsFromString('--expose_gc');
  (vm.runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}
