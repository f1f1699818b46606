/**
 * Crash safety of `dialFirst`: the worker process dies with SIGKILL while groups ring (some with a dialOut/start on
 * the wire), a new worker process takes over, and every transfer ends with exactly one dialOut/start per destination
 * and no dial-out left ringing — the sandbox's own leg states prove it.
 */
import { once } from 'node:events';
import type { TransferRequest, TransferResult } from '../../src';
import { startStack, type TestStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { workerProcesses } from '../helpers/worker-processes';

let stack: TestStack;
const workers = workerProcesses(() => stack);

const SLOW = 'sip:slow@team.example.com';
const NOBODY = 'sip:nobody@team.example.com';
const NOBODY_TOO = '+15551230077';
const BACKUP = 'sip:backup@pbx.example.com';

describe.each(['docs', 'extended'] as const)("under Daily's %s event model", (model) => {
  beforeAll(async () => {
    stack = await startStack({ worker: false, sandbox: { model: { completedStatus: model } } });
  });
  afterAll(async () => {
    workers.killAll();
    await stack?.close();
  });

  test('a SIGKILLed worker leaves no dial-out ringing and repeats no dialOut/start', async () => {
    const transfers = 6;
    // Answered only after the crash.
    stack.sandbox.setScenario(SLOW, { kind: 'answer', afterMs: 5000, hangUpAfterMs: 300 });
    stack.sandbox.setScenario(NOBODY, { kind: 'no-answer' });
    stack.sandbox.setScenario(NOBODY_TOO, { kind: 'no-answer' });
    stack.sandbox.setScenario(BACKUP, { kind: 'answer', afterMs: 100, hangUpAfterMs: 200 });
    const first = workers.start();

    const calls = Array.from({ length: transfers }, () => stack.newCall());
    const started = [];
    for (const [i, call] of calls.entries()) {
      // Even: three rung together, one answers after the crash. Odd: two ring past their budget (ending after the
      // crash), then a sipCallTransfer to a backup takes the caller.
      const attempts =
        i % 2 === 0
          ? [
              {
                method: 'dialFirst',
                toEndPoint: NOBODY,
                answerTimeoutSec: 60,
                ringTogether: [{ toEndPoint: SLOW }, { toEndPoint: NOBODY_TOO }],
              },
            ]
          : [
              {
                method: 'dialFirst',
                toEndPoint: NOBODY,
                answerTimeoutSec: 4,
                ringTogether: [{ toEndPoint: NOBODY_TOO }],
              },
              { method: 'sipCallTransfer', toEndPoint: BACKUP, answerTimeoutSec: 30 },
            ];
      // The last two's first starts are still on the wire when the worker dies: their replies are lost with it.
      if (i >= transfers - 2) stack.sandbox.queueFault({ path: 'dialOut/start' }, { kind: 'latency', ms: 3000 });
      const request = {
        room: call.room,
        sessionId: call.sessionId,
        attempts,
        reconcileWindowSec: 2,
      } as TransferRequest;
      started.push(await stack.transfers.start(request));
    }
    const legsPerTransfer = (i: number) => (i % 2 === 0 ? 3 : 2);
    const expectedStarts = calls.reduce((sum, _, i) => sum + legsPerTransfer(i), 0);
    await waitFor(
      'every dial-out started',
      () => stack.sandbox.requests({ path: 'dialOut/start' }).length >= expectedStarts,
      60_000
    );

    // Two starts took effect but their replies (held 3 s) die with the worker.
    expect(stack.sandbox.requests({ path: 'dialOut/start' }).filter((r) => r.faulted === 'latency')).toHaveLength(2);
    first.kill('SIGKILL');
    await once(first, 'exit');
    // The crash really is mid-ring: groups still ring with nobody polling.
    expect(stack.sandbox.dialOuts({ state: 'ringing' }).length).toBeGreaterThan(0);
    workers.start();

    const results: TransferResult[] = await Promise.all(started.map((s) => s.handle.result()));

    for (const [i, result] of results.entries()) {
      const call = calls[i]!;
      expect(result).toMatchObject({ state: 'completed', outcome: 'answered' });
      const group = result.attempts[0]!;
      if (i % 2 === 0) {
        expect(group.legs?.map((l) => [l.toEndPoint, l.outcome, l.stop])).toEqual([
          [NOBODY, 'lost-race', 'stopped'],
          [SLOW, 'answered', undefined],
          [NOBODY_TOO, 'lost-race', 'stopped'],
        ]);
      } else {
        expect(group.legs?.map((l) => [l.outcome, l.stop])).toEqual([
          ['no-answer', 'stopped'],
          ['no-answer', 'stopped'],
        ]);
        expect(result.attempts[1]).toMatchObject({ method: 'sipCallTransfer', outcome: 'answered' });
      }
      // Exactly one dialOut/start per destination, whatever the crash did to its reply.
      const dialed = stack.sandbox
        .requests({ path: 'dialOut/start', room: call.room })
        .map(
          (r) =>
            (r.body as { sipUri?: string; phoneNumber?: string }).sipUri ??
            (r.body as { phoneNumber: string }).phoneNumber
        );
      expect(dialed.sort()).toEqual(group.legs!.map((l) => l.toEndPoint).sort());
      // Every dial-out it rang has ended: the losers by dialOut/stop, the winner when its call ended.
      expect(stack.sandbox.dialOuts({ room: call.room }).map((d) => d.state)).toEqual(
        Array(legsPerTransfer(i)).fill('stopped')
      );
    }
    expect(stack.sandbox.dialOuts({ state: 'ringing' })).toEqual([]);
  }, 240_000);
});
