/**
 * Running transfers must survive deploys: every committed history replays against today's workflow code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { transferMetricsSinks } from '../src/telemetry/metrics';
import { quietRuntime, switchboardWorkflowBundle } from './helpers/temporal';

const dir = path.join(__dirname, 'histories');
const files = [
  ...readdirSync(dir).filter((file) => file.endsWith('.json')),
  ...readdirSync(path.join(dir, 'v1'))
    .filter((file) => file.endsWith('.json'))
    .map((file) => `v1/${file}`),
];
const histories = files.map((file) => ({
  workflowId: file,
  history: historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8'))),
}));

beforeAll(() => quietRuntime());

test('the committed histories cover the representative scenarios', () => {
  expect(histories.map((h) => h.workflowId).sort()).toEqual(
    [
      // Recorded with the leg model.
      'answered-and-completed.json',
      'busy-reordered-rollback.json',
      'canceled-while-ringing.json',
      'caller-leg-failed.json',
      'decided-by-update-with-start.json',
      'no-answer-busy-rollback.json',
      'no-answer-none-leg-ended.json',
      'outside-room-5xx-unknown.json',
      'reconciled-5xx-and-lost-response.json',
      'refer-after-429.json',
      'refer-rejected-caller-stays.json',
      'late-answer-during-429.json',
      'invalid-session-after-lost-response.json',
      // Dial first (groups, and a transfer after it), with relay batches of several events in one signal.
      'dial-first-group-second-answers.json',
      'dial-first-no-answer-then-transfer.json',
      // A cancel that arrives in the first task, with the start.
      'canceled-in-first-task.json',
      // The same two recorded before patch `settled-elsewhere` (a third request to the connected caller; a leg left
      // ringing): transfers that ran then keep that behaviour on replay.
      'late-answer-during-429-before-settled-elsewhere.json',
      'invalid-session-after-lost-response-before-settled-elsewhere.json',
      // Recorded before it: they replay on the frozen code in src/workflows/v1.
      'v1/answered-and-completed.json',
      'v1/busy-reordered-rollback.json',
      'v1/canceled-while-ringing.json',
      'v1/no-answer-busy-rollback.json',
      'v1/outside-room-5xx-before-patch.json',
      'v1/outside-room-5xx-resent.json',
      'v1/reconciled-5xx-and-lost-response.json',
      'v1/refer-after-429.json',
    ].sort()
  );
});

test('every committed history replays against the current workflow code', async () => {
  const workflowBundle = await switchboardWorkflowBundle();
  const failures: string[] = [];
  // The bundle carries the metrics interceptor; its sink is not called while replaying, but must exist.
  for await (const result of Worker.runReplayHistories({ workflowBundle, sinks: transferMetricsSinks() }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  // Bundling the workflow code and replaying every history takes well over a minute on a busy 2-core machine.
}, 240_000);

test('a change that is not behind patched() is caught', async () => {
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/changed-workflow'),
    logger: new DefaultLogger('WARN'),
  });
  const first = histories[0];
  if (!first) throw new Error('no histories');
  await expect(Worker.runReplayHistory({ workflowBundle }, first.history, first.workflowId)).rejects.toBeInstanceOf(
    DeterminismViolationError
  );
});
