import path from 'node:path';
import { z } from 'zod';
import type { CrossCheck, TemporalConfig } from '../config';
import { parseEnv, temporalConfigFrom, temporalEnv, temporalTlsPair } from '../config';
import { DEFAULT_DAILY_API_BASE } from '../daily/client';
import type { WebhookSecrets } from './webhook-auth';
import { isBase64Secret } from './webhook-auth';
import { DEFAULT_SIGNAL_BATCH } from './signal-drainer';

export interface RelayConfig {
  temporal: TemporalConfig;
  port: number;
  host: string;
  secrets: WebhookSecrets;
  /** Set when `DAILY_API_KEY` is: the relay then runs the webhook watchdog. */
  daily?: { apiKey: string; apiUrl: string };
  watchdogIntervalSec: number;
  /** Set when traces go to an OTLP/HTTP endpoint (the exporter reads it and the other `OTEL_*` variables itself). */
  otlpEndpoint?: string;
  /** The relay's SQLite spool file: one per relay, on a volume that outlives the process. */
  spoolPath: string;
  /** The customer's own webhook receiver, when the relay forwards every event to it. */
  forward?: { url: string; secret: string };
  /** When set, `/metrics` is served on this port only (same host), not on the webhook port. */
  metricsPort?: number;
  /** Signals in flight at once while draining the spool (across transfers; one at a time per transfer). */
  drainConcurrency?: number;
  /** A caller leg's queued events sent in one signal, at most (1: one signal per event). */
  signalBatch?: number;
}

/** `RELAY_SPOOL_PATH` when unset: beside the rest of Switchboard's local data. */
export function defaultSpoolPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.SWITCHBOARD_DATA_DIR || '.switchboard', 'relay-spool.sqlite');
}

const port = (fallback: number) =>
  z.coerce.number('must be a port number').int().min(0).max(65535, 'must be a port number').default(fallback);
const base64 = z.string().refine(isBase64Secret, 'must be base64 (the `hmac` of the Daily webhook)');

/**
 * `domainId=secret,domainId=secret`, each secret optionally followed by `:previous` while it is being rotated. A base64
 * secret may end in `=`, so only the first `=` separates; `:` is not base64, so it can separate the two secrets.
 */
const secretsByDomain = z.string().transform((value, ctx) => {
  const secrets: Record<string, string | string[]> = {};
  for (const entry of value.split(',').map((part) => part.trim())) {
    const at = entry.indexOf('=');
    const domain = entry.slice(0, at).trim();
    const pair = entry
      .slice(at + 1)
      .split(':')
      .map((secret) => secret.trim());
    if (at <= 0 || pair.length > 2 || !pair.every(isBase64Secret)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be `domainId=base64secret` (or `domainId=current:previous`) pairs separated by commas',
      });
      return z.NEVER;
    }
    secrets[domain] = pair.length === 1 ? (pair[0] as string) : pair;
  }
  return secrets;
});

const relayEnv = z.object({
  ...temporalEnv,
  RELAY_PORT: port(8080),
  RELAY_HOST: z.string().default('0.0.0.0'),
  DAILY_WEBHOOK_SECRET: base64.optional(),
  DAILY_WEBHOOK_SECRET_PREVIOUS: base64.optional(),
  DAILY_WEBHOOK_SECRETS: secretsByDomain.optional(),
  DAILY_API_KEY: z.string().optional(),
  DAILY_API_URL: z.url().default(DEFAULT_DAILY_API_BASE),
  WEBHOOK_WATCHDOG_INTERVAL_SEC: z.coerce.number('must be a number of seconds').positive().default(60),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  RELAY_SPOOL_PATH: z.string().optional(),
  RELAY_FORWARD_URL: z.url().optional(),
  RELAY_FORWARD_SECRET: base64.optional(),
  RELAY_METRICS_PORT: z.coerce
    .number('must be a port number')
    .int()
    .min(0)
    .max(65535, 'must be a port number')
    .optional(),
  RELAY_DRAIN_CONCURRENCY: z.coerce.number('must be a whole number').int().min(1).default(32),
  RELAY_SIGNAL_BATCH: z.coerce.number('must be a whole number').int().min(1).max(100).default(DEFAULT_SIGNAL_BATCH),
});

const oneWebhookSecret: CrossCheck = (env) =>
  (env.DAILY_WEBHOOK_SECRET === undefined) === (env.DAILY_WEBHOOK_SECRETS === undefined)
    ? ['DAILY_WEBHOOK_SECRET: set exactly one of DAILY_WEBHOOK_SECRET or DAILY_WEBHOOK_SECRETS']
    : [];
const forwardPair: CrossCheck = (env) =>
  (env.RELAY_FORWARD_URL === undefined) !== (env.RELAY_FORWARD_SECRET === undefined)
    ? ['RELAY_FORWARD_URL: RELAY_FORWARD_URL and RELAY_FORWARD_SECRET go together']
    : [];
const previousNeedsCurrent: CrossCheck = (env) =>
  env.DAILY_WEBHOOK_SECRET_PREVIOUS !== undefined && env.DAILY_WEBHOOK_SECRET === undefined
    ? [
        'DAILY_WEBHOOK_SECRET_PREVIOUS: only with DAILY_WEBHOOK_SECRET (per domain: DAILY_WEBHOOK_SECRETS=domain=current:previous)',
      ]
    : [];

/** Reads and validates the relay's environment once, at start. Empty variables count as unset (`.env` files). */
export function loadRelayConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const e = parseEnv('relay', relayEnv, env, [temporalTlsPair, oneWebhookSecret, previousNeedsCurrent, forwardPair]);
  return {
    temporal: temporalConfigFrom(e, env),
    port: e.RELAY_PORT,
    host: e.RELAY_HOST,
    // One of the two is set: the refinement above guarantees it.
    secrets:
      e.DAILY_WEBHOOK_SECRETS ??
      (e.DAILY_WEBHOOK_SECRET_PREVIOUS === undefined
        ? (e.DAILY_WEBHOOK_SECRET as string)
        : [e.DAILY_WEBHOOK_SECRET as string, e.DAILY_WEBHOOK_SECRET_PREVIOUS]),
    daily: e.DAILY_API_KEY ? { apiKey: e.DAILY_API_KEY, apiUrl: e.DAILY_API_URL } : undefined,
    watchdogIntervalSec: e.WEBHOOK_WATCHDOG_INTERVAL_SEC,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    spoolPath: e.RELAY_SPOOL_PATH ? path.resolve(e.RELAY_SPOOL_PATH) : defaultSpoolPath(env),
    drainConcurrency: e.RELAY_DRAIN_CONCURRENCY,
    signalBatch: e.RELAY_SIGNAL_BATCH,
    ...(e.RELAY_METRICS_PORT === undefined ? {} : { metricsPort: e.RELAY_METRICS_PORT }),
    ...(e.RELAY_FORWARD_URL && e.RELAY_FORWARD_SECRET
      ? { forward: { url: e.RELAY_FORWARD_URL, secret: e.RELAY_FORWARD_SECRET } }
      : {}),
  };
}
