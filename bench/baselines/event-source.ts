/**
 * Daily's side of the engine floor, in the bench process: the floor's transfer request lands here, and the same events
 * the sandbox would send follow on the same timeline — either signaled directly by a Temporal client (the engine
 * floor) or POSTed to the relay as signed Daily webhooks (the relay's cost, measured against the direct signal).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { Agent, request } from 'undici';
import { signWebhook } from '../../src/daily/signature';
import { WEBHOOK_PATH } from '../../src/relay/app';
import type { DailyEvent, TransferEventType } from '../../src/shared';
import { dailyEventSignal, transferWorkflowId } from '../../src/shared';

/**
 * The delays of the sandbox's answered transfer (its `timing` and the destination's `answer` scenario); `answerMs:
 * Infinity` is its `no-answer` scenario: `triggered`, then `initiated` + left + stopped, and nothing more.
 */
export interface Timeline {
  triggeredMs: number;
  initiatedMs: number;
  answerMs: number;
  hangUpMs: number;
}

/** Like the sandbox's `exponential` webhook mode: 5 attempts, 1 s · 2^n apart. */
const RELAY_ATTEMPTS = 5;

export type Delivery = { kind: 'direct'; client: Client } | { kind: 'relay'; url: string; secret: string };

interface Leg {
  room: string;
  sessionId: string;
  toEndPoint: string;
}

export class EventSource {
  readonly url: string;
  /** Events never answered with success (signal errors, or the relay refusing every retry): should be 0. */
  failures = 0;
  /** Relay deliveries answered other than 200 and sent again, as Daily does (the relay's 503 under overload). */
  retries = 0;
  private readonly sentAt = new Map<string, number>();
  private readonly requestedAt = new Map<string, number>();
  /** How long each event's handing-over took, as this sender saw it: the signal call, or the POST answered 200. */
  private readonly ack = new Map<string, number>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly agent = new Agent({ keepAliveTimeout: 10_000 });
  private seq = 0;

  private constructor(
    private readonly server: Server,
    private readonly timeline: Timeline,
    private delivery: Delivery
  ) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const arrivedAtMs = Date.now();
        const leg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Leg;
        if (!this.requestedAt.has(leg.sessionId)) this.requestedAt.set(leg.sessionId, arrivedAtMs);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        this.transferRequested(leg);
      });
    });
  }

  static async start(timeline: Timeline, delivery: Delivery): Promise<EventSource> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return new EventSource(server, timeline, delivery);
  }

  /** Events of transfers requested from now on go this way. */
  deliverVia(delivery: Delivery): void {
    this.delivery = delivery;
  }

  /** How long Temporal (the signal call) or the relay (its 200) took to acknowledge this event, ms. */
  ackMs(id: string): number | undefined {
    return this.ack.get(id);
  }

  /** When the event with this id was handed to the relay or to Temporal, epoch ms. */
  sentAtMs(id: string): number | undefined {
    return this.sentAt.get(id);
  }

  /** When the first transfer request for this caller leg arrived, epoch ms (the burst's "request sent"). */
  requestedAtMs(sessionId: string): number | undefined {
    return this.requestedAt.get(sessionId);
  }

  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  async close(): Promise<void> {
    await this.idle();
    this.server.close();
    await this.agent.close();
  }

  /** The sandbox's sequence for an answered transfer: triggered; initiated + the leg leaving; answered; completed. */
  private transferRequested(leg: Leg): void {
    const t = this.timeline;
    const at = (ms: number, types: TransferEventType[]) =>
      this.track(
        new Promise<void>((resolve) => setTimeout(resolve, ms)).then(async () => {
          await Promise.all(types.map((type) => this.send(leg, type)));
        })
      );
    at(t.triggeredMs, ['calltransfer.triggered']);
    at(t.triggeredMs + t.initiatedMs, ['calltransfer.initiated', 'participant.left', 'dialin.stopped']);
    if (!Number.isFinite(t.answerMs)) return; // nobody answers: the leg rings until the workflow's ring timeout
    at(t.triggeredMs + t.initiatedMs + t.answerMs, ['calltransfer.answered']);
    at(t.triggeredMs + t.initiatedMs + t.answerMs + t.hangUpMs, ['calltransfer.completed']);
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch(() => {
        this.failures += 1;
      })
      .finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  private async send(leg: Leg, type: TransferEventType): Promise<void> {
    this.seq += 1;
    const id = `${this.seq}-floor-${type.replace('.', '-')}-${leg.sessionId}`;
    const nowMs = Date.now();
    const transferFields = type.startsWith('calltransfer.') ? { toEndPoint: leg.toEndPoint } : {};
    this.sentAt.set(id, nowMs);
    if (this.delivery.kind === 'direct') {
      const event: DailyEvent = {
        id,
        type,
        room: leg.room,
        sessionId: leg.sessionId,
        occurredAtMs: nowMs,
        sentAtMs: nowMs,
        ...transferFields,
      };
      const sent = performance.now();
      await this.delivery.client.workflow
        .getHandle(transferWorkflowId(leg.room, leg.sessionId))
        .signal(dailyEventSignal, event);
      this.ack.set(id, performance.now() - sent);
      return;
    }
    // Daily's envelope and signature, as the sandbox sends them.
    const body = JSON.stringify({
      version: '1.0.0',
      type,
      id,
      payload: {
        room: leg.room,
        session_id: leg.sessionId,
        timestamp: String(Math.floor(nowMs / 1000)),
        ...(type.startsWith('calltransfer.') && { to_endpoint: leg.toEndPoint }),
      },
      event_ts: nowMs / 1000,
    });
    const { url, secret } = this.delivery;
    for (let attempt = 1; ; attempt += 1) {
      const timestamp = Math.floor(Date.now() / 1000).toString();
      const sent = performance.now();
      const res = await request(`${url}${WEBHOOK_PATH}`, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'x-webhook-timestamp': timestamp,
          'x-webhook-signature': signWebhook(secret, timestamp, body),
        },
        body,
      });
      await res.body.dump();
      if (res.statusCode === 200) {
        this.ack.set(id, performance.now() - sent);
        return;
      }
      if (attempt === RELAY_ATTEMPTS) throw new Error(`relay answered ${res.statusCode}`);
      this.retries += 1;
      await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** (attempt - 1)));
    }
  }
}
