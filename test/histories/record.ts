/**
 * `npm run histories:record`: runs representative transfers against a fresh stack and saves their histories here.
 * The replay test replays every file on each run, so a workflow change that would break running transfers fails CI.
 * Re-record only when adding scenarios; existing files are the compatibility contract: keep them.
 *
 * `v1/` holds histories recorded before the leg model (patch `leg-model`): transfers started then finish on the
 * frozen code in `src/workflows/v1`, and these files prove they still replay. `v1/outside-room-5xx-before-patch.json`
 * is older still (before patch `resend-unheard-request-outside-room`). The two `*-before-settled-elsewhere.json` files
 * are this file's last two scenarios recorded on the code before patch `settled-elsewhere` (commit 5b97367).
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation } from '@temporalio/client';
import { statusQuery, type TransferRequest } from '../../src';
import { parseTransferRequest } from '../../src/input';
import { TRANSFER_WORKFLOW_TYPE, cancelUpdate, transferWorkflowId } from '../../src/shared';
import type { transferCall } from '../../src/workflows';
import { findTemporalCli } from '../../src/local/temporal-cli';
import { startStack, type TestStack } from '../helpers/stack';

type Scenario = (stack: TestStack) => Promise<{ name: string; workflowId: string }>;

// Usage: `npm run histories:record -- <name>…` records the named scenarios; with no name, those without a file yet.
// Existing files are kept unless named: they hold what earlier workflow code did, which patched() must keep replaying.

const scenarios: Scenario[] = [
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:agent@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 200 });
    const started = await stack.transfers.start(base(call, [{ toEndPoint: 'sip:agent@pbx.example.com' }]));
    await started.handle.result();
    return { name: 'answered-and-completed', workflowId: started.workflowId };
  },
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:nobody@pbx.example.com', { kind: 'no-answer' });
    stack.sandbox.setScenario('+15551230000', { kind: 'busy' });
    const started = await stack.transfers.start({
      ...base(call, [
        { toEndPoint: 'sip:nobody@pbx.example.com', answerTimeoutSec: 1 },
        { toEndPoint: '+15551230000', callerId: 'number-id' },
      ]),
      onExhausted: { action: 'rollback' },
    });
    await started.handle.result();
    return { name: 'no-answer-busy-rollback', workflowId: started.workflowId };
  },
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:ivr@pbx.example.com', { kind: 'refer-accept' });
    stack.sandbox.queueFault({ path: 'sipRefer' }, { kind: 'rate-limit', retryAfterSec: 1 });
    const started = await stack.transfers.start(
      base(call, [{ method: 'sipRefer', toEndPoint: 'sip:ivr@pbx.example.com' }])
    );
    await started.handle.result();
    return { name: 'refer-after-429', workflowId: started.workflowId };
  },
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:lost@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
    stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'server-error', status: 502 });
    stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
    const started = await stack.transfers.start(base(call, [{ toEndPoint: 'sip:lost@pbx.example.com' }]));
    await started.handle.result();
    return { name: 'reconciled-5xx-and-lost-response', workflowId: started.workflowId };
  },
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setWebhookFaults({ reorder: true });
    stack.sandbox.setScenario('+15551230009', { kind: 'busy' });
    const started = await stack.transfers.start({
      ...base(call, [{ toEndPoint: '+15551230009' }]),
      onExhausted: { action: 'rollback' },
    });
    await started.handle.result();
    stack.sandbox.setWebhookFaults({});
    return { name: 'busy-reordered-rollback', workflowId: started.workflowId };
  },
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:nobody@pbx.example.com', { kind: 'no-answer' });
    stack.sandbox.setScenario('+15551230010', { kind: 'busy' });
    stack.sandbox.queueFault({ path: 'sipCallTransfer', toEndPoint: '+15551230010' }, { kind: 'server-error' });
    stack.sandbox.queueFault({ path: 'sipCallTransfer', toEndPoint: call.roomSipUri }, { kind: 'server-error' });
    const started = await stack.transfers.start({
      ...base(call, [{ toEndPoint: 'sip:nobody@pbx.example.com', answerTimeoutSec: 1 }, { toEndPoint: '+15551230010' }]),
      onExhausted: { action: 'rollback' },
    });
    await started.handle.result();
    return { name: 'outside-room-5xx-unknown', workflowId: started.workflowId };
  },
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:forever@pbx.example.com', { kind: 'no-answer' });
    const started = await stack.transfers.start({
      ...base(call, [{ toEndPoint: 'sip:forever@pbx.example.com', answerTimeoutSec: 60 }]),
      onExhausted: { action: 'hangup' },
    });
    for (;;) {
      if ((await started.handle.query(statusQuery).catch(() => undefined))?.state === 'initiated') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await stack.transfers.cancel(started.workflowId, 'recorded cancel');
    return { name: 'canceled-while-ringing', workflowId: started.workflowId };
  },
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:closed@pbx.example.com', { kind: 'refer-reject' });
    const started = await stack.transfers.start({
      ...base(call, [{ method: 'sipRefer', toEndPoint: 'sip:closed@pbx.example.com', answerTimeoutSec: 1 }]),
      onExhausted: { action: 'rollback' },
    });
    await started.handle.result();
    return { name: 'refer-rejected-caller-stays', workflowId: started.workflowId };
  },
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:forever@pbx.example.com', { kind: 'no-answer' });
    const started = await stack.transfers.start(
      base(call, [{ toEndPoint: 'sip:forever@pbx.example.com', answerTimeoutSec: 30 }])
    );
    for (;;) {
      if ((await started.handle.query(statusQuery).catch(() => undefined))?.state === 'initiated') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stack.sandbox.failCaller(call.room, call.sessionId, { errorMsg: 'recorded leg failure' });
    await started.handle.result();
    return { name: 'caller-leg-failed', workflowId: started.workflowId };
  },
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:nobody@pbx.example.com', { kind: 'no-answer' });
    const started = await stack.transfers.start(base(call, [{ toEndPoint: 'sip:nobody@pbx.example.com', answerTimeoutSec: 1 }]));
    await started.handle.result();
    return { name: 'no-answer-none-leg-ended', workflowId: started.workflowId };
  },
  async (stack) => {
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:decides@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 300 });
    const { workflowId } = await stack.transfers.decide(base(call, [{ toEndPoint: 'sip:decides@pbx.example.com' }]));
    await stack.transfers.result(workflowId);
    return { name: 'decided-by-update-with-start', workflowId };
  },
  async (stack) => {
    // An earlier destination answers while the next one's request waits out a 429 (patch `settled-elsewhere`).
    const call = stack.newCall();
    stack.sandbox.setScenario('sip:answers-late@pbx.example.com', { kind: 'answer', afterMs: 1500 });
    stack.sandbox.setScenario('sip:held-by-429@pbx.example.com', { kind: 'no-answer' });
    stack.sandbox.queueFault(
      { path: 'sipCallTransfer', toEndPoint: 'sip:held-by-429@pbx.example.com' },
      { kind: 'rate-limit', retryAfterSec: 3 }
    );
    const started = await stack.transfers.start({
      ...base(call, [
        { toEndPoint: 'sip:answers-late@pbx.example.com', answerTimeoutSec: 1 },
        { toEndPoint: 'sip:held-by-429@pbx.example.com' },
      ]),
      maxCallDurationSec: 2,
    });
    await started.handle.result();
    return { name: 'late-answer-during-429', workflowId: started.workflowId };
  },
  async (stack) => {
    // A 404 after a lost response, while presence lags and webhooks are late (patch `settled-elsewhere`).
    stack.sandbox.setModel({ presenceLagMs: 4500, ringingLegTransfer: 'refuse' });
    stack.sandbox.setWebhookFaults({ delayMs: 5000 });
    stack.sandbox.setScenario('sip:rings-after-lost@pbx.example.com', { kind: 'no-answer' });
    stack.sandbox.queueFault({ path: 'sipCallTransfer' }, { kind: 'lost-response' });
    try {
      const call = stack.newCall();
      await new Promise((resolve) => setTimeout(resolve, 5000));
      const started = await stack.transfers.start({
        ...base(call, [{ toEndPoint: 'sip:rings-after-lost@pbx.example.com', answerTimeoutSec: 8 }]),
        reconcileWindowSec: 3,
      });
      await started.handle.result();
      return { name: 'invalid-session-after-lost-response', workflowId: started.workflowId };
    } finally {
      stack.sandbox.setModel({ presenceLagMs: 0, ringingLegTransfer: 'retarget' });
      stack.sandbox.setWebhookFaults({});
    }
  },
  async (stack) => {
    // Dial first, three rung together: the second answers, the other two are stopped.
    const call = stack.newCall();
    const [a, b, c] = ['sip:a@team.example.com', 'sip:b@team.example.com', 'sip:c@team.example.com'];
    stack.sandbox.setScenario(a, { kind: 'no-answer' });
    stack.sandbox.setScenario(b, { kind: 'answer', afterMs: 300, hangUpAfterMs: 500 });
    stack.sandbox.setScenario(c, { kind: 'no-answer' });
    const started = await stack.transfers.start(
      base(call, [{ method: 'dialFirst', toEndPoint: a, ringTogether: [{ toEndPoint: b }, { toEndPoint: c }] }])
    );
    await started.handle.result();
    return { name: 'dial-first-group-second-answers', workflowId: started.workflowId };
  },
  async (stack) => {
    // Dial first, nobody answers: the dial-out is stopped and a sipCallTransfer takes the caller.
    const call = stack.newCall();
    stack.sandbox.setScenario('+15551230021', { kind: 'no-answer' });
    stack.sandbox.setScenario('sip:desk@pbx.example.com', { kind: 'answer', afterMs: 50, hangUpAfterMs: 200 });
    const started = await stack.transfers.start(
      base(call, [
        { method: 'dialFirst', toEndPoint: '+15551230021', answerTimeoutSec: 1 },
        { toEndPoint: 'sip:desk@pbx.example.com' },
      ])
    );
    await started.handle.result();
    return { name: 'dial-first-no-answer-then-transfer', workflowId: started.workflowId };
  },
  async (stack) => {
    // A cancel sent with the start (update-with-start): it arrives in the first task, before input validation.
    const call = stack.newCall();
    const input = parseTransferRequest(base(call, [{ toEndPoint: 'sip:never-asked@pbx.example.com' }]), randomUUID);
    const workflowId = transferWorkflowId(call.room, call.sessionId);
    await stack.env.client.workflow.executeUpdateWithStart(cancelUpdate, {
      args: [{ reason: 'recorded cancel in the first task' }],
      startWorkflowOperation: new WithStartWorkflowOperation<typeof transferCall>(TRANSFER_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: stack.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
    await stack.transfers.result(workflowId);
    return { name: 'canceled-in-first-task', workflowId };
  },
];

function base(call: { room: string; sessionId: string }, attempts: object[]): TransferRequest {
  return {
    room: call.room,
    sessionId: call.sessionId,
    attempts: attempts.map((a) => ({ answerTimeoutSec: 5, ...a })),
    onExhausted: { action: 'none' },
    reconcileWindowSec: 1,
  } as TransferRequest;
}

async function main(): Promise<void> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('the Temporal CLI is needed to export histories: run `npm run setup`');
  const stack = await startStack();
  try {
    const wanted = process.argv.slice(2);
    for (const scenario of scenarios) {
      const { name, workflowId } = await scenario(stack);
      const file = path.join(__dirname, `${name}.json`);
      if (wanted.length > 0 ? !wanted.includes(name) : existsSync(file)) continue;
      // The CLI writes the canonical JSON form that historyFromJSON reads back.
      const json = execFileSync(
        cli,
        ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.env.address, '--output', 'json'],
        { encoding: 'utf8' }
      );
      writeFileSync(file, json);
      const events = (JSON.parse(json) as { events: unknown[] }).events.length;
      console.log(`recorded ${name} (${events} events) → ${path.relative(process.cwd(), file)}`);
    }
  } finally {
    await stack.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
