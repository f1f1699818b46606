/**
 * Environment configuration for the production processes, validated once at start. Errors name every bad or
 * missing variable, never their values (some are secrets).
 */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { z } from 'zod';
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
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(TASK_QUEUE),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().min(1).optional(),
};

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
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
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    apiKey: env.TEMPORAL_API_KEY,
    tls:
      env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH
        ? { certPath: env.TEMPORAL_TLS_CERT_PATH, keyPath: env.TEMPORAL_TLS_KEY_PATH }
        : undefined,
  };
}

export function checkTemporalEnv(env: Partial<TemporalEnv>, ctx: z.RefinementCtx): void {
  if ((env.TEMPORAL_TLS_CERT_PATH === undefined) !== (env.TEMPORAL_TLS_KEY_PATH === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['TEMPORAL_TLS_CERT_PATH'],
      message: 'TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH go together',
    });
  }
}

/** Options for `Connection.connect` and `NativeConnection.connect` (self-hosted, mTLS, or Temporal Cloud). */
export function temporalConnectionOptions(config: TemporalConfig): {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
} {
  const tls = config.tls
    ? { clientCertPair: { crt: readFileSync(config.tls.certPath), key: readFileSync(config.tls.keyPath) } }
    : config.apiKey
      ? true
      : undefined;
  return { address: config.address, tls, apiKey: config.apiKey };
}

/** Parses `env` with `schema`, or throws a ConfigError listing every problem by variable name. */
export function parseEnv<S extends z.ZodType>(process: string, schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    process,
    parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`)
  );
}

const workerEnv = z
  .object({
    ...temporalEnv,
    DAILY_API_KEY: z.string().min(1, 'is required (the Daily API key, or the sandbox key locally)'),
    DAILY_API_URL: z.url().default('https://api.daily.co/v1'),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  })
  .superRefine(checkTemporalEnv);

export interface WorkerConfig {
  temporal: TemporalConfig;
  daily: { apiKey: string; apiUrl: string };
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = parseEnv('worker', workerEnv, env);
  return {
    temporal: temporalConfigFrom(parsed),
    daily: { apiKey: parsed.DAILY_API_KEY, apiUrl: parsed.DAILY_API_URL },
    logLevel: parsed.LOG_LEVEL,
  };
}
