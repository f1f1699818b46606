/**
 * What the workflow integration tests share: a transfer request with the tests' defaults, running one to its result,
 * the transfer requests the sandbox received, and a webhook signed and posted to the relay as Daily would.
 */
import { signWebhook } from '../../src/daily/signature';
import type { TransferAttempt, TransferRequest } from '../../src';
import type { TestStack } from './stack';

export type Call = ReturnType<TestStack['newCall']>;
export type Destination = Partial<TransferAttempt> & Pick<TransferAttempt, 'toEndPoint'>;

/** sipCallTransfer with a 5 s ring budget per destination, no fallback, a 1 s reconcile window; `extra` overrides. */
export function transferRequest(
  call: Call,
  destinations: Destination[],
  extra: Partial<TransferRequest> = {}
): TransferRequest {
  return {
    room: call.room,
    sessionId: call.sessionId,
    attempts: destinations.map((d) => ({ method: 'sipCallTransfer', answerTimeoutSec: 5, ...d })),
    onExhausted: { action: 'none' },
    reconcileWindowSec: 1,
    ...extra,
  } as TransferRequest;
}

/** Helpers bound to the stack a test file has now (`describe.each` starts one per sandbox model). */
export function transferHelpers(current: () => TestStack) {
  return {
    async transfer(call: Call, destinations: Destination[], extra: Partial<TransferRequest> = {}) {
      const started = await current().transfers.start(transferRequest(call, destinations, extra));
      return started.handle.result();
    },
    transferRequests: (call: Call, path: 'sipCallTransfer' | 'sipRefer' = 'sipCallTransfer') =>
      current().sandbox.requests({ path, room: call.room }),
    /** Signs `event` with the stack's webhook secret and posts it to the relay; the relay must answer 200. */
    async postWebhook(event: object): Promise<void> {
      const { relayUrl, webhookSecret } = current();
      const body = JSON.stringify(event);
      const timestamp = String(Math.floor(Date.now() / 1000));
      const response = await fetch(`${relayUrl}/webhooks/daily`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-webhook-timestamp': timestamp,
          'x-webhook-signature': signWebhook(webhookSecret, timestamp, body),
        },
        body,
      });
      expect(response.status).toBe(200);
    },
  };
}
