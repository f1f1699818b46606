/**
 * The `switchboard` CLI end to end against a running stack (Temporal dev server, sandbox, relay, worker): mostly
 * through `run()` in-process, and once as a real process to prove the bin works.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { EXIT_CODES, run } from '../../src/client/cli';
import { freePort } from '../../src/local/dev-server';
import { maskEndpoint } from '../../src/mask';
import type { TransferListItem, TransferStatus } from '../../src';
import { transferWorkflowId } from '../../src/shared';
import { startStack, type TestStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack();
  stack.sandbox.setScenario(ANSWERS, { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
  stack.sandbox.setScenario(PHONE, { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
  stack.sandbox.setScenario(RINGS, { kind: 'no-answer' });
  stack.sandbox.setScenario(LONG_CALL, { kind: 'answer', afterMs: 50, hangUpAfterMs: 4000 });
  stack.sandbox.setScenario(RINGS_TOO, { kind: 'no-answer' });
});
afterAll(async () => {
  await stack?.close();
});

const ANSWERS = 'sip:agent@pbx.example.com';
const PHONE = '+15551239001';
const RINGS = 'sip:nobody@pbx.example.com';
/** Answers and talks for 4 s: long enough for a second CLI call to find the transfer still running. */
const LONG_CALL = 'sip:long-call@pbx.example.com';
const RINGS_TOO = 'sip:nobody-either@pbx.example.com';

interface Outcome {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in-process, configured by environment like an operator's shell. */
async function cli(...args: string[]): Promise<Outcome> {
  let out = '';
  let err = '';
  const code = await run(args, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: { TEMPORAL_ADDRESS: stack.env.address, TEMPORAL_TASK_QUEUE: stack.taskQueue },
  });
  return { code, out, err };
}

const json = <T>(outcome: Outcome): T => JSON.parse(outcome.out) as T;

function transferArgs(call: { room: string; sessionId: string }, ...more: string[]): string[] {
  return ['transfer', '--room', call.room, '--session', call.sessionId, ...more];
}

async function statusOf(workflowId: string): Promise<TransferStatus> {
  return stack.transfers.status(workflowId);
}

describe('transfer --wait', () => {
  test('follows a transfer to completion, printing its states, then the summary with numbers masked', async () => {
    const call = stack.newCall();

    const result = await cli(...transferArgs(call, '--to', PHONE, '--caller-id', 'purchased-1', '--wait'));

    expect(result).toMatchObject({ code: EXIT_CODES.ok, err: '' });
    expect(result.out).toContain(`Started transfer ${transferWorkflowId(call.room, call.sessionId)}`);
    expect(result.out).toMatch(/\d\d:\d\d:\d\d\.\d{3} {2}destination 1: sipCallTransfer → /);
    // Polling may miss a short-lived state, never an event: the status keeps every event the workflow saw.
    for (const event of ['triggered', 'initiated', 'answered']) {
      expect(result.out).toContain(`destination 1: calltransfer.${event}\n`);
    }
    expect(result.out).toMatch(/ {2}state completed\n/);
    expect(result.out).toMatch(/outcome +answered/);
    expect(result.out).toContain(maskEndpoint(PHONE));
    expect(result.out).not.toContain(PHONE);
    expect(stack.sandbox.requests({ path: 'sipCallTransfer', room: call.room }).map((r) => r.body)).toEqual([
      { sessionId: call.sessionId, toEndPoint: PHONE, callerId: 'purchased-1' },
    ]);
  });

  test('--json prints only the final state, numbers whole', async () => {
    const call = stack.newCall();

    const result = await cli('--json', ...transferArgs(call, '--to', PHONE, '--wait'));

    expect(result.code).toBe(EXIT_CODES.ok);
    const final = json<TransferStatus>(result);
    expect(final).toMatchObject({ state: 'completed', outcome: 'answered', room: call.room });
    expect(final.attempts[0]?.toEndPoint).toBe(PHONE);
  });

  test('exits 1 when the transfer fails, after trying each destination in order', async () => {
    const call = stack.newCall();

    const result = await cli(
      ...transferArgs(call, '--to', RINGS, '--to', RINGS_TOO),
      ...['--answer-timeout', '1', '--on-exhausted', 'none', '--wait']
    );

    expect(result.code).toBe(EXIT_CODES.unsuccessful);
    expect(result.out).toMatch(/state failed/);
    expect(result.out).toMatch(/1\. sipCallTransfer → sip:nobody@pbx\.example\.com\n +no-answer/);
    expect(result.out).toMatch(/2\. sipCallTransfer → sip:nobody-either@pbx\.example\.com\n +no-answer/);
    expect(stack.sandbox.requests({ path: 'sipCallTransfer', room: call.room })).toHaveLength(2);
  });

  test('--wait decision answers at the decision, while the call goes on; the same request id joins it', async () => {
    const call = stack.newCall();
    const args = transferArgs(call, '--to', LONG_CALL, '--request-id', 'req-decide-1');

    expect((await cli(...args)).code).toBe(EXIT_CODES.ok);
    const decided = await cli('--json', ...args, '--wait', 'decision');

    expect(decided.code).toBe(EXIT_CODES.ok);
    const decision = json<TransferStatus>(decided);
    // The running transfer (joined, not started again), as it was when the destination answered.
    expect(decision).toMatchObject({ state: 'answered', outcome: 'answered', requestId: 'req-decide-1' });
    expect(decision.callDurationSec).toBeUndefined();
    expect(stack.sandbox.requests({ path: 'sipCallTransfer', room: call.room })).toHaveLength(1);
    const workflowId = transferWorkflowId(call.room, call.sessionId);
    await waitFor('completed', async () => (await statusOf(workflowId)).state === 'completed');
  });

  test('--wait decision exits 1 with the failed decision; a different request id is refused (exit 3)', async () => {
    const call = stack.newCall();

    const args = [...transferArgs(call, '--to', RINGS), ...['--answer-timeout', '1', '--on-exhausted', 'none']];
    const result = await cli(...args, '--wait', 'decision');

    expect(result.code).toBe(EXIT_CODES.unsuccessful);
    expect(result.out).toContain(`Transfer ${transferWorkflowId(call.room, call.sessionId)} decided.`);
    expect(result.out).toMatch(/state +failed/);
    expect(result.out).toMatch(/1\. sipCallTransfer → sip:nobody@pbx\.example\.com\n +no-answer/);

    const other = stack.newCall();
    await cli(...transferArgs(other, '--to', RINGS, '--request-id', 'first'));
    const refused = await cli(...transferArgs(other, '--to', RINGS, '--request-id', 'second'), '--wait', 'decision');
    expect(refused.code).toBe(EXIT_CODES.alreadyRunning);
    await stack.transfers.cancel(transferWorkflowId(other.room, other.sessionId), 'test over');
  });
});

describe('transfer, then status and list', () => {
  test('without --wait: prints the workflow id and how to follow it; status and list find it', async () => {
    const call = stack.newCall();
    const workflowId = transferWorkflowId(call.room, call.sessionId);

    const started = await cli(...transferArgs(call, '--to', ANSWERS, '--request-id', 'req-cli-1'));

    expect(started.code).toBe(EXIT_CODES.ok);
    expect(started.out).toContain(`Started transfer ${workflowId} (request id req-cli-1)`);
    expect(started.out).toContain(`switchboard status '${workflowId}'`);
    await waitFor('completed', async () => (await statusOf(workflowId)).state === 'completed');

    const status = await cli('status', workflowId);
    expect(status.code).toBe(EXIT_CODES.ok);
    expect(status.out).toMatch(/state +completed/);
    expect(status.out).toMatch(/1\. sipCallTransfer → sip:agent@pbx\.example\.com\n +answered after [\d.]+s: /);
    expect(status.out).toMatch(/late events +0/);
    const statusJson = json<TransferStatus>(await cli('status', workflowId, '--json'));
    expect(statusJson).toMatchObject({ workflowId, requestId: 'req-cli-1', state: 'completed', outcome: 'answered' });

    // Visibility is eventually consistent: wait until the search attributes show the final state.
    const listed = await waitFor('listed as completed', async () => {
      const items = json<TransferListItem[]>(await cli('list', '--room', call.room, '--json'));
      return items.length === 1 && items[0]?.state === 'completed' && items;
    });
    expect(listed[0]).toMatchObject({ workflowId, room: call.room, outcome: 'answered', method: 'sipCallTransfer' });
    const byState = json<TransferListItem[]>(await cli('list', '--state', 'completed', '--json', '--limit', '500'));
    expect(byState.map((item) => item.workflowId)).toContain(workflowId);
    expect(byState.every((item) => item.state === 'completed')).toBe(true);
    expect(json<TransferListItem[]>(await cli('list', '--room', call.room, '--state', 'failed', '--json'))).toEqual([]);
    expect(
      json<TransferListItem[]>(await cli('list', '--room', call.room, '--outcome', 'answered', '--json'))
    ).toHaveLength(1);

    const table = await cli('list', '--room', call.room);
    expect(table.code).toBe(EXIT_CODES.ok);
    expect(table.out).toMatch(/^WORKFLOW ID +STATE +OUTCOME +ROOM +METHOD +STARTED\n/);
    expect(table.out).toContain(workflowId);
    expect((await cli('list', '--room', call.room, '--outcome', 'busy')).out).toBe('No transfers match.\n');
  });

  test('--limit caps the list', async () => {
    const call = stack.newCall();
    await cli(...transferArgs(call, '--to', ANSWERS, '--wait'));
    await cli(...transferArgs(stack.newCall(), '--to', ANSWERS, '--wait'));
    await waitFor('two listed', async () => json<TransferListItem[]>(await cli('list', '--json')).length >= 2);

    expect(json<TransferListItem[]>(await cli('list', '--limit', '1', '--json'))).toHaveLength(1);
  });
});

describe('cancel, and one transfer per caller leg', () => {
  test('cancels a ringing transfer and prints its final state; the leg is free again afterwards', async () => {
    const call = stack.newCall();
    const workflowId = transferWorkflowId(call.room, call.sessionId);
    const ringing = transferArgs(call, '--to', RINGS, '--answer-timeout', '60');
    const first = await cli('--json', ...ringing, '--request-id', 'first');
    expect(first.code).toBe(EXIT_CODES.ok);
    expect(json(first)).toMatchObject({ workflowId, requestId: 'first', existing: false });
    await waitFor('ringing', async () => (await statusOf(workflowId)).state === 'initiated');

    const same = await cli(...ringing, '--request-id', 'first');
    expect(same.code).toBe(EXIT_CODES.ok);
    expect(same.out).toContain('already running with this request id');
    expect(json(await cli('--json', ...ringing, '--request-id', 'first'))).toMatchObject({ existing: true });
    const other = await cli(...ringing, '--request-id', 'second');
    expect(other.code).toBe(EXIT_CODES.alreadyRunning);
    expect(other.err).toMatch(/^error: a transfer is already running for this caller leg/);

    const canceled = await cli('cancel', workflowId, '--reason', 'operator gave up');

    expect(canceled.code).toBe(EXIT_CODES.ok);
    expect(canceled.out).toContain('Canceled; the transfer ended canceled.');
    expect(canceled.out).toMatch(/outcome +canceled/);
    expect(canceled.out).toMatch(/canceled by +operator gave up/);
    expect(canceled.out).toMatch(/fallback +rollback → .*: ok/);
    expect(await statusOf(workflowId)).toMatchObject({ state: 'canceled', canceledBy: 'operator gave up' });

    const again = await cli('cancel', workflowId, '--json');
    expect(again.code).toBe(EXIT_CODES.ok);
    expect(json<TransferStatus>(again)).toMatchObject({ workflowId, state: 'canceled' });
    expect((await cli('cancel', workflowId)).out).toContain('had already finished (canceled); nothing to cancel');
  });
});

describe('errors', () => {
  test.each([
    ['a missing --room', ['transfer', '--session', 's1', '--to', ANSWERS], /required option '--room <name>'/],
    ['a missing --to', ['transfer', '--room', 'r1', '--session', 's1'], /required option '--to <endpoint>'/],
    [
      'an unknown option',
      ['transfer', '--room', 'r1', '--session', 's1', '--to', ANSWERS, '--frobnicate'],
      /unknown option '--frobnicate'/,
    ],
    [
      'a bad --on-exhausted',
      ['transfer', '--room', 'r1', '--session', 's1', '--to', ANSWERS, '--on-exhausted', 'retry'],
      /'--on-exhausted <policy>' argument 'retry' is invalid\. must be rollback, hangup, none or refer:<sip-uri>/,
    ],
    [
      'a bad --answer-timeout',
      ['transfer', '--room', 'r1', '--session', 's1', '--to', ANSWERS, '--answer-timeout', 'soon'],
      /'--answer-timeout <sec>' argument 'soon' is invalid/,
    ],
    ['a bad --method', ['transfer', '--method', 'fax'], /'--method <method>' argument 'fax' is invalid/],
    ['a bad --state', ['list', '--state', 'ringing'], /'--state <state>' argument 'ringing' is invalid/],
    ['a bad --limit', ['list', '--limit', '0'], /'--limit <n>' argument '0' is invalid/],
    ['an unknown command', ['transfers'], /unknown command 'transfers'/],
    ['a missing workflow id', ['status'], /missing required argument 'workflowId'/],
    ['no command at all', [], /Usage: switchboard/],
  ])('%s → exit 2 naming the problem', async (_what, args, message) => {
    const result = await cli(...args);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.err).toMatch(message);
  });

  test('input the request contract rejects → exit 2 naming each flag and field, and nothing starts', async () => {
    const call = stack.newCall();

    const badTo = await cli(...transferArgs(call, '--to', ANSWERS, '--to', 'not-a-destination'));
    expect(badTo.code).toBe(EXIT_CODES.usage);
    expect(badTo.err).toContain('error: invalid transfer request:');
    expect(badTo.err).toMatch(/--to #2 \(attempts\.1\.toEndPoint\): must be a sip: URI or an E\.164 number/);

    const referPhone = await cli(...transferArgs(call, '--to', PHONE, '--method', 'sipRefer'));
    expect(referPhone.err).toMatch(/--to #1 .*sipRefer needs a sip: URI/);
    const callerIdForSip = await cli(...transferArgs(call, '--to', ANSWERS, '--caller-id', 'purchased-1'));
    expect(callerIdForSip.err).toMatch(/--caller-id .*only valid for a PSTN/);
    const referNowhere = await cli(...transferArgs(call, '--to', ANSWERS, '--on-exhausted', 'refer:pbx'));
    expect(referNowhere.err).toMatch(/--on-exhausted \(onExhausted\.toEndPoint\): must be a sip: URI/);
    const badRoom = await cli('transfer', '--room', 'no spaces', '--session', 's1', '--to', ANSWERS);
    expect(badRoom.err).toMatch(/--room \(room\): must be a Daily room name/);
    const returnTo = await cli(
      ...transferArgs(call, '--to', ANSWERS, '--on-exhausted', 'hangup', '--return-to', ANSWERS)
    );
    expect(returnTo.err).toContain('--return-to applies only to --on-exhausted rollback');

    for (const result of [referPhone, callerIdForSip, referNowhere, badRoom, returnTo]) {
      expect(result.code).toBe(EXIT_CODES.usage);
    }
    await expect(
      stack.transfers.handle(transferWorkflowId(call.room, call.sessionId)).describe()
    ).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(stack.sandbox.requests({ room: call.room })).toEqual([]);
  });

  test('an unknown workflow → exit 4 with a clear message, and no stack unless --verbose', async () => {
    const status = await cli('status', 'transfer:nowhere:nobody');
    expect(status.code).toBe(EXIT_CODES.notFound);
    expect(status.err).toBe(
      "error: no transfer with workflow id 'transfer:nowhere:nobody' (switchboard list shows the transfers)\n"
    );
    expect((await cli('cancel', 'transfer:nowhere:nobody')).code).toBe(EXIT_CODES.notFound);

    const verbose = await cli('status', 'transfer:nowhere:nobody', '--verbose');
    expect(verbose.code).toBe(EXIT_CODES.notFound);
    expect(verbose.err).toMatch(/\n +at /);
  });

  test('an unreachable Temporal server → exit 5 with one line naming the address', async () => {
    const address = `127.0.0.1:${await freePort()}`;

    const result = await cli('list', '--address', address);

    expect(result.code).toBe(EXIT_CODES.temporalUnreachable);
    expect(result.err).toMatch(new RegExp(`^error: cannot reach the Temporal server at ${address} \\(.+\\)\\n$`));
  });

  test('bad configuration → exit 2 naming the variable', async () => {
    const withEnv = async (env: NodeJS.ProcessEnv) => {
      let err = '';
      const code = await run(['list'], {
        stdout: { write: () => true },
        stderr: { write: (text: string) => (err += text) },
        env: { TEMPORAL_ADDRESS: stack.env.address, ...env },
      });
      return { code, err };
    };

    const half = await withEnv({ TEMPORAL_TLS_CERT_PATH: '/nowhere/cert.pem' });
    expect(half.code).toBe(EXIT_CODES.usage);
    expect(half.err).toContain('TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together');

    const missing = await withEnv({
      TEMPORAL_TLS_CERT_PATH: '/nowhere/cert.pem',
      TEMPORAL_TLS_KEY_PATH: '/nowhere/key',
    });
    expect(missing.code).toBe(EXIT_CODES.usage);
    expect(missing.err).toMatch(/^error: cannot read .*\/nowhere\/cert\.pem/);
  });
});

describe('--help', () => {
  test.each([
    [[], 'switchboard [options] [command]'],
    [['transfer'], 'switchboard transfer [options]'],
    [['status'], 'switchboard status [options] <workflowId>'],
    [['list'], 'switchboard list [options]'],
    [['cancel'], 'switchboard cancel [options] <workflowId>'],
    [['webhook'], 'switchboard webhook [options] [command]'],
    [['webhook', 'setup'], 'switchboard webhook setup [options]'],
    [['webhook', 'status'], 'switchboard webhook status [options]'],
  ])('%j --help shows usage, options and the exit codes', async (command, usage) => {
    const result = await cli(...command, '--help');
    expect(result).toMatchObject({ code: EXIT_CODES.ok, err: '' });
    expect(result.out).toContain(`Usage: ${usage}`);
    expect(result.out).toContain('--json');
    expect(result.out).toMatch(/Exit codes:\n {2}0 {2}success\n[^]* {2}5 {2}the Temporal server cannot be reached/);
  });
});

describe('the bin, as a process', () => {
  const cliPath = path.join(__dirname, '../../src/client/cli.ts');

  function spawnCli(...args: string[]): Promise<Outcome> {
    const child = spawn(process.execPath, ['--import', 'tsx', cliPath, ...args], {
      env: { ...process.env, TEMPORAL_ADDRESS: stack.env.address, TEMPORAL_TASK_QUEUE: stack.taskQueue },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    });
  }

  test('transfer --wait --json runs a transfer to completion and exits 0', async () => {
    const call = stack.newCall();

    const result = await spawnCli(...transferArgs(call, '--to', ANSWERS, '--wait', '--json'));

    expect(result.code).toBe(EXIT_CODES.ok);
    expect(JSON.parse(result.out)).toMatchObject({ room: call.room, state: 'completed', outcome: 'answered' });
  });

  test('failures exit non-zero with the documented code', async () => {
    const result = await spawnCli('status', 'transfer:nowhere:nobody');

    expect(result.code).toBe(EXIT_CODES.notFound);
    expect(result.err).toContain("no transfer with workflow id 'transfer:nowhere:nobody'");
  });
});
