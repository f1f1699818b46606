/**
 * `switchboard webhook setup|status` against the sandbox's webhook API, pointing at the stack's running relay (Daily
 * checks the URL when the webhook is created or updated, so the relay must answer).
 */
import { EXIT_CODES, run } from '../../src/client/cli';
import { WEBHOOK_PATH } from '../../src/relay/app';
import type { SetupResult, WebhookStatus } from '../../src/relay/webhook-setup';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { FAST_TIMING, startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
/** A Daily domain with no webhook yet; the stack's own sandbox already has one, set up by `startStack`. */
let fresh: Sandbox;
let relayHook: string;
beforeAll(async () => {
  stack = await startStack();
  fresh = await startSandbox({ port: 0, timing: FAST_TIMING });
  relayHook = `${stack.relayUrl}${WEBHOOK_PATH}`;
});
afterAll(async () => {
  await fresh?.close();
  await stack?.close();
});

interface Outcome {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in-process with Daily's key and URL in the environment, as an operator would. */
async function cli(daily: Sandbox | undefined, ...args: string[]): Promise<Outcome> {
  let out = '';
  let err = '';
  const code = await run(args, {
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
    env: daily ? { DAILY_API_KEY: daily.apiKey, DAILY_API_URL: daily.apiBase } : {},
  });
  return { code, out, err };
}

test('setup creates the webhook and prints the secret Daily generated, once', async () => {
  const created = await cli(fresh, 'webhook', 'setup', '--url', relayHook);

  expect(created).toMatchObject({ code: EXIT_CODES.ok, err: '' });
  const [webhook] = fresh.webhooks();
  expect(webhook).toMatchObject({ url: relayHook, retryType: 'exponential' });
  expect(created.out).toMatch(/^Webhook created\n/);
  expect(created.out).toMatch(/retry type +exponential/);
  expect(created.out).toContain(`Daily generated the signing secret (shown only now):\n  ${webhook?.hmac}\n`);
  expect(created.out).toContain('Put it in DAILY_WEBHOOK_SECRET for the relay.');

  const again = await cli(fresh, 'webhook', 'setup', '--url', relayHook);
  expect(again.code).toBe(EXIT_CODES.ok);
  expect(again.out).toMatch(/^Webhook unchanged\n/);
  expect(again.out).not.toContain(webhook?.hmac);
});

test('setup with --hmac uses that secret and never prints it', async () => {
  const secret = Buffer.from('a secret the operator chose, 32 b').toString('base64');

  const updated = await cli(fresh, 'webhook', 'setup', '--url', relayHook, '--hmac', secret);

  expect(updated.code).toBe(EXIT_CODES.ok);
  expect(updated.out).toMatch(/^Webhook updated\n/);
  expect(updated.out).not.toContain(secret);
  expect(updated.out).not.toContain('signing secret');
  expect(fresh.webhooks()[0]?.hmac).toBe(secret);

  const again = await cli(fresh, '--json', 'webhook', 'setup', '--url', relayHook, '--hmac', secret);
  const result = JSON.parse(again.out) as SetupResult;
  expect(result).toMatchObject({ action: 'unchanged', webhook: { url: relayHook, retryType: 'exponential' } });
  expect(result.secret).toBeUndefined();
});

test("setup against the stack's configured webhook changes nothing", async () => {
  const result = await cli(stack.sandbox, '--json', 'webhook', 'setup', '--url', relayHook);

  expect(result.code).toBe(EXIT_CODES.ok);
  expect(JSON.parse(result.out)).toEqual({ action: 'unchanged', webhook: expect.objectContaining({ url: relayHook }) });
  expect(result.out).not.toContain(stack.webhookSecret);
});

test('status: OK exits 0; problems are listed and exit 1', async () => {
  const ok = await cli(stack.sandbox, 'webhook', 'status', '--url', relayHook);
  expect(ok.code).toBe(EXIT_CODES.ok);
  expect(ok.out).toMatch(/state +ACTIVE/);
  expect(ok.out).toContain('OK: Switchboard receives every transfer event.');
  const okJson = JSON.parse((await cli(stack.sandbox, '--json', 'webhook', 'status')).out) as WebhookStatus;
  expect(okJson).toMatchObject({ webhook: { url: relayHook, state: 'ACTIVE' }, problems: [] });

  const elsewhere = await cli(stack.sandbox, 'webhook', 'status', '--url', 'https://relay.example.com/webhooks/daily');
  expect(elsewhere.code).toBe(EXIT_CODES.unsuccessful);
  expect(elsewhere.out).toContain(`  - url is ${relayHook}, expected https://relay.example.com/webhooks/daily`);

  const empty = await startSandbox({ port: 0, timing: FAST_TIMING });
  try {
    const none = await cli(empty, 'webhook', 'status');
    expect(none.code).toBe(EXIT_CODES.unsuccessful);
    expect(none.out).toContain('no webhook configured: run `switchboard webhook setup`');
  } finally {
    await empty.close();
  }
});

test('flags override the environment', async () => {
  const result = await cli(
    undefined,
    ...['webhook', 'status', '--daily-api-key', stack.sandbox.apiKey, '--daily-api-url', stack.sandbox.apiBase]
  );
  expect(result.code).toBe(EXIT_CODES.ok);
});

test('setup never silently replaces a webhook that points elsewhere: exit 1 saying what exists; --replace takes it', async () => {
  const other = await startSandbox({ port: 0, timing: FAST_TIMING });
  // The customer's own receiver (here: any URL that answers Daily's verification).
  const theirs = `${relayHook}?customer=1`;
  try {
    await run(['webhook', 'setup', '--url', theirs], {
      stdout: { write: () => true },
      stderr: { write: () => true },
      env: { DAILY_API_KEY: other.apiKey, DAILY_API_URL: other.apiBase },
    });

    const refused = await cli(other, 'webhook', 'setup', '--url', relayHook);
    expect(refused.code).toBe(EXIT_CODES.unsuccessful);
    expect(refused.err).toContain(`error: the domain's webhook already points at ${theirs}`);
    expect(refused.err).toContain(`--forward-to ${theirs}`);
    expect(other.webhooks()).toMatchObject([{ url: theirs }]);

    const noSecret = await cli(other, 'webhook', 'setup', '--url', relayHook, '--forward-to', theirs);
    expect(noSecret.code).toBe(EXIT_CODES.usage);
    expect(noSecret.err).toContain("--forward-to needs --hmac <the relay's DAILY_WEBHOOK_SECRET>");

    const replaced = await cli(other, '--json', 'webhook', 'setup', '--url', relayHook, '--replace');
    expect(replaced.code).toBe(EXIT_CODES.ok);
    expect(JSON.parse(replaced.out)).toMatchObject({ action: 'updated', webhook: { url: relayHook } });
  } finally {
    await other.close();
  }
});

describe('errors', () => {
  test('no Daily API key → exit 2 naming the variable and the flag', async () => {
    const result = await cli(undefined, 'webhook', 'status');
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.err).toContain('DAILY_API_KEY: is required (or --daily-api-key)');
  });

  test.each([
    ['a missing --url', ['webhook', 'setup'], /required option '--url <url>'/],
    ['a --url that is no URL', ['webhook', 'setup', '--url', 'relay'], /'--url <url>' argument 'relay' is invalid/],
    [
      'a --hmac that is no base64',
      ['webhook', 'setup', '--url', 'https://r.example.com', '--hmac', 'no way!'],
      /base64/,
    ],
    ['an unknown subcommand', ['webhook', 'delete'], /unknown command 'delete'/],
  ])('%s → exit 2', async (_what, args, message) => {
    const result = await cli(fresh, ...args);
    expect(result.code).toBe(EXIT_CODES.usage);
    expect(result.err).toMatch(message);
  });

  test("Daily's API refusing the key → exit 6, the key not printed", async () => {
    let err = '';
    const code = await run(['webhook', 'status'], {
      stdout: { write: () => true },
      stderr: { write: (text: string) => (err += text) },
      env: { DAILY_API_KEY: 'wrong-key-123', DAILY_API_URL: fresh.apiBase },
    });
    expect(code).toBe(EXIT_CODES.dailyError);
    expect(err).toMatch(/^error: Daily GET \/webhooks: .*401/);
    expect(err).not.toContain('wrong-key-123');
  });

  test('a relay Daily cannot reach → exit 6 with what Daily said', async () => {
    // --replace: the domain's webhook points at the stack's relay, and this moves it on purpose.
    const result = await cli(fresh, 'webhook', 'setup', '--url', 'http://127.0.0.1:1/webhooks/daily', '--replace');
    expect(result.code).toBe(EXIT_CODES.dailyError);
    expect(result.err).toMatch(/^error: Daily POST \/webhooks\/.+: /);
  });
});
