/**
 * The "no durability" baseline: the transfer as an app without Temporal would run it — one process holding each
 * transfer in a Map, calling Daily's REST API (the sandbox) with the same client, and receiving Daily's webhooks itself
 * (signature checked, payload parsed and events decided by the very functions Switchboard uses). A crash forgets every
 * transfer in flight; that is exactly what the bench prices.
 *
 * It covers the bench's scenario (one destination, answered or not): fallbacks and reconciling unknown request
 * outcomes are what durability is for, and are left out. Its own process, started by `npm run bench`.
 * Env: PORT, DAILY_API_URL, DAILY_API_KEY, DAILY_WEBHOOK_SECRET.
 *
 * HTTP: `POST /transfers` (a `transferCall` input) → 202 `{id}`; `GET /transfers/:id/result` waits for the end;
 * `POST /webhooks/daily`; `GET /healthz`.
 */
import Fastify from 'fastify';
import { DailyClient } from '../../src/daily';
import { parseTransferInput } from '../../src/input';
import { WEBHOOK_PATH } from '../../src/relay/app';
import { parseDailyWebhook } from '../../src/relay/daily-event';
import { createWebhookAuthenticator } from '../../src/relay/webhook-auth';
import type { EventRecord, TransferInput, TransferState } from '../../src/shared';
import { transferWorkflowId } from '../../src/shared';
import { EventInbox, record } from '../../src/workflows/v1/event-inbox';
import { applyEvent, decideFromEvents } from '../../src/workflows/v1/outcome';
import type { AttemptProgress } from '../../src/workflows/v1/outcome';

export interface InMemoryResult {
  state: TransferState;
  outcome?: string;
  events: EventRecord[];
}

interface Transfer {
  input: TransferInput;
  inbox: EventInbox;
  progress: AttemptProgress;
  result: InMemoryResult;
  timer?: NodeJS.Timeout;
  finished: boolean;
  done: Promise<void>;
  finish(state: TransferState): void;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function main(): Promise<void> {
  const daily = new DailyClient({ apiKey: required('DAILY_API_KEY'), baseUrl: required('DAILY_API_URL') });
  const authenticate = createWebhookAuthenticator(required('DAILY_WEBHOOK_SECRET'), 300);
  const transfers = new Map<string, Transfer>();

  const newTransfer = (input: TransferInput): Transfer => {
    let resolve = () => undefined as void;
    const transfer: Transfer = {
      input,
      inbox: new EventInbox(input.sessionId),
      progress: { method: input.attempts[0]?.method ?? 'sipCallTransfer' },
      result: { state: 'requested', events: [] },
      finished: false,
      done: new Promise<void>((r) => (resolve = r)),
      finish(state) {
        if (transfer.finished) return;
        transfer.finished = true;
        clearTimeout(transfer.timer);
        transfer.result.state = state;
        resolve();
      },
    };
    return transfer;
  };

  /** The answer timeout, then (once answered) how long the call is followed for its `completed`. */
  const waitFor = (transfer: Transfer, seconds: number, onTimeout: () => void) => {
    clearTimeout(transfer.timer);
    transfer.timer = setTimeout(onTimeout, seconds * 1000);
  };

  const absorb = (transfer: Transfer) => {
    const { progress, result } = transfer;
    for (const { event, receivedAtMs } of transfer.inbox.take()) {
      const acted = applyEvent(progress, event);
      result.events.push(record(event, receivedAtMs, acted));
      if (acted && event.type === 'calltransfer.triggered' && result.state === 'requested') result.state = 'triggered';
      if (acted && event.type === 'calltransfer.initiated') result.state = 'initiated';
    }
    if (progress.outcome === undefined) {
      const verdict = decideFromEvents(progress);
      if (!verdict) return;
      progress.outcome = verdict.outcome;
      result.outcome = verdict.outcome;
      if (verdict.outcome !== 'answered') return transfer.finish('failed');
      result.state = 'answered';
      waitFor(transfer, transfer.input.maxCallDurationSec, () => transfer.finish('completed'));
    }
    if (progress.completed) transfer.finish('completed');
  };

  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.post('/transfers', async (req, reply) => {
    const input = parseTransferInput(JSON.parse((req.body as Buffer).toString('utf8')));
    const attempt = input.attempts[0];
    if (!attempt) return reply.code(400).send({ error: 'no destination' });
    const id = transferWorkflowId(input.room, input.sessionId);
    const transfer = newTransfer(input);
    transfers.set(id, transfer);
    reply.code(202).send({ id });
    try {
      await daily.sipCallTransfer(input.room, { sessionId: input.sessionId, toEndPoint: attempt.toEndPoint });
      // Its events may already have decided it while the response was on its way.
      if (transfer.progress.outcome === undefined) {
        waitFor(transfer, attempt.answerTimeoutSec, () => {
          transfer.result.outcome = 'no-answer';
          transfer.finish('failed');
        });
      }
    } catch {
      transfer.result.outcome = 'api-error';
      transfer.finish('failed');
    }
    return reply;
  });

  app.get<{ Params: { id: string } }>('/transfers/:id/result', async (req, reply) => {
    const transfer = transfers.get(req.params.id);
    if (!transfer) return reply.code(404).send({ error: 'no such transfer' });
    await transfer.done;
    return transfer.result;
  });

  app.post(WEBHOOK_PATH, async (req, reply) => {
    const rawBody = req.body as Buffer;
    const body: unknown = JSON.parse(rawBody.toString('utf8'));
    // Daily's unsigned `{"test":"test"}` when the webhook is created.
    if (JSON.stringify(body) === '{"test":"test"}') return { ok: true };
    const header = (name: string) => {
      const value = req.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    const auth = authenticate({
      rawBody,
      signature: header('x-webhook-signature'),
      timestamp: header('x-webhook-timestamp'),
      domainId: undefined,
    });
    if (!auth.ok) return reply.code(401).send({ error: auth.reason });
    const parsed = parseDailyWebhook(body);
    if (parsed.kind === 'invalid') return reply.code(400).send({ error: parsed.message });
    if (parsed.kind === 'transfer') {
      const transfer = transfers.get(transferWorkflowId(parsed.event.room, parsed.event.sessionId));
      if (transfer && !transfer.finished) {
        transfer.inbox.receive(parsed.event, Date.now());
        absorb(transfer);
      }
    }
    return { ok: true };
  });

  app.get('/healthz', async () => ({ ok: true }));

  await app.listen({ port: Number(required('PORT')), host: '127.0.0.1' });
  const shutdown = () => {
    void app.close().then(() => daily.close());
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
