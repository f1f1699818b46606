/**
 * Environment configuration for the production processes, validated once at start. Errors name every bad or
 * missing variable, never their values (some are secrets).
 */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
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

/** Variables every process that talks to Temporal reads. */
export const temporalEnv = {
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
};

export interface TemporalConfig {
  address: string;
  namespace: string;
  /** Temporal Cloud API key; implies TLS. */
  apiKey?: string;
  /** mTLS client certificate and key files. */
  tls?: { certPath: string; keyPath: string };
}

type TemporalEnv = z.output<z.ZodObject<typeof temporalEnv>>;

export function temporalConfigFrom(env: TemporalEnv): TemporalConfig {
  return {
    address: env.TEMPORAL_ADDRESS,
    namespace: env.TEMPORAL_NAMESPACE,
    apiKey: env.TEMPORAL_API_KEY,
    tls:
      env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH
        ? { certPath: env.TEMPORAL_TLS_CERT_PATH, keyPath: env.TEMPORAL_TLS_KEY_PATH }
        : undefined,
  };
}

/** A rule across variables, checked on the raw environment so it is reported beside per-variable errors. */
export type CrossCheck = (env: Readonly<Record<string, string>>) => string[];

export const temporalTlsPair: CrossCheck = (env) =>
  (env.TEMPORAL_TLS_CERT_PATH === undefined) !== (env.TEMPORAL_TLS_KEY_PATH === undefined)
    ? ['TEMPORAL_TLS_CERT_PATH: TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together']
    : [];

/** Options for `Connection.connect` and `NativeConnection.connect` (self-hosted, mTLS, or Temporal Cloud). */
export function temporalConnectionOptions(config: TemporalConfig): {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
} {
  const read = (file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`cannot read TEMPORAL_TLS_CERT_PATH/TEMPORAL_TLS_KEY_PATH ${file}: ${(err as Error).message}`);
    }
  };
  const tls = config.tls
    ? { clientCertPair: { crt: read(config.tls.certPath), key: read(config.tls.keyPath) } }
    : config.apiKey
      ? true
      : undefined;
  return { address: config.address, tls, apiKey: config.apiKey };
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

const workerEnv = z.object({
  ...temporalEnv,
  TEMPORAL_TASK_QUEUE: z.string().default(TASK_QUEUE),
  DAILY_API_KEY: z.string({ error: 'is required (the Daily API key, or the sandbox key locally)' }),
  DAILY_API_URL: z.url().default(DEFAULT_DAILY_API_BASE),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export interface WorkerConfig {
  temporal: TemporalConfig;
  taskQueue: string;
  daily: { apiKey: string; apiUrl: string };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = parseEnv('worker', workerEnv, env, [temporalTlsPair]);
  return {
    temporal: temporalConfigFrom(parsed),
    taskQueue: parsed.TEMPORAL_TASK_QUEUE,
    daily: { apiKey: parsed.DAILY_API_KEY, apiUrl: parsed.DAILY_API_URL },
    logLevel: parsed.LOG_LEVEL,
  };
}
