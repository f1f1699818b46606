/**
 * The one description of Switchboard's self-hosted Temporal cluster: versions, databases, schemas, dynamic config and
 * each process's environment. `npm run test:cluster` builds and runs exactly this, and test/deploy/compose.test.ts
 * checks docker-compose.yml against it, so the file users run is the one that was tested.
 */
import path from 'node:path';
import { SEARCH_ATTRIBUTE_NAMES } from '../../src/shared';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Temporal server and its schema tool: one Go module, one version, the same as the `temporalio/*` images. */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
/**
 * The Temporal UI server (`temporalio/ui` image tag; Go module github.com/temporalio/ui-server/v2): the one the Temporal
 * CLI v1.5.1 embeds, known to work with server 1.29. v2.58.1 does not build from the Go module proxy here: two of its
 * dependencies (go.temporal.io/api v1.64.0, github.com/labstack/echo/v4 v4.16.1) answer 403 "not available".
 */
export const TEMPORAL_UI_VERSION = '2.42.1';
/** Debian 12's PostgreSQL, which test:cluster runs; compose pins the same major version. */
export const POSTGRES_MAJOR = 15;

/** What test:cluster builds with `go install`, each into its own directory of the cache. */
export const GO_BINARIES = {
  server: {
    label: 'Temporal server',
    module: 'go.temporal.io/server',
    package: 'go.temporal.io/server/cmd/server',
    version: `v${TEMPORAL_SERVER_VERSION}`,
    binary: 'server',
  },
  sqlTool: {
    label: 'Temporal SQL schema tool',
    module: 'go.temporal.io/server',
    package: 'go.temporal.io/server/cmd/tools/sql',
    version: `v${TEMPORAL_SERVER_VERSION}`,
    binary: 'sql',
  },
  ui: {
    label: 'Temporal UI server',
    module: 'github.com/temporalio/ui-server/v2',
    package: 'github.com/temporalio/ui-server/v2/cmd/server',
    version: `v${TEMPORAL_UI_VERSION}`,
    binary: 'server',
  },
} as const;
export type GoBinaryName = keyof typeof GO_BINARIES;

/** Temporal's SQL plugin and the two databases it uses: persistence and visibility (no Elasticsearch). */
export const DATABASE = {
  plugin: 'postgres12',
  user: 'temporal',
  defaultDb: 'temporal',
  visibilityDb: 'temporal_visibility',
  /** Fixed for a cluster's lifetime: it cannot change once the database exists. */
  numHistoryShards: 4,
} as const;

/** The versioned schema directories of the server module, applied by the schema tool in this order. */
export const SCHEMAS = [
  { database: DATABASE.defaultDb, dir: 'schema/postgresql/v12/temporal/versioned' },
  { database: DATABASE.visibilityDb, dir: 'schema/postgresql/v12/visibility/versioned' },
] as const;

/** Temporal's dynamic config, committed as YAML so that compose mounts the very file test:cluster runs with. */
export const DYNAMIC_CONFIG_FILE = path.join(REPO_ROOT, 'deploy', 'temporal', 'dynamicconfig.yaml');
/** Where docker-compose.yml mounts it in the Temporal container. */
export const DYNAMIC_CONFIG_CONTAINER_PATH = '/etc/temporal/config/dynamicconfig/switchboard.yaml';

export const NAMESPACE = 'default';
/** Every custom search attribute is a Keyword (they map to the visibility schema's Keyword columns). */
export const SEARCH_ATTRIBUTES = SEARCH_ATTRIBUTE_NAMES.map((name) => ({ name, type: 'Keyword' as const }));

/** The worker's environment (src/config.ts), given where Temporal and Daily are. */
export function workerEnvironment(opts: {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  dailyApiKey: string;
  dailyApiUrl: string;
  logLevel: string;
}): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: opts.temporalAddress,
    TEMPORAL_NAMESPACE: opts.namespace,
    TEMPORAL_TASK_QUEUE: opts.taskQueue,
    DAILY_API_KEY: opts.dailyApiKey,
    DAILY_API_URL: opts.dailyApiUrl,
    LOG_LEVEL: opts.logLevel,
  };
}

/** The relay's environment (src/relay/config.ts). */
export function relayEnvironment(opts: {
  temporalAddress: string;
  namespace: string;
  host: string;
  port: number;
  webhookSecret: string;
  dailyApiKey: string;
  dailyApiUrl: string;
  watchdogIntervalSec: number;
  /** One per relay: two relays never share a spool file. */
  spoolPath: string;
}): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: opts.temporalAddress,
    TEMPORAL_NAMESPACE: opts.namespace,
    RELAY_HOST: opts.host,
    RELAY_PORT: String(opts.port),
    DAILY_WEBHOOK_SECRET: opts.webhookSecret,
    DAILY_API_KEY: opts.dailyApiKey,
    DAILY_API_URL: opts.dailyApiUrl,
    WEBHOOK_WATCHDOG_INTERVAL_SEC: String(opts.watchdogIntervalSec),
    RELAY_SPOOL_PATH: opts.spoolPath,
  };
}
