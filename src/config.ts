/**
 * Environment configuration for the production processes, validated once at start. Errors name every bad or
 * missing variable, never their values (some are secrets).
 */
import { existsSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';
import { loadClientConfigProfile, toClientOptions } from '@temporalio/envconfig';
import type { ClientConfigProfile, ClientConfigTLS } from '@temporalio/envconfig';
import { z } from 'zod';
import { DEFAULT_DAILY_API_BASE } from './daily/client';
import { TASK_QUEUE } from './shared';

export class ConfigError extends Error {
  public readonly name = 'ConfigError';
  constructor(
    public readonly process: string,
    public readonly issues: string[]
  ) {
    super(`invalid ${process} configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
  }
}

const tlsFlag = z.enum(['true', 'false', '1', '0'], { error: 'must be true, false, 1 or 0' });

/**
 * Variables every process that talks to Temporal reads: Temporal's own environment configuration (the names its CLI
 * and SDKs read, resolved by `@temporalio/envconfig` together with a TOML profile), plus Switchboard's original
 * `TEMPORAL_TLS_CERT_PATH`/`TEMPORAL_TLS_KEY_PATH`, kept as aliases of `TEMPORAL_TLS_CLIENT_CERT_PATH`/`_KEY_PATH`.
 * No defaults here: a default would hide the profile's value; they are applied after the profile.
 */
export const temporalEnv = {
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_PROFILE: z.string().optional(),
  TEMPORAL_CONFIG_FILE: z.string().optional(),
  TEMPORAL_TLS: tlsFlag.optional(),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_CLIENT_CERT_DATA: z.string().optional(),
  TEMPORAL_TLS_CLIENT_KEY_DATA: z.string().optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
};

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** A Temporal client's settings, resolved from a config file profile and the environment (which wins). */
export interface TemporalConfig {
  address: string;
  namespace: string;
  /** The config file's profile that was asked for (`--profile`, `TEMPORAL_PROFILE`); otherwise `default`, if any. */
  profile?: string;
  /** Temporal Cloud API key; implies TLS. */
  apiKey?: string;
  /** TLS as Temporal's environment configuration describes it; certificate files are read when connecting. */
  tls?: ClientConfigTLS;
  /** gRPC headers sent with every call (a profile's `grpc_meta`, `TEMPORAL_GRPC_META_<NAME>`). */
  grpcMeta?: Record<string, string>;
}

type TemporalEnv = z.output<z.ZodObject<typeof temporalEnv>>;

/** What envconfig reads from the real environment besides our validated variables: where the config file lives. */
const CONFIG_DIR_VARIABLES = ['HOME', 'XDG_CONFIG_HOME', 'APPDATA'];
const GRPC_META_PREFIX = 'TEMPORAL_GRPC_META_';

/**
 * Resolves the Temporal client settings with `@temporalio/envconfig`, as Temporal's CLI does: the profile named by
 * `TEMPORAL_PROFILE` (else `default`) of the TOML file at `TEMPORAL_CONFIG_FILE` (else
 * `~/.config/temporalio/temporal.toml`), overridden by the `TEMPORAL_*` variables. `validated` holds those variables
 * (empty ones already dropped); `env` is read only for the config file's location and gRPC headers.
 */
export function temporalConfigFrom(validated: TemporalEnv, env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value && (CONFIG_DIR_VARIABLES.includes(name) || name.startsWith(GRPC_META_PREFIX))) vars[name] = value;
  }
  const { TEMPORAL_TLS_CERT_PATH: certAlias, TEMPORAL_TLS_KEY_PATH: keyAlias, ...standard } = validated;
  for (const [name, value] of Object.entries(standard)) if (value !== undefined) vars[name] = value;
  if (certAlias !== undefined) vars.TEMPORAL_TLS_CLIENT_CERT_PATH = certAlias;
  if (keyAlias !== undefined) vars.TEMPORAL_TLS_CLIENT_KEY_PATH = keyAlias;

  // envconfig ignores a missing config file, which is right for the default location but hides a typo in an
  // explicit one.
  if (validated.TEMPORAL_CONFIG_FILE !== undefined && !existsSync(validated.TEMPORAL_CONFIG_FILE)) {
    throw new ConfigError('Temporal client', [`TEMPORAL_CONFIG_FILE: no such file ${validated.TEMPORAL_CONFIG_FILE}`]);
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: vars });
  } catch (err) {
    const message = (err as Error).message;
    const issue = /^Profile '.*' not found/.test(message)
      ? `TEMPORAL_PROFILE: no profile "${validated.TEMPORAL_PROFILE}" in the Temporal config file (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml)`
      : `TEMPORAL_CONFIG_FILE: cannot use the Temporal config file: ${message}`;
    throw new ConfigError('Temporal client', [issue]);
  }
  return {
    address: profile.address ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: profile.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    profile: validated.TEMPORAL_PROFILE,
    apiKey: profile.apiKey,
    tls: profile.tls,
    grpcMeta: profile.grpcMeta,
  };
}

/** A rule across variables, checked on the raw environment so it is reported beside per-variable errors. */
export type CrossCheck = (env: Readonly<Record<string, string>>) => string[];

export const temporalTlsPair: CrossCheck = (env) => [
  ...((env.TEMPORAL_TLS_CERT_PATH === undefined) !== (env.TEMPORAL_TLS_KEY_PATH === undefined)
    ? ['TEMPORAL_TLS_CERT_PATH: TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together']
    : []),
  ...(['CERT', 'KEY'] as const).flatMap((part) =>
    env[`TEMPORAL_TLS_${part}_PATH`] !== undefined && env[`TEMPORAL_TLS_CLIENT_${part}_PATH`] !== undefined
      ? [`TEMPORAL_TLS_${part}_PATH: set it or TEMPORAL_TLS_CLIENT_${part}_PATH, not both`]
      : []
  ),
];

/** Options for `Connection.connect` and `NativeConnection.connect` (self-hosted, mTLS, or Temporal Cloud). */
export function temporalConnectionOptions(config: TemporalConfig): {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
} {
  let tls: TLSConfig | boolean | undefined;
  try {
    // TLS when the profile or environment asks for it, or implied by an API key (Temporal Cloud).
    tls = toClientOptions(config).connectionOptions.tls ?? undefined;
  } catch (err) {
    throw new Error(`cannot read a TLS certificate or key of the Temporal connection: ${(err as Error).message}`);
  }
  return { address: config.address, tls, apiKey: config.apiKey, metadata: config.grpcMeta };
}

/**
 * Parses `env` with `schema`, or throws a ConfigError listing every problem by variable name. Empty variables
 * count as unset, as `.env` files and compose files leave them.
 */
export function parseEnv<S extends z.ZodType>(
  process: string,
  schema: S,
  env: NodeJS.ProcessEnv,
  crossChecks: CrossCheck[] = []
): z.output<S> {
  const present: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== '') present[name] = value;
  const parsed = schema.safeParse(present);
  const issues = [
    ...(parsed.success
      ? []
      : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`)),
    ...crossChecks.flatMap((check) => check(present)),
  ];
  if (!parsed.success || issues.length > 0) throw new ConfigError(process, issues);
  return parsed.data;
}

const slots = (min: number) => z.coerce.number({ error: 'must be a whole number' }).int().min(min);
const fraction = z.coerce.number({ error: 'must be a number' }).gt(0, 'must be above 0').max(1, 'must be at most 1');

/**
 * The worker's Temporal tuning (see README, "Worker tuning"): task pollers, task slots or the resource-based tuner, and
 * the sticky cache. Unset variables keep Switchboard's defaults (`DEFAULT_WORKER_TUNING`).
 */
export const workerTuningEnv = {
  WORKER_MAX_CONCURRENT_WORKFLOW_TASK_POLLS: slots(1).optional(),
  WORKER_MAX_CONCURRENT_ACTIVITY_TASK_POLLS: slots(1).optional(),
  WORKER_NONSTICKY_TO_STICKY_POLL_RATIO: fraction.optional(),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASK_EXECUTIONS: slots(2).optional(),
  WORKER_MAX_CONCURRENT_ACTIVITY_TASK_EXECUTIONS: slots(1).optional(),
  WORKER_MAX_CONCURRENT_LOCAL_ACTIVITY_EXECUTIONS: slots(1).optional(),
  WORKER_MAX_CACHED_WORKFLOWS: slots(0).optional(),
  WORKER_TUNER: z.enum(['fixed', 'resource-based'], { error: 'must be fixed or resource-based' }).optional(),
  WORKER_TUNER_TARGET_CPU: fraction.optional(),
  WORKER_TUNER_TARGET_MEMORY: fraction.optional(),
};

/** The worker's tuning, each field set by its `WORKER_*` variable or by `DEFAULT_WORKER_TUNING`. */
export interface WorkerTuning {
  /** Workflow task pollers (normal and sticky queues together; `nonStickyToStickyPollRatio` splits them). */
  workflowTaskPolls?: number;
  activityTaskPolls?: number;
  nonStickyToStickyPollRatio?: number;
  /** `fixed`: the three slot counts below; `resource-based`: slots handed out while CPU and memory stay below targets. */
  tuner: 'fixed' | 'resource-based';
  workflowTaskSlots?: number;
  activityTaskSlots?: number;
  localActivitySlots?: number;
  targetCpu: number;
  targetMemory: number;
  /** Workflows kept in the sticky cache (0 turns it off: every task replays the history). */
  maxCachedWorkflows?: number;
}

/** Switchboard's defaults where nothing is set; undefined fields keep the Temporal SDK's own defaults. */
export const DEFAULT_WORKER_TUNING: WorkerTuning = {
  tuner: 'fixed',
  targetCpu: 0.8,
  targetMemory: 0.8,
};

const tunerSlotConflict: CrossCheck = (env) =>
  env.WORKER_TUNER === 'resource-based'
    ? [
        'WORKER_MAX_CONCURRENT_WORKFLOW_TASK_EXECUTIONS',
        'WORKER_MAX_CONCURRENT_ACTIVITY_TASK_EXECUTIONS',
        'WORKER_MAX_CONCURRENT_LOCAL_ACTIVITY_EXECUTIONS',
      ]
        .filter((name) => env[name] !== undefined)
        .map((name) => `${name}: fixed slots and WORKER_TUNER=resource-based exclude each other`)
    : [];

type WorkerTuningEnv = z.output<z.ZodObject<typeof workerTuningEnv>>;

export function workerTuningFrom(
  parsed: WorkerTuningEnv,
  defaults: WorkerTuning = DEFAULT_WORKER_TUNING
): WorkerTuning {
  const tuner = parsed.WORKER_TUNER ?? defaults.tuner;
  const fixed = tuner === 'fixed';
  return {
    workflowTaskPolls: parsed.WORKER_MAX_CONCURRENT_WORKFLOW_TASK_POLLS ?? defaults.workflowTaskPolls,
    activityTaskPolls: parsed.WORKER_MAX_CONCURRENT_ACTIVITY_TASK_POLLS ?? defaults.activityTaskPolls,
    nonStickyToStickyPollRatio: parsed.WORKER_NONSTICKY_TO_STICKY_POLL_RATIO ?? defaults.nonStickyToStickyPollRatio,
    tuner,
    workflowTaskSlots: fixed
      ? (parsed.WORKER_MAX_CONCURRENT_WORKFLOW_TASK_EXECUTIONS ?? defaults.workflowTaskSlots)
      : undefined,
    activityTaskSlots: fixed
      ? (parsed.WORKER_MAX_CONCURRENT_ACTIVITY_TASK_EXECUTIONS ?? defaults.activityTaskSlots)
      : undefined,
    localActivitySlots: fixed
      ? (parsed.WORKER_MAX_CONCURRENT_LOCAL_ACTIVITY_EXECUTIONS ?? defaults.localActivitySlots)
      : undefined,
    targetCpu: parsed.WORKER_TUNER_TARGET_CPU ?? defaults.targetCpu,
    targetMemory: parsed.WORKER_TUNER_TARGET_MEMORY ?? defaults.targetMemory,
    maxCachedWorkflows: parsed.WORKER_MAX_CACHED_WORKFLOWS ?? defaults.maxCachedWorkflows,
  };
}

/** The `Worker.create` options a tuning stands for; fields left undefined keep the SDK's defaults. */
export function workerTuningOptions(
  tuning: WorkerTuning
): Pick<
  WorkerOptions,
  | 'workflowTaskPollerBehavior'
  | 'activityTaskPollerBehavior'
  | 'nonStickyToStickyPollRatio'
  | 'maxConcurrentWorkflowTaskExecutions'
  | 'maxConcurrentActivityTaskExecutions'
  | 'maxConcurrentLocalActivityExecutions'
  | 'tuner'
  | 'maxCachedWorkflows'
> {
  const options: ReturnType<typeof workerTuningOptions> = {};
  // The SDK reads pollers from its poller behaviours (`maxConcurrent*TaskPolls` are not read by SDK 1.24).
  if (tuning.workflowTaskPolls !== undefined) {
    options.workflowTaskPollerBehavior = { type: 'simple-maximum', maximum: tuning.workflowTaskPolls };
  }
  if (tuning.activityTaskPolls !== undefined) {
    options.activityTaskPollerBehavior = { type: 'simple-maximum', maximum: tuning.activityTaskPolls };
  }
  if (tuning.nonStickyToStickyPollRatio !== undefined) {
    options.nonStickyToStickyPollRatio = tuning.nonStickyToStickyPollRatio;
  }
  if (tuning.tuner === 'resource-based') {
    options.tuner = { tunerOptions: { targetCpuUsage: tuning.targetCpu, targetMemoryUsage: tuning.targetMemory } };
  } else {
    if (tuning.workflowTaskSlots !== undefined) options.maxConcurrentWorkflowTaskExecutions = tuning.workflowTaskSlots;
    if (tuning.activityTaskSlots !== undefined) options.maxConcurrentActivityTaskExecutions = tuning.activityTaskSlots;
    if (tuning.localActivitySlots !== undefined)
      options.maxConcurrentLocalActivityExecutions = tuning.localActivitySlots;
  }
  if (tuning.maxCachedWorkflows !== undefined) options.maxCachedWorkflows = tuning.maxCachedWorkflows;
  return options;
}

/** The worker's tuning alone (the engine floor's worker in the bench reads the same variables). */
export function loadWorkerTuning(env: NodeJS.ProcessEnv = process.env): WorkerTuning {
  const keys = Object.fromEntries(Object.keys(workerTuningEnv).map((name) => [name, true])) as {
    [K in keyof typeof workerTuningEnv]: true;
  };
  return workerTuningFrom(parseEnv('worker', workerEnv.pick(keys), env, [tunerSlotConflict]));
}

const workerEnv = z.object({
  ...workerTuningEnv,
  ...temporalEnv,
  TEMPORAL_TASK_QUEUE: z.string().default(TASK_QUEUE),
  DAILY_API_KEY: z.string({ error: 'is required (the Daily API key, or the sandbox key locally)' }),
  DAILY_API_URL: z.url().default(DEFAULT_DAILY_API_BASE),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  WORKER_METRICS_ADDRESS: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, 'must be host:port, e.g. 0.0.0.0:9464')
    .optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
});

export interface WorkerConfig {
  temporal: TemporalConfig;
  taskQueue: string;
  daily: { apiKey: string; apiUrl: string };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Where the Prometheus endpoint listens; off when unset, because a fixed default port would make a second worker
   * on the same host (the chaos run, a cluster test) fail to start.
   */
  metricsAddress?: string;
  /** Set when traces go to an OTLP/HTTP endpoint (the exporter reads it and the other `OTEL_*` variables itself). */
  otlpEndpoint?: string;
  tuning: WorkerTuning;
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = parseEnv('worker', workerEnv, env, [temporalTlsPair, tunerSlotConflict]);
  return {
    temporal: temporalConfigFrom(parsed, env),
    taskQueue: parsed.TEMPORAL_TASK_QUEUE,
    daily: { apiKey: parsed.DAILY_API_KEY, apiUrl: parsed.DAILY_API_URL },
    logLevel: parsed.LOG_LEVEL,
    metricsAddress: parsed.WORKER_METRICS_ADDRESS,
    otlpEndpoint: parsed.OTEL_EXPORTER_OTLP_ENDPOINT,
    tuning: workerTuningFrom(parsed),
  };
}
