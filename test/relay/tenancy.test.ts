/**
 * Two Daily domains (two sandboxes, each its own domain id, webhook and secret) on one relay, over real HTTP: each
 * domain's events are verified with its own secret and filed under it; the same caller leg ids in both domains do not
 * make one domain's events duplicates of the other's; and an event one domain signs while claiming the other's
 * `domain_id` never reaches a transfer. (Both domains' events for the same room and session still go to the same
 * workflow id, `transfer:<room>:<session>`: keeping those apart needs the domain in the transfer's identity.)
 */
import type { FastifyInstance } from 'fastify';
import { DailyClient } from '../../src/daily';
import { createRelay, WEBHOOK_PATH } from '../../src/relay/app';
import type { SignalClient } from '../../src/relay/app';
import { Spool } from '../../src/relay/spool';
import { setupWebhook } from '../../src/relay/webhook-setup';
import type { Sandbox } from '../../src/sandbox';
import { startSandbox } from '../../src/sandbox';
import type { DailyEvent } from '../../src/shared';
import { TRANSFER_EVENT_TYPES } from '../../src/shared';
import { waitFor } from '../helpers/wait';
import { post, signed, transferEvent } from './deliveries';

const secrets = {
  'domain-a': Buffer.from('domain a webhook secret').toString('base64'),
  'domain-b': Buffer.from('domain b webhook secret').toString('base64'),
};

interface Domain {
  sandbox: Sandbox;
  daily: DailyClient;
}

let relay: FastifyInstance;
let relayUrl: string;
let spool: Spool;
const signaled: DailyEvent[] = [];
const domains: Domain[] = [];

beforeAll(async () => {
  spool = new Spool(':memory:');
  const temporal: SignalClient = {
    workflow: { getHandle: () => ({ signal: async (_def, ...events) => void signaled.push(...events) }) },
    withDeadline: (_deadline, fn) => fn(),
  };
  relay = createRelay({ temporal, secrets, isTemporalReady: async () => true, spool });
  relayUrl = await relay.listen({ port: 0, host: '127.0.0.1' });
  for (const domainId of Object.keys(secrets) as Array<keyof typeof secrets>) {
    const sandbox = await startSandbox({
      port: 0,
      domainId,
      timing: { triggeredMs: 10, initiatedMs: 20 },
      defaultScenario: { kind: 'answer', afterMs: 30, hangUpAfterMs: 60 },
    });
    const daily = new DailyClient({ apiKey: sandbox.apiKey, baseUrl: sandbox.apiBase });
    await setupWebhook({ daily, url: `${relayUrl}${WEBHOOK_PATH}`, hmac: secrets[domainId] });
    domains.push({ sandbox, daily });
  }
});

afterAll(async () => {
  for (const { sandbox, daily } of domains) {
    await daily.close();
    await sandbox.close();
  }
  await relay?.close();
  spool?.close();
});

test("each domain's events are verified with its own secret; none is lost when both use the same room and session ids", async () => {
  // The same room name and caller session id in both domains: only the domain tells the two legs apart.
  for (const { sandbox, daily } of domains) {
    sandbox.createRoom('lobby');
    sandbox.addCaller('lobby', { sessionId: 'same-session' });
    await daily.sipCallTransfer('lobby', { sessionId: 'same-session', toEndPoint: 'sip:agent@example.com' });
  }
  for (const { sandbox } of domains) {
    await waitFor('the transfer to end', () =>
      sandbox.emittedEvents().some((e) => e.type === 'calltransfer.completed')
    );
    await sandbox.idle();
    expect(sandbox.deliveries().filter((d) => d.status !== 200)).toEqual([]);
  }
  const transferEvents = domains.flatMap(({ sandbox }) =>
    sandbox.emittedEvents().filter((e) => (TRANSFER_EVENT_TYPES as readonly string[]).includes(e.type))
  );
  // Neither domain's events are lost or taken for the other's (the sandboxes number their events alike).
  await waitFor('every event of both domains', () => signaled.length >= transferEvents.length);
  expect(signaled.map((e) => e.id).sort()).toEqual(transferEvents.map((e) => e.id).sort());
  expect(spool.deadLetters()).toEqual([]);
});

test('the same event id from two domains is two events: dedupe is per domain', async () => {
  const before = signaled.length;
  const event = (domainId: string) =>
    transferEvent(
      'calltransfer.triggered',
      { room: 'lobby', session_id: 'same-session', domain_id: domainId },
      {
        id: '1-call-transfer-trigger-same-session1770005095',
      }
    );
  const fromA = await post(relayUrl, signed(event('domain-a'), { secret: secrets['domain-a'] }));
  const fromB = await post(relayUrl, signed(event('domain-b'), { secret: secrets['domain-b'] }));
  const againB = await post(relayUrl, signed(event('domain-b'), { secret: secrets['domain-b'] }));
  expect([fromA.body, fromB.body, againB.body]).toEqual([
    { ok: true, outcome: 'accepted' },
    { ok: true, outcome: 'accepted' },
    { ok: true, outcome: 'duplicate' },
  ]);
  await waitFor('both signals', () => signaled.length === before + 2);
});

test("an event signed by one domain that claims the other's domain_id is dead-lettered, never signaled", async () => {
  const before = signaled.length;
  const forged = transferEvent('calltransfer.answered', {
    room: 'lobby',
    session_id: 'same-session',
    domain_id: 'domain-b',
  });
  // Signed with domain A's secret: the relay checks a body naming domain B against B's secret only.
  expect((await post(relayUrl, signed(forged, { secret: secrets['domain-a'] }))).status).toBe(401);
  // A body naming a domain the relay does not know is checked against every secret, and attributed to the signer.
  const unknown = transferEvent('calltransfer.answered', { room: 'lobby', session_id: 'same-session', domain_id: 'z' });
  expect(await post(relayUrl, signed(unknown, { secret: secrets['domain-a'] }))).toEqual({
    status: 200,
    body: { ok: true, outcome: 'dead_lettered' },
  });
  expect(spool.deadLetters()).toEqual([
    expect.objectContaining({ eventId: unknown.id, domainId: 'domain-a', reason: 'domain_mismatch' }),
  ]);
  expect(signaled.length).toBe(before);
});
