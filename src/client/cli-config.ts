/**
 * The CLI's configuration: the same environment variables as the worker and relay, with command-line flags taking
 * precedence. Validation errors name the variable and its flag, never a value (the API keys are secrets).
 */
import { z } from 'zod';
import { parseEnv, temporalConfigFrom, temporalEnv, temporalTlsPair, type TemporalConfig } from '../config';
import { DEFAULT_DAILY_API_BASE } from '../daily/client';
import { TASK_QUEUE } from '../shared';

export interface TemporalFlags {
  address?: string;
  namespace?: string;
  /** A profile of Temporal's config file (TOML), as `temporal --profile` takes. */
  profile?: string;
  taskQueue?: string;
}

export interface DailyFlags {
  dailyApiKey?: string;
  dailyApiUrl?: string;
}

export interface CliTemporalConfig {
  temporal: TemporalConfig;
  taskQueue: string;
}

export interface DailyConfig {
  apiKey: string;
  apiUrl: string;
}

/** The environment with the flags that were given in place of their variables. */
function withFlags(env: NodeJS.ProcessEnv, flags: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const merged = { ...env };
  for (const [name, value] of Object.entries(flags)) if (value !== undefined) merged[name] = value;
  return merged;
}

const temporalSchema = z.object({ ...temporalEnv, TEMPORAL_TASK_QUEUE: z.string().default(TASK_QUEUE) });

export function cliTemporalConfig(env: NodeJS.ProcessEnv, flags: TemporalFlags): CliTemporalConfig {
  const merged = withFlags(env, {
    TEMPORAL_ADDRESS: flags.address,
    TEMPORAL_NAMESPACE: flags.namespace,
    TEMPORAL_PROFILE: flags.profile,
    TEMPORAL_TASK_QUEUE: flags.taskQueue,
  });
  const parsed = parseEnv('switchboard', temporalSchema, merged, [temporalTlsPair]);
  return { temporal: temporalConfigFrom(parsed, merged), taskQueue: parsed.TEMPORAL_TASK_QUEUE };
}

const dailySchema = z.object({
  DAILY_API_KEY: z.string({ error: 'is required (or --daily-api-key)' }),
  DAILY_API_URL: z.url({ error: 'must be a URL (or --daily-api-url)' }).default(DEFAULT_DAILY_API_BASE),
});

export function cliDailyConfig(env: NodeJS.ProcessEnv, flags: DailyFlags): DailyConfig {
  const merged = withFlags(env, { DAILY_API_KEY: flags.dailyApiKey, DAILY_API_URL: flags.dailyApiUrl });
  const parsed = parseEnv('switchboard', dailySchema, merged);
  return { apiKey: parsed.DAILY_API_KEY, apiUrl: parsed.DAILY_API_URL };
}
