/**
 * The Temporal server of the cluster, as docker-compose.yml runs it: PostgreSQL persistence and visibility (no
 * Elasticsearch), the schemas of the server's own version applied by its schema tool, Switchboard's dynamic config,
 * the namespace and the search attributes registered. Everything on 127.0.0.1, on ports chosen for this run.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { stringify } from 'yaml';
import { freePort } from '../../src/local/dev-server';
import { POSTGRES_PASSWORD, type Postgres } from './postgres';
import { NativeProcess } from './process';
import { DATABASE, DYNAMIC_CONFIG_FILE, NAMESPACE, SCHEMAS, SEARCH_ATTRIBUTES } from './spec';

/** Creates both databases and brings their schemas to the server's version, as `temporalio/auto-setup` does. */
export function setupSchemas(opts: { sqlTool: string; serverModuleDir: string; postgres: Postgres }): void {
  const connection = [
    '--plugin',
    DATABASE.plugin,
    '--endpoint',
    '127.0.0.1',
    '--port',
    String(opts.postgres.port),
    '--user',
    DATABASE.user,
    '--password',
    POSTGRES_PASSWORD,
  ];
  for (const schema of SCHEMAS) {
    for (const step of [
      ['create-database'],
      ['setup-schema', '--version', '0.0'],
      ['update-schema', '--schema-dir', path.join(opts.serverModuleDir, schema.dir)],
    ]) {
      const args = [...connection, '--database', schema.database, ...step];
      const result = spawnSync(opts.sqlTool, args, { encoding: 'utf8' });
      if (result.status !== 0) {
        throw new Error(`schema tool ${step[0]} ${schema.database} failed:\n${result.stdout}${result.stderr}`);
      }
    }
  }
}

export interface TemporalCluster {
  readonly address: string;
  readonly metricsUrl: string;
  readonly pid: number | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A free port below 32768: the SQL schema keeps membership ports in a smallint column, and the kernel's ephemeral
 * range (where port 0 lands) starts above it.
 */
async function membershipPort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const server = net.createServer();
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(candidate, '127.0.0.1', () => resolve(true));
    });
    if (free) {
      server.close();
      await once(server, 'close');
      return candidate;
    }
  }
  throw new Error('no free port below 32768 for Temporal membership');
}

/** The server's config file: one process running every service, persistence and visibility on `postgres`. */
async function serverConfig(
  postgres: Postgres
): Promise<{ config: unknown; frontendPort: number; metricsPort: number }> {
  const port = () => freePort();
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: DATABASE.plugin,
      databaseName,
      connectAddr: postgres.address,
      connectProtocol: 'tcp',
      user: DATABASE.user,
      password: POSTGRES_PASSWORD,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = async (http = false) => ({
    rpc: {
      grpcPort: await port(),
      membershipPort: await membershipPort(),
      bindOnLocalHost: true,
      ...(http ? { httpPort: await port() } : {}),
    },
  });
  const services = {
    frontend: await service(true),
    history: await service(),
    matching: await service(),
    worker: await service(),
  };
  const frontendPort = services.frontend.rpc.grpcPort;
  const metricsPort = await port();
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: DATABASE.numHistoryShards,
      datastores: {
        'postgres-default': sql(DATABASE.defaultDb, 20),
        'postgres-visibility': sql(DATABASE.visibilityDb, 10),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: {
        prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${metricsPort}` },
      },
    },
    services,
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${frontendPort}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: DYNAMIC_CONFIG_FILE, pollInterval: '10s' },
  };
  return { config, frontendPort, metricsPort };
}

/** Writes the config, starts the server, and registers the namespace and the search attributes once it serves. */
export async function startTemporalServer(opts: {
  binary: string;
  dir: string;
  postgres: Postgres;
  logFile: string;
  log: (line: string) => void;
}): Promise<TemporalCluster> {
  const { config, frontendPort, metricsPort } = await serverConfig(opts.postgres);
  const configDir = path.join(opts.dir, 'config');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(path.join(configDir, 'development.yaml'), stringify(config));
  const server = new NativeProcess({
    name: 'Temporal server',
    command: opts.binary,
    args: ['--root', opts.dir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'],
    logFile: opts.logFile,
  });
  const address = `127.0.0.1:${frontendPort}`;
  const cluster: TemporalCluster = {
    address,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    get pid() {
      return server.pid;
    },
    async start() {
      server.start();
      await untilServing(address, server);
    },
    stop: () => server.stop(),
  };
  await cluster.start();
  await registerNamespace(address);
  opts.log(`Temporal server: ${address} (PostgreSQL persistence and visibility; config ${configDir})`);
  return cluster;
}

/** Until the frontend answers and its history service has joined (a namespace read goes through persistence). */
async function untilServing(address: string, server: NativeProcess, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!server.running) throw new Error(`the Temporal server exited:\n${server.logTail()}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'temporal-system' });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the Temporal server did not serve on ${address}: ${String(err)}`);
      await sleep(500);
    }
  }
}

/**
 * The namespace and Switchboard's search attributes (docker-compose.yml's temporal-setup does the same with the
 * Temporal CLI). Waits until a visibility query on them is accepted: the frontend learns both from its caches.
 */
async function registerNamespace(address: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await connection.workflowService.registerNamespace({
      namespace: NAMESPACE,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    const { IndexedValueType } = temporal.api.enums.v1;
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await connection.operatorService.addSearchAttributes({
          namespace: NAMESPACE,
          searchAttributes: Object.fromEntries(
            SEARCH_ATTRIBUTES.map((attribute) => [attribute.name, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])
          ),
        });
        const query = SEARCH_ATTRIBUTES.map((attribute) => `${attribute.name} = 'probe'`).join(' AND ');
        await connection.workflowService.countWorkflowExecutions({ namespace: NAMESPACE, query });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`namespace ${NAMESPACE} did not become usable: ${String(err)}`);
        await sleep(1_000);
      }
    }
  } finally {
    await connection.close();
  }
}

/** The Temporal UI server, on 127.0.0.1 (its own config file: the image's listens on every interface). */
export async function startUi(opts: {
  binary: string;
  dir: string;
  temporalAddress: string;
  logFile: string;
}): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const configDir = path.join(opts.dir, 'config');
  mkdirSync(configDir, { recursive: true });
  const config = {
    temporalGrpcAddress: opts.temporalAddress,
    host: '127.0.0.1',
    port,
    enableUi: true,
    defaultNamespace: NAMESPACE,
    cors: { allowOrigins: [`http://127.0.0.1:${port}`] },
  };
  writeFileSync(path.join(configDir, 'base.yaml'), stringify(config));
  writeFileSync(path.join(configDir, 'development.yaml'), '{}\n');
  const ui = new NativeProcess({
    name: 'Temporal UI',
    command: opts.binary,
    args: ['--root', opts.dir, '--config', 'config', '--env', 'development', 'start'],
    logFile: opts.logFile,
  }).start();
  return { url: `http://127.0.0.1:${port}`, stop: () => ui.stop() };
}
