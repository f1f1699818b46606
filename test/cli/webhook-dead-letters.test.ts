/**
 * `switchboard webhook dead-letters` reading the spool of a relay that is running: verified deliveries the relay
 * could not use are listed with why, as text and as JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { EXIT_CODES, run } from '../../src/client/cli';
import { createRelay } from '../../src/relay/app';
import { Spool } from '../../src/relay/spool';
import { waitFor } from '../helpers/wait';
import { post, SECRET, signed, transferEvent } from '../relay/deliveries';

const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-cli-dead-letters-'));
const spoolPath = path.join(dataDir, 'relay-spool.sqlite');
let spool: Spool;
let relay: FastifyInstance;
let url: string;

beforeAll(async () => {
  spool = new Spool(spoolPath);
  relay = createRelay({
    // Temporal has no transfer for any leg here.
    temporal: {
      workflow: {
        getHandle: (workflowId) => ({
          signal: () => Promise.reject(new WorkflowNotFoundError('not found', workflowId, undefined)),
        }),
      },
      withDeadline: (_deadline, fn) => fn(),
    },
    secrets: SECRET,
    isTemporalReady: async () => true,
    spool,
  });
  url = await relay.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await relay?.close();
  spool?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env,
  });
  return { code, out, err };
}

test('lists what the running relay dead-lettered, newest first, with why; --json for scripts', async () => {
  const stray = transferEvent('calltransfer.answered', { room: 'lobby', session_id: 'nobody' });
  const joined = transferEvent('participant.joined', { room: 'lobby', session_id: 'someone' });
  expect((await post(url, signed(stray))).status).toBe(200);
  await waitFor('the stray event to be dead-lettered', () => spool.deadLetters().length === 1);
  expect((await post(url, signed(undefined, { body: '{"truncated":' }))).status).toBe(200);
  expect((await post(url, signed(joined))).status).toBe(200);

  const text = await cli({ RELAY_SPOOL_PATH: spoolPath }, 'webhook', 'dead-letters');
  expect(text).toMatchObject({ code: EXIT_CODES.ok, err: '' });
  expect(text.out).toContain(`Dead letters in ${spoolPath}: 3\n`);
  expect(text.out).toMatch(/^ {2}no_running_transfer +1$/m);
  const newest = text.out.split('Newest 3:\n')[1]?.split('\n') ?? [];
  expect(newest[0]).toMatch(new RegExp(`^  \\S+Z  ignored_type  participant\\.joined  ${joined.id as string}$`));
  expect(newest[2]).toMatch(/^ {2}\S+Z {2}malformed_json {2}\(no type\) {2}\(no id\)$/);
  expect(newest[3]).toBe('      body is not JSON');
  expect(newest[4]).toMatch(/no_running_transfer {2}calltransfer\.answered/);
  expect(newest[5]).toBe('      no running workflow transfer:lobby:nobody');

  const json = await cli(
    {},
    '--json',
    'webhook',
    'dead-letters',
    '--spool',
    spoolPath,
    '--reason',
    'no_running_transfer'
  );
  expect(json.code).toBe(EXIT_CODES.ok);
  expect(JSON.parse(json.out)).toEqual({
    spool: spoolPath,
    counts: { no_running_transfer: 1, malformed_json: 1, ignored_type: 1 },
    deadLetters: [
      {
        id: expect.any(Number),
        eventId: stray.id,
        type: 'calltransfer.answered',
        domainId: 'domain-a',
        reason: 'no_running_transfer',
        detail: 'no running workflow transfer:lobby:nobody',
        body: expect.stringContaining('"sessionId":"nobody"'),
        receivedAt: expect.stringMatching(/Z$/),
        deadAt: expect.stringMatching(/Z$/),
      },
    ],
  });
});

test('a spool that does not exist → exit 2 naming the path and the variable', async () => {
  const missing = path.join(dataDir, 'nope.sqlite');
  const result = await cli({}, 'webhook', 'dead-letters', '--spool', missing);
  expect(result.code).toBe(EXIT_CODES.usage);
  expect(result.err).toBe(
    `error: no relay spool at ${missing} (set --spool or RELAY_SPOOL_PATH to the relay's spool file)\n`
  );
});

test('an unknown --reason → exit 2 listing the reasons', async () => {
  const result = await cli({}, 'webhook', 'dead-letters', '--spool', spoolPath, '--reason', 'bored');
  expect(result.code).toBe(EXIT_CODES.usage);
  expect(result.err).toMatch(/Allowed choices are malformed_json, invalid_event, ignored_type, no_running_transfer/);
});
