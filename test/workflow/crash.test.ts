/**
 * Crash safety: the worker process dies with SIGKILL while transfers are in flight (some with a transfer request
 * on the wire), a new worker process takes over, and every transfer finishes with exactly one transfer request per
 * destination at Daily.
 */
import { once } from 'node:events';
import type { TransferRequest, TransferResult } from '../../src';
import { startStack, type TestStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { workerProcesses } from '../helpers/worker-processes';

let stack: TestStack;
const workers = workerProcesses(() => stack);

describe.each(['docs', 'extended'] as const)("under Daily's %s event model", (model) => {
  beforeAll(async () => {
    stack = await startStack({ worker: false, sandbox: { model: { completedStatus: model } } });
  });
  afterAll(async () => {
    workers.killAll();
    await stack?.close();
  });

  test('a SIGKILLed worker loses no transfer and repeats no transfer request', async () => {
    const transfers = 8;
    stack.sandbox.setScenario('sip:slow@pbx.example.com', { kind: 'answer', afterMs: 4000, hangUpAfterMs: 200 });
    stack.sandbox.setScenario('sip:nobody@pbx.example.com', { kind: 'no-answer' });
    stack.sandbox.setScenario('sip:backup@pbx.example.com', { kind: 'answer', afterMs: 100, hangUpAfterMs: 200 });
    const first = workers.start();

    const calls = Array.from({ length: transfers }, () => stack.newCall());
    const started = [];
    for (const [i, call] of calls.entries()) {
      // Half ring long enough to be answered only after the crash; half time out and fall through to a backup.
      const attempts =
        i % 2 === 0
          ? [{ toEndPoint: 'sip:slow@pbx.example.com', answerTimeoutSec: 60 }]
          : [
              { toEndPoint: 'sip:nobody@pbx.example.com', answerTimeoutSec: 3 },
              { toEndPoint: 'sip:backup@pbx.example.com', answerTimeoutSec: 30 },
            ];
      // The last ones' requests are still on the wire when the worker dies.
      if (i >= transfers - 2) stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'latency', ms: 3000 });
      const request = {
        room: call.room,
        sessionId: call.sessionId,
        attempts,
        reconcileWindowSec: 2,
      } as TransferRequest;
      started.push(await stack.transfers.start(request));
    }
    await waitFor(
      'every transfer request sent',
      () => stack.sandbox.requests({ path: 'sipCallTransfer' }).length >= transfers,
      60_000
    );

    first.kill('SIGKILL');
    await once(first, 'exit');
    // The crash really is mid-run: describe() needs no worker (a query would, and could only fail now).
    const midway = await Promise.all(started.map((s) => s.handle.describe()));
    expect(midway.filter((d) => d.status.name === 'RUNNING').length).toBeGreaterThan(0);
    workers.start();

    const results: TransferResult[] = await Promise.all(started.map((s) => s.handle.result()));

    for (const [i, result] of results.entries()) {
      const call = calls[i]!;
      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      expect(result.attempts).toHaveLength(i % 2 === 0 ? 1 : 2);
      const sent = stack.sandbox.requests({ path: 'sipCallTransfer', room: call.room });
      expect(sent.map((r) => (r.body as { toEndPoint: string }).toEndPoint)).toEqual(
        result.attempts.map((a) => a.toEndPoint)
      );
    }
  }, 240_000);
});
