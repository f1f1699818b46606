/**
 * `switchboard replay`: the transfers a real stack ran replay against today's code (exit 0), and a history left by
 * incompatible code fails the gate (exit 7) naming the transfer and the determinism violation.
 */
import { randomUUID } from 'node:crypto';
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { EXIT_CODES, run } from '../../src/client/cli';
import type { ReplayReport } from '../../src/client/replay';
import { parseTransferRequest } from '../../src/input';
import { TRANSFER_WORKFLOW_TYPE, transferWorkflowId } from '../../src/shared';
import { startStack, type TestStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
  stack.sandbox.setScenario(ANSWERS, { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
  stack.sandbox.setScenario(RINGS, { kind: 'no-answer' });
});
afterAll(async () => {
  await stack?.close();
});

const ANSWERS = 'sip:agent@pbx.example.com';
const RINGS = 'sip:nobody@pbx.example.com';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: { TEMPORAL_ADDRESS: stack.env.address },
  });
  return { code, out, err };
}

/** Visibility is eventually consistent: wait until the query sees `count` closed or open executions. */
async function visible(query: string, count: number): Promise<void> {
  await waitFor(`${count} executions for ${query}`, async () => {
    let seen = 0;
    for await (const _ of stack.env.client.workflow.list({ query })) seen++;
    return seen >= count;
  });
}

test('real transfers replay against the current code: exit 0', async () => {
  for (const to of [ANSWERS, RINGS]) {
    const call = stack.newCall();
    const { handle } = await stack.transfers.start({
      room: call.room,
      sessionId: call.sessionId,
      toEndPoint: to,
      answerTimeoutSec: 1,
      onExhausted: { action: 'rollback' },
    });
    await handle.result();
  }
  const query = `TaskQueue = '${stack.taskQueue}'`;
  await visible(`${query} AND ExecutionStatus = 'Completed'`, 2);

  const text = await cli('replay', '--query', query);
  expect(text).toMatchObject({ code: EXIT_CODES.ok, err: '' });
  expect(text.out).toContain('2 replayed, all compatible with this code');

  const json = await cli('--json', 'replay', '--query', query, '--limit', '1');
  expect(json.code).toBe(EXIT_CODES.ok);
  expect(JSON.parse(json.out) as ReplayReport).toEqual({
    query: `(${query}) AND WorkflowType = '${TRANSFER_WORKFLOW_TYPE}'`,
    replayed: 1,
    failures: [],
  });
});

test('a history from incompatible code fails the gate: exit 7, naming the transfer', async () => {
  // A worker running code that is not Switchboard's leaves a `transferCall` history the real code cannot produce.
  const taskQueue = `incompatible-${randomUUID()}`;
  const worker = await Worker.create({
    connection: stack.env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('../fixtures/replay-incompatible'),
      logger: new DefaultLogger('WARN'),
    }),
  });
  const call = stack.newCall();
  const input = parseTransferRequest({ room: call.room, sessionId: call.sessionId, toEndPoint: ANSWERS }, randomUUID);
  const workflowId = transferWorkflowId(call.room, call.sessionId);
  await worker.runUntil(async () => {
    const handle = await stack.env.client.workflow.start(TRANSFER_WORKFLOW_TYPE, {
      workflowId,
      taskQueue,
      args: [input],
    });
    await waitFor('the timer in its history', async () =>
      (await handle.fetchHistory()).events?.some((e) => e.timerStartedEventAttributes)
    );
    await handle.terminate('replay test: history recorded');
  });
  await visible(`TaskQueue = '${taskQueue}'`, 1);

  const text = await cli('replay', '--query', `TaskQueue = '${taskQueue}'`);
  expect(text.code).toBe(EXIT_CODES.replayFailed);
  expect(text.out).toContain(`FAIL  ${workflowId}`);
  expect(text.out).toMatch(new RegExp(`${workflowId} \\(run [\\w-]+\\): nondeterminism: `));
  expect(text.out).toContain('1 replayed: 0 compatible, 1 NOT: do not deploy this code');

  // The compatible transfers next to it do not hide it.
  const both = await cli('--json', 'replay', '--query', `TaskQueue IN ('${taskQueue}', '${stack.taskQueue}')`);
  const report = JSON.parse(both.out) as ReplayReport;
  expect(both.code).toBe(EXIT_CODES.replayFailed);
  expect(report.replayed).toBe(3);
  expect(report.failures).toEqual([
    { workflowId, runId: expect.any(String), nondeterministic: true, error: expect.any(String) },
  ]);
});

test('a query the server rejects is a usage error: exit 2', async () => {
  const result = await cli('replay', '--query', 'NoSuchAttribute = 1');
  expect(result.code).toBe(EXIT_CODES.usage);
  expect(result.err).toMatch(/^error: invalid --query: /);
});
