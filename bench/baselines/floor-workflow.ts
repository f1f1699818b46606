/**
 * The engine floor: the least a Temporal workflow can do for the bench's transfer and still have its shape — one local
 * activity (input validation), one activity (the transfer request), two timers (the answer timeout and the call's
 * maximum duration, as conditions with timeouts) and the same Daily events as signals. No search attributes, no
 * details, no event inbox, no decisions: what is left is what Temporal itself costs here.
 *
 * It shares the `dailyEvent` signal and the workflow id scheme with `transferCall`, so the relay can route to it too.
 */
import { condition, proxyActivities, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import { dailyEventSignal } from '../../src/shared';
import type { FloorActivities, FloorInput } from './floor-activities';

export interface FloorEvent {
  id: string;
  type: string;
  /** Workflow time of the task that handled the signal, epoch ms. */
  receivedAtMs: number;
}

export interface FloorResult {
  answered: boolean;
  events: FloorEvent[];
}

const { validateFloorInput } = proxyLocalActivities<FloorActivities>({ startToCloseTimeout: '5s' });
const { requestFloorTransfer } = proxyActivities<FloorActivities>({
  startToCloseTimeout: '15s',
  retry: { maximumAttempts: 1 },
});

export async function floorTransfer(input: FloorInput): Promise<FloorResult> {
  const events: FloorEvent[] = [];
  const seen = new Set<string>();
  setHandler(dailyEventSignal, (...batch) => {
    for (const event of batch) {
      if (seen.has(event.type)) continue;
      seen.add(event.type);
      events.push({ id: event.id, type: event.type, receivedAtMs: Date.now() });
    }
  });
  await validateFloorInput(input);
  await requestFloorTransfer(input);
  const answered = await condition(() => seen.has('calltransfer.answered'), input.answerTimeoutSec * 1000);
  if (answered) await condition(() => seen.has('calltransfer.completed'), input.maxCallDurationSec * 1000);
  return { answered, events };
}
