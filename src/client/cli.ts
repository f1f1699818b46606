#!/usr/bin/env node
/**
 * `switchboard`: the operator's command line. Starts, follows, inspects, lists and cancels transfers through the
 * typed client, and points Daily's webhook at the relay. Human-readable output by default, `--json` for scripts,
 * and a documented exit code for every kind of failure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Client,
  Connection,
  NamespaceNotFoundError,
  ServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  isGrpcServiceError,
} from '@temporalio/client';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, temporalConnectionOptions } from '../config';
import { DailyApiError, DailyClient } from '../daily';
import { DEFAULTS, TransferInputError, isE164, type TransferRequest } from '../input';
import { newWebhookSecret, RotationNotReadyError, rotateWebhookSecret } from '../relay/secret-rotation';
import { SpoolError } from '../relay/spool';
import { isBase64Secret } from '../relay/webhook-auth';
import { setupWebhook, WebhookInUseError, webhookStatus } from '../relay/webhook-setup';
import type { AttemptOutcome, OnExhausted, TransferMethod, TransferState, TransferStatus } from '../shared';
import { ATTEMPT_OUTCOMES, FINAL_STATES } from '../shared';
import { cliDailyConfig, cliTemporalConfig, type DailyFlags, type TemporalFlags } from './cli-config';
import {
  clock,
  describeProgress,
  formatList,
  formatStatus,
  formatWebhookSetup,
  formatWebhookStatus,
} from './cli-format';
import { formatReplayReport, replayTransfers } from './replay';
import { DEAD_LETTER_REASONS, deadLettersJson, formatDeadLetters, readDeadLetters } from './dead-letters';
import { TransferAlreadyRunningError, TransferClient } from './transfers';

/** Every exit code the CLI uses, and what it means (printed by `--help`). */
export const EXIT_CODES = {
  ok: 0,
  unsuccessful: 1,
  usage: 2,
  alreadyRunning: 3,
  notFound: 4,
  temporalUnreachable: 5,
  dailyError: 6,
  replayFailed: 7,
} as const;
type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

const EXIT_CODE_MEANINGS: Record<keyof typeof EXIT_CODES, string> = {
  ok: 'success',
  unsuccessful: 'the transfer ended failed or canceled (--wait), the webhook has problems, or an unexpected error',
  usage: 'bad arguments, transfer input or configuration',
  alreadyRunning: 'a transfer with another request id is already running for this caller leg',
  notFound: 'no transfer with that workflow id',
  temporalUnreachable: 'the Temporal server cannot be reached',
  dailyError: "Daily's API failed or refused the request (webhook commands)",
  replayFailed: 'a history did not replay against this code (replay): deploying it would break running transfers',
};

const HELP_EPILOG = [
  '',
  'Exit codes:',
  ...Object.entries(EXIT_CODES).map(
    ([name, code]) => `  ${code}  ${EXIT_CODE_MEANINGS[name as keyof typeof EXIT_CODES]}`
  ),
  '',
  'Environment (flags take precedence): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,',
  'TEMPORAL_API_KEY, TEMPORAL_TLS_CERT_PATH + TEMPORAL_TLS_KEY_PATH and the other TEMPORAL_* variables of',
  "Temporal's environment configuration, over the profile (--profile, TEMPORAL_PROFILE) of its config file",
  '(TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml); DAILY_API_KEY, DAILY_API_URL (webhook commands).',
].join('\n');

/** A failure the CLI explains in one line and maps to its exit code. */
class CliError extends Error {
  constructor(
    message: string,
    public readonly exitCode: ExitCode
  ) {
    super(message);
  }
}

/** Success means the caller ended up somewhere on purpose; `failed` and `canceled` do not. */
const SUCCESSFUL_STATES: readonly TransferState[] = ['completed', 'rolled_back', 'referred'];
/** At the decision an answered call is still being followed (`answered`): that is success too. */
const DECIDED_OK_STATES: readonly TransferState[] = [...SUCCESSFUL_STATES, 'answered'];
/** Exhaustive by construction: a new state or outcome in shared.ts fails to compile until it is listed here. */
const STATES = Object.keys({
  requested: 1,
  triggered: 1,
  initiated: 1,
  answered: 1,
  completed: 1,
  falling_back: 1,
  rolled_back: 1,
  referred: 1,
  failed: 1,
  canceled: 1,
} satisfies Record<TransferState, 1>);
const OUTCOMES: readonly string[] = ATTEMPT_OUTCOMES;

/** How often `transfer --wait` asks the workflow for its state. */
const POLL_INTERVAL_MS = 500;
/** A CLI should say quickly that it cannot reach the server rather than hang on a typo'd address. */
const CONNECT_TIMEOUT_MS = 5_000;
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_UNAVAILABLE = 14;

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Where configuration is read from; `process.env` by default. */
  env?: NodeJS.ProcessEnv;
}

interface GlobalFlags {
  json?: boolean;
  verbose?: boolean;
}

interface Context {
  io: CliIo;
  env: NodeJS.ProcessEnv;
  /** Set once a command connects, so a lost connection is reported with the address it was for. */
  temporalAddress?: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Argument parsers
// ---------------------------------------------------------------------------------------------------------------

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function wholeSeconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number of seconds.');
  return Number(value);
}

function positiveInteger(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('must be a positive whole number.');
  return Number(value);
}

function onExhaustedPolicy(value: string): OnExhausted {
  if (value === 'rollback' || value === 'hangup' || value === 'none') return { action: value };
  if (value.startsWith('refer:')) return { action: 'refer', toEndPoint: value.slice('refer:'.length) };
  throw new InvalidArgumentError('must be rollback, hangup, none or refer:<sip-uri>.');
}

function httpUrl(value: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url?.protocol !== 'https:' && url?.protocol !== 'http:')
    throw new InvalidArgumentError('must be an http(s) URL.');
  return value;
}

function base64Secret(value: string): string {
  if (!isBase64Secret(value)) throw new InvalidArgumentError('must be a base64 secret.');
  return value;
}

/** Names a request field by the flag that sets it, so a TransferInputError reads in the CLI's own terms. */
function flagFor(path: string): string {
  const [head, index, field] = path.split('.');
  if (head === 'attempts') {
    const flags: Record<string, string> = {
      toEndPoint: `--to #${Number(index) + 1}`,
      method: '--method',
      callerId: '--caller-id',
      extension: '--extension',
      waitBeforeExtensionDialSec: '--extension-wait',
      answerTimeoutSec: '--answer-timeout',
    };
    return (field && flags[field]) ?? '--to';
  }
  if (head === 'onExhausted') return index === 'returnTo' ? '--return-to' : '--on-exhausted';
  const flags: Record<string, string> = { room: '--room', sessionId: '--session', requestId: '--request-id' };
  return (head && flags[head]) ?? '(request)';
}

// ---------------------------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------------------------

async function withTransfers<T>(
  ctx: Context,
  flags: TemporalFlags,
  use: (transfers: TransferClient) => Promise<T>
): Promise<T> {
  const { taskQueue } = cliTemporalConfig(ctx.env, flags);
  return withClient(ctx, flags, (client) => use(new TransferClient(client, taskQueue)));
}

async function withClient<T>(ctx: Context, flags: TemporalFlags, use: (client: Client) => Promise<T>): Promise<T> {
  const { temporal } = cliTemporalConfig(ctx.env, flags);
  let options: ReturnType<typeof temporalConnectionOptions>;
  try {
    options = temporalConnectionOptions(temporal);
  } catch (err) {
    // An unreadable TLS certificate or key: its message names the file.
    throw new CliError(messageOf(err), EXIT_CODES.usage);
  }
  ctx.temporalAddress = temporal.address;
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: CONNECT_TIMEOUT_MS });
  } catch (err) {
    throw unreachable(temporal.address, err);
  }
  try {
    return await use(new Client({ connection, namespace: temporal.namespace }));
  } finally {
    await connection.close();
  }
}

async function withDaily<T>(ctx: Context, flags: DailyFlags, use: (daily: DailyClient) => Promise<T>): Promise<T> {
  const config = cliDailyConfig(ctx.env, flags);
  let daily: DailyClient;
  try {
    daily = new DailyClient({ apiKey: config.apiKey, baseUrl: config.apiUrl });
  } catch (err) {
    throw new CliError(messageOf(err), EXIT_CODES.usage);
  }
  try {
    return await use(daily);
  } finally {
    await daily.close();
  }
}

function unreachable(address: string, err: unknown): CliError {
  return new CliError(
    `cannot reach the Temporal server at ${address} (${messageOf(err)})`,
    EXIT_CODES.temporalUnreachable
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------------------------

interface TransferFlags extends TemporalFlags {
  room: string;
  session: string;
  to: string[];
  method: TransferMethod;
  callerId?: string;
  extension?: string;
  extensionWait?: number;
  answerTimeout?: number;
  onExhausted?: OnExhausted;
  returnTo?: string;
  requestId?: string;
  /** `end` (also plain `--wait`): follow it live to the end. `decision`: one round trip, until it is decided. */
  wait?: WaitUntil;
}

type WaitUntil = 'end' | 'decision';

function transferRequest(flags: TransferFlags): TransferRequest {
  if (flags.returnTo !== undefined && flags.onExhausted !== undefined && flags.onExhausted.action !== 'rollback') {
    throw new CliError('--return-to applies only to --on-exhausted rollback', EXIT_CODES.usage);
  }
  const onExhausted: OnExhausted =
    flags.returnTo !== undefined
      ? { action: 'rollback', returnTo: flags.returnTo }
      : (flags.onExhausted ?? { action: 'rollback' });
  const anyPstn = flags.to.some(isE164);
  return {
    room: flags.room,
    sessionId: flags.session,
    requestId: flags.requestId,
    onExhausted,
    attempts: flags.to.map((toEndPoint) => ({
      method: flags.method,
      toEndPoint,
      answerTimeoutSec: flags.answerTimeout,
      // The phone-only options go to the PSTN destinations of a mixed list; with none, to every destination, so
      // validation names the mistake instead of the options being dropped silently.
      ...(!anyPstn || isE164(toEndPoint)
        ? { callerId: flags.callerId, extension: flags.extension, waitBeforeExtensionDialSec: flags.extensionWait }
        : {}),
    })),
  };
}

async function transferCommand(ctx: Context, flags: TransferFlags & GlobalFlags): Promise<ExitCode> {
  const request = transferRequest(flags);
  const out = (text: string) => ctx.io.stdout.write(text);
  return withTransfers(ctx, flags, async (transfers) => {
    if (flags.wait === 'decision') {
      // Update-with-start: started (or joined, same request id) and decided in one call, without polling.
      const { workflowId, decision } = await transfers.decide(request);
      out(
        flags.json ? `${JSON.stringify(decision)}\n` : `Transfer ${workflowId} decided.\n\n${formatStatus(decision)}`
      );
      return DECIDED_OK_STATES.includes(decision.state) ? EXIT_CODES.ok : EXIT_CODES.unsuccessful;
    }
    const started = await transfers.start(request);
    const { workflowId } = started;
    if (!flags.wait) {
      if (flags.json) {
        const { runId, requestId, existing } = started;
        out(`${JSON.stringify({ workflowId, runId, requestId, existing })}\n`);
      } else {
        out(
          started.existing
            ? `Transfer ${workflowId} is already running with this request id; it was not started again.\n`
            : `Started transfer ${workflowId} (request id ${started.requestId}).\n`
        );
        out(`Follow it:  switchboard status '${workflowId}'\nCancel it:  switchboard cancel '${workflowId}'\n`);
      }
      return EXIT_CODES.ok;
    }
    if (!flags.json) {
      out(
        started.existing
          ? `Following the running transfer ${workflowId} (same request id; not started again).\n`
          : `Started transfer ${workflowId} (request id ${started.requestId}).\n`
      );
      out('Following it live; Ctrl-C stops following, not the transfer.\n');
    }
    const final = await follow(transfers, workflowId, (lines) => {
      if (flags.json) return;
      const at = clock(Date.now());
      for (const line of lines) out(`${at}  ${line}\n`);
    });
    out(flags.json ? `${JSON.stringify(final)}\n` : `\n${formatStatus(final)}`);
    return SUCCESSFUL_STATES.includes(final.state) ? EXIT_CODES.ok : EXIT_CODES.unsuccessful;
  });
}

/**
 * Polls the `status` query until the workflow closes, reporting what changed since the last poll, and returns the
 * final status. The workflow's result is awaited alongside so the loop ends the moment it closes, however it closes.
 */
async function follow(
  transfers: TransferClient,
  workflowId: string,
  progress: (lines: string[]) => void
): Promise<TransferStatus> {
  let closed = false;
  const result = transfers.result(workflowId).then(
    () => undefined,
    (err: unknown) => err
  );
  void result.finally(() => (closed = true));
  let last: TransferStatus | undefined;
  const show = (status: TransferStatus) => {
    progress(describeProgress(last, status));
    last = status;
  };
  while (!closed) {
    // A poll that fails (a busy worker times the query out) is skipped: the workflow's result ends the loop.
    const status = await transfers.status(workflowId).catch(() => undefined);
    if (status) show(status);
    await Promise.race([sleep(POLL_INTERVAL_MS, undefined, { ref: false }), result]);
  }
  const failure = await result;
  const final = await transfers.status(workflowId);
  show(final);
  if (!FINAL_STATES.includes(final.state) && failure !== undefined) {
    throw new CliError(`the transfer workflow ended in ${final.state}: ${messageOf(failure)}`, EXIT_CODES.unsuccessful);
  }
  return final;
}

async function statusCommand(ctx: Context, workflowId: string, flags: TemporalFlags & GlobalFlags): Promise<ExitCode> {
  const status = await withTransfers(ctx, flags, (transfers) => transfers.status(workflowId));
  ctx.io.stdout.write(flags.json ? `${JSON.stringify(status)}\n` : formatStatus(status));
  return EXIT_CODES.ok;
}

interface ListFlags extends TemporalFlags, GlobalFlags {
  state?: TransferState;
  outcome?: AttemptOutcome;
  room?: string;
  limit: number;
}

async function listCommand(ctx: Context, flags: ListFlags): Promise<ExitCode> {
  const { state, outcome, room, limit } = flags;
  const items = await withTransfers(ctx, flags, (transfers) => transfers.list({ state, outcome, room, limit }));
  ctx.io.stdout.write(flags.json ? `${JSON.stringify(items)}\n` : formatList(items));
  return EXIT_CODES.ok;
}

async function cancelCommand(
  ctx: Context,
  workflowId: string,
  flags: TemporalFlags & GlobalFlags & { reason?: string }
): Promise<ExitCode> {
  const { final, alreadyFinished } = await withTransfers(ctx, flags, async (transfers) => {
    try {
      return { final: await transfers.cancel(workflowId, flags.reason), alreadyFinished: false };
    } catch (err) {
      // The server answers an Update to a closed workflow with "not found", and the workflow rejects one that
      // arrives as it finishes. Either way there is nothing left to cancel: say how it ended. An unknown id fails
      // the status query too, and is reported as such.
      if (!(err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError)) throw err;
      return { final: await transfers.status(workflowId), alreadyFinished: true };
    }
  });
  if (flags.json) {
    ctx.io.stdout.write(`${JSON.stringify(final)}\n`);
  } else {
    ctx.io.stdout.write(
      alreadyFinished
        ? `Transfer ${workflowId} had already finished (${final.state}); nothing to cancel.\n\n`
        : `Canceled; the transfer ended ${final.state}.\n\n`
    );
    ctx.io.stdout.write(formatStatus(final));
  }
  return EXIT_CODES.ok;
}

async function webhookSetupCommand(
  ctx: Context,
  flags: DailyFlags &
    GlobalFlags & { url: string; hmac?: string; forwardTo?: string; replace?: boolean; rotate?: boolean }
): Promise<ExitCode> {
  if (flags.rotate) return webhookRotateCommand(ctx, flags);
  if (flags.forwardTo !== undefined && flags.hmac === undefined) {
    // Daily keeps a webhook's hmac when it is updated: without --hmac it would go on signing with the receiver's
    // secret, which the relay does not verify with.
    throw new CliError("--forward-to needs --hmac <the relay's DAILY_WEBHOOK_SECRET>", EXIT_CODES.usage);
  }
  const result = await withDaily(ctx, flags, (daily) =>
    setupWebhook({ daily, url: flags.url, hmac: flags.hmac, forwardTo: flags.forwardTo, replace: flags.replace })
  );
  // Only a secret Daily generated is news to the operator; one passed with --hmac or kept from before is not.
  const generated = flags.hmac === undefined && result.action === 'created' ? result.secret : undefined;
  ctx.io.stdout.write(
    flags.json
      ? `${JSON.stringify({ action: result.action, webhook: result.webhook, ...(generated ? { secret: generated } : {}) })}\n`
      : formatWebhookSetup(result, { generated, chosen: flags.hmac !== undefined })
  );
  return EXIT_CODES.ok;
}

/**
 * `webhook setup --rotate`, in two runs so no delivery is ever refused: without `--hmac` it makes the new secret and
 * says what to give the relays; with `--hmac <new>` it checks the relays verify it, then switches Daily to it.
 */
async function webhookRotateCommand(
  ctx: Context,
  flags: DailyFlags & GlobalFlags & { url: string; hmac?: string }
): Promise<ExitCode> {
  if (flags.hmac === undefined) {
    const secret = newWebhookSecret();
    ctx.io.stdout.write(
      flags.json
        ? `${JSON.stringify({ action: 'rotation-started', secret })}\n`
        : [
            'New signing secret (shown only now):',
            `  ${secret}`,
            '',
            '1. Give every relay DAILY_WEBHOOK_SECRET=<the new secret> and DAILY_WEBHOOK_SECRET_PREVIOUS=<the current one>',
            '   (per domain: DAILY_WEBHOOK_SECRETS=<domainId>=<new>:<current>) and restart them.',
            `2. switchboard webhook setup --url ${flags.url} --rotate --hmac <the new secret>`,
            '   checks the relays accept it, then has Daily sign with it.',
            '3. An hour later (Daily may still retry older events), drop the previous secret.',
            '',
          ].join('\n')
    );
    return EXIT_CODES.ok;
  }
  const newSecret = flags.hmac;
  const result = await withDaily(ctx, flags, (daily) => rotateWebhookSecret({ daily, url: flags.url, newSecret }));
  ctx.io.stdout.write(
    flags.json
      ? `${JSON.stringify({ action: 'rotated', webhook: result.webhook })}\n`
      : `${formatWebhookSetup(result, { chosen: true })}Daily signs with the new secret now. Drop the previous secret from the relays in an hour.\n`
  );
  return EXIT_CODES.ok;
}

async function webhookStatusCommand(
  ctx: Context,
  flags: DailyFlags & GlobalFlags & { url?: string }
): Promise<ExitCode> {
  const status = await withDaily(ctx, flags, (daily) => webhookStatus({ daily, url: flags.url }));
  ctx.io.stdout.write(flags.json ? `${JSON.stringify(status)}\n` : formatWebhookStatus(status));
  return status.problems.length === 0 ? EXIT_CODES.ok : EXIT_CODES.unsuccessful;
}

async function webhookDeadLettersCommand(
  ctx: Context,
  flags: GlobalFlags & { spool?: string; reason?: string; limit: number }
): Promise<ExitCode> {
  const report = readDeadLetters({ spool: flags.spool, env: ctx.env, reason: flags.reason, limit: flags.limit });
  ctx.io.stdout.write(flags.json ? deadLettersJson(report) : formatDeadLetters(report));
  return EXIT_CODES.ok;
}

async function replayCommand(
  ctx: Context,
  flags: TemporalFlags & GlobalFlags & { query?: string; limit: number }
): Promise<ExitCode> {
  const report = await withClient(ctx, flags, async (client) => {
    try {
      return await replayTransfers({
        client,
        query: flags.query,
        limit: flags.limit,
        onResult: flags.json
          ? undefined
          : (workflowId, failure) => ctx.io.stdout.write(`${failure ? 'FAIL' : 'ok  '}  ${workflowId}\n`),
      });
    } catch (err) {
      if (isGrpcCode(err, GRPC_INVALID_ARGUMENT))
        throw new CliError(`invalid --query: ${messageOf(err)}`, EXIT_CODES.usage);
      throw err;
    }
  });
  ctx.io.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : formatReplayReport(report));
  return report.failures.length === 0 ? EXIT_CODES.ok : EXIT_CODES.replayFailed;
}

// ---------------------------------------------------------------------------------------------------------------
// The program
// ---------------------------------------------------------------------------------------------------------------

function temporalOptions(command: Command): Command {
  return command
    .option('--address <host:port>', 'Temporal server (TEMPORAL_ADDRESS; default 127.0.0.1:7233)')
    .option('--namespace <name>', 'Temporal namespace (TEMPORAL_NAMESPACE; default "default")')
    .option(
      '--profile <name>',
      'profile of Temporal\'s config file to connect with, as `temporal --profile` (TEMPORAL_PROFILE; default "default")'
    );
}

function dailyOptions(command: Command): Command {
  return command
    .option('--daily-api-key <key>', 'Daily API key (DAILY_API_KEY; prefer the variable: flags show in `ps`)')
    .option('--daily-api-url <url>', 'Daily API base URL (DAILY_API_URL; default https://api.daily.co/v1)');
}

function buildProgram(ctx: Context, setExitCode: (code: ExitCode) => void): Command {
  const action =
    <A extends unknown[]>(handler: (...args: A) => Promise<ExitCode>) =>
    async (...args: A): Promise<void> => {
      setExitCode(await handler(...args));
    };
  /** The command's own options merged with the program's (`--json`, `--verbose`). */
  const flagsOf = <T>(command: Command): T => command.optsWithGlobals<T & GlobalFlags>();

  const program = new Command('switchboard')
    .description('Durable SIP/PSTN call transfers for Daily, orchestrated by Temporal.')
    .option('--json', 'print JSON for scripts instead of text')
    .option('--verbose', 'print stack traces with errors')
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => ctx.io.stdout.write(text),
      writeErr: (text) => ctx.io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('afterAll', HELP_EPILOG)
    .exitOverride();

  temporalOptions(
    program
      .command('transfer')
      .description('Start a transfer: move a caller leg to the first destination that answers.')
      .requiredOption('--room <name>', 'Daily room the caller is in')
      .requiredOption('--session <id>', "session id of the caller's SIP/PSTN leg")
      .requiredOption(
        '--to <endpoint>',
        'destination: a sip: URI or E.164 number; repeat it for more destinations, tried in order',
        collect
      )
      .addOption(
        new Option('--method <method>', 'how to transfer, for every --to')
          .choices(['sipCallTransfer', 'sipRefer'])
          .default('sipCallTransfer')
      )
      .option('--caller-id <id>', 'Daily purchased-number id shown to PSTN destinations')
      .option('--extension <digits>', 'digits dialled once a PSTN destination answers')
      .option('--extension-wait <sec>', 'seconds to wait before dialling the extension', wholeSeconds)
      .option(
        '--answer-timeout <sec>',
        `seconds each destination may ring (default ${DEFAULTS.answerTimeoutSec})`,
        wholeSeconds
      )
      .option(
        '--on-exhausted <policy>',
        'when no destination answers: rollback, hangup, none or refer:<sip-uri> (default rollback)',
        onExhaustedPolicy
      )
      .option('--return-to <sip-uri>', "with rollback: where the caller goes back to (default: the room's SIP URI)")
      .option('--request-id <id>', 'idempotency key: starting again with it returns the running transfer')
      .addOption(
        new Option(
          '--wait [until]',
          'follow the transfer live until it ends; "--wait decision" returns as soon as it is decided (answered, ' +
            'fell back, failed), in one round trip; with --json, print only that state'
        )
          .choices(['end', 'decision'])
          .preset('end')
      )
  )
    .option('--task-queue <name>', 'task queue the worker polls (TEMPORAL_TASK_QUEUE; default "switchboard")')
    .action(action((_opts: unknown, command: Command) => transferCommand(ctx, flagsOf<TransferFlags>(command))));

  temporalOptions(
    program
      .command('status')
      .description('Show a transfer: state, outcome, each destination tried and why it ended, fallback.')
      .argument('<workflowId>', 'the transfer (transfer:<room>:<session>)')
  ).action(
    action((workflowId: string, _opts: unknown, command: Command) =>
      statusCommand(ctx, workflowId, flagsOf<TemporalFlags>(command))
    )
  );

  temporalOptions(
    program
      .command('list')
      .description('List transfers, newest first.')
      .addOption(new Option('--state <state>', 'only transfers in this state').choices(STATES))
      .addOption(new Option('--outcome <outcome>', 'only transfers with this outcome').choices(OUTCOMES))
      .option('--room <name>', 'only transfers of callers in this Daily room')
      .option('--limit <n>', 'at most this many', positiveInteger, 20)
  ).action(action((_opts: unknown, command: Command) => listCommand(ctx, flagsOf<ListFlags>(command))));

  temporalOptions(
    program
      .command('cancel')
      .description(
        'Cancel a running transfer (its fallback still runs if the caller was moved out) and show how it ended. ' +
          'A transfer that already finished is shown as it ended.'
      )
      .argument('<workflowId>', 'the transfer (transfer:<room>:<session>)')
      .option('--reason <text>', 'why, recorded in the transfer', 'canceled with switchboard cancel')
  ).action(
    action((workflowId: string, _opts: unknown, command: Command) =>
      cancelCommand(ctx, workflowId, flagsOf<TemporalFlags & { reason?: string }>(command))
    )
  );

  temporalOptions(
    program
      .command('replay')
      .description(
        "Replay recent transfer histories against this build's workflow code (run it before deploying): exit 7 if " +
          'any does not replay.'
      )
      .option(
        '--query <visibility-query>',
        'which transfers, e.g. "CloseTime > \'2026-01-01T00:00:00Z\'" (default: all)'
      )
      .option('--limit <n>', 'at most this many, newest first', positiveInteger, 100)
  ).action(
    action((_opts: unknown, command: Command) =>
      replayCommand(ctx, flagsOf<TemporalFlags & { query?: string; limit: number }>(command))
    )
  );

  const webhook = program.command('webhook').description("Daily's webhook to the relay: set it up, check it.");
  dailyOptions(
    webhook
      .command('setup')
      .description(
        "Point the Daily domain's webhook at the relay with exponential retries and the transfer events. " +
          'The relay must already be reachable: Daily checks the URL. A webhook pointing elsewhere is never ' +
          'replaced silently: see --forward-to and --replace.'
      )
      .requiredOption('--url <url>', "the relay's public webhook URL (https://…/webhooks/daily)", httpUrl)
      .option('--hmac <base64>', 'signing secret to use (default: Daily generates one, printed once)', base64Secret)
      .option(
        '--forward-to <url>',
        'the receiver the webhook points at now: take the webhook over and keep that receiver served, through the ' +
          'relay (which must already have RELAY_FORWARD_URL and RELAY_FORWARD_SECRET set for it)',
        httpUrl
      )
      .option('--replace', 'take over a webhook that points elsewhere: its receiver gets nothing more')
      .option(
        '--rotate',
        'rotate the signing secret without a 401: first run prints a new secret for the relays; run again with ' +
          '--hmac <it> once they have it, and Daily switches to it'
      )
  ).action(
    action((_opts: unknown, command: Command) =>
      webhookSetupCommand(
        ctx,
        flagsOf<DailyFlags & { url: string; hmac?: string; forwardTo?: string; replace?: boolean; rotate?: boolean }>(
          command
        )
      )
    )
  );
  dailyOptions(
    webhook
      .command('status')
      .description('Show the webhook and anything that would make Switchboard miss events (exit 1 if so).')
      .option('--url <url>', "the relay's public webhook URL: a webhook pointing elsewhere is a problem", httpUrl)
  ).action(
    action((_opts: unknown, command: Command) =>
      webhookStatusCommand(ctx, flagsOf<DailyFlags & { url?: string }>(command))
    )
  );
  webhook
    .command('dead-letters')
    .description(
      'Show the verified events the relay kept but could not use (malformed, a type nobody handles, no running ' +
        "transfer), newest first, read from the relay's spool."
    )
    .option('--spool <path>', "the relay's spool file (RELAY_SPOOL_PATH; default as the relay's)")
    .addOption(new Option('--reason <reason>', 'only dead letters with this reason').choices(DEAD_LETTER_REASONS))
    .option('--limit <n>', 'at most this many', positiveInteger, 20)
    .action(
      action((_opts: unknown, command: Command) =>
        webhookDeadLettersCommand(ctx, flagsOf<{ spool?: string; reason?: string; limit: number }>(command))
      )
    );

  return program;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

function messageOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // Temporal wraps the interesting part (`WorkflowFailedError` → its cause).
  return err.cause instanceof Error && err.cause.message ? `${err.message}: ${err.cause.message}` : err.message;
}

function isGrpcCode(err: unknown, code: number): boolean {
  const grpc = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(grpc) && grpc.code === code;
}

function isUnavailable(err: unknown): boolean {
  return isGrpcCode(err, GRPC_UNAVAILABLE);
}

/** One clear message and an exit code for anything a command throws. */
function explain(ctx: Context, err: unknown): { exitCode: ExitCode; message: string } {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message };
  if (err instanceof ConfigError) return { exitCode: EXIT_CODES.usage, message: err.message };
  if (err instanceof TransferInputError) {
    const lines = err.issues.map((issue) => `  ${flagFor(issue.path)} (${issue.path || 'request'}): ${issue.message}`);
    return { exitCode: EXIT_CODES.usage, message: ['invalid transfer request:', ...lines].join('\n') };
  }
  if (err instanceof TransferAlreadyRunningError) {
    return {
      exitCode: EXIT_CODES.alreadyRunning,
      message: `${err.message} (switchboard status '${err.workflowId}')`,
    };
  }
  if (err instanceof WorkflowNotFoundError) {
    return {
      exitCode: EXIT_CODES.notFound,
      message: `no transfer with workflow id '${err.workflowId}' (switchboard list shows the transfers)`,
    };
  }
  if (err instanceof NamespaceNotFoundError) {
    return {
      exitCode: EXIT_CODES.usage,
      message: `namespace '${err.namespace}' does not exist on the Temporal server (TEMPORAL_NAMESPACE, --namespace)`,
    };
  }
  if (ctx.temporalAddress !== undefined && isUnavailable(err)) {
    const { exitCode, message } = unreachable(ctx.temporalAddress, err);
    return { exitCode, message };
  }
  if (err instanceof DailyApiError) return { exitCode: EXIT_CODES.dailyError, message: err.message };
  if (err instanceof SpoolError) return { exitCode: EXIT_CODES.usage, message: err.message };
  if (err instanceof WebhookInUseError) return { exitCode: EXIT_CODES.unsuccessful, message: err.message };
  if (err instanceof RotationNotReadyError) return { exitCode: EXIT_CODES.unsuccessful, message: err.message };
  return { exitCode: EXIT_CODES.unsuccessful, message: messageOf(err) };
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code. Never throws and never
 * exits the process, so tests call it in-process.
 */
export async function run(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr }
): Promise<number> {
  const ctx: Context = { io, env: io.env ?? process.env };
  let exitCode: ExitCode = EXIT_CODES.ok;
  const program = buildProgram(ctx, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    // Commander has already printed its own message (or the help it was asked for).
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
    const { exitCode: code, message } = explain(ctx, err);
    io.stderr.write(`error: ${message}\n`);
    if (program.opts<GlobalFlags>().verbose && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return code;
  }
}

if (require.main === module) {
  // `switchboard list | head` closes the pipe early: stop quietly, as Unix tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? EXIT_CODES.ok);
  });
  void run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
