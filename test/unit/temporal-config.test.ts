/**
 * Temporal client settings resolved like Temporal's own tools (`@temporalio/envconfig`): a TOML profile, the
 * `TEMPORAL_*` variables over it, and Switchboard's original variables still working.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadWorkerConfig, temporalConnectionOptions, workerTuningOptions } from '../../src/config';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'switchboard-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string): string => {
  const full = path.join(dir, name);
  mkdirSync(path.dirname(full), { recursive: true });
  writeFileSync(full, text);
  return full;
};

/** The worker's configuration with only the given variables (and the one it requires). */
const temporal = (env: NodeJS.ProcessEnv) => loadWorkerConfig({ DAILY_API_KEY: 'k', ...env }).temporal;

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const TOML = `
[profile.default]
address = "default-host:7233"
namespace = "from-default"

[profile.prod]
address = "prod.acct.tmprl.cloud:7233"
namespace = "prod.acct"
api_key = "profile-key"

[profile.prod.grpc_meta]
x-team = "calls"

[profile.mtls]
address = "temporal.internal:7233"
[profile.mtls.tls]
server_name = "temporal.internal"
`;

describe('Temporal client configuration', () => {
  test('defaults to a local server and the default namespace when nothing is configured', () => {
    expect(temporal({})).toEqual({ address: '127.0.0.1:7233', namespace: 'default' });
    expect(temporalConnectionOptions(temporal({}))).toEqual({ address: '127.0.0.1:7233' });
  });

  test('reads the profile named by TEMPORAL_PROFILE from TEMPORAL_CONFIG_FILE', () => {
    const config = temporal({ TEMPORAL_CONFIG_FILE: file('a.toml', TOML), TEMPORAL_PROFILE: 'prod' });
    expect(config).toEqual({
      address: 'prod.acct.tmprl.cloud:7233',
      namespace: 'prod.acct',
      profile: 'prod',
      apiKey: 'profile-key',
      grpcMeta: { 'x-team': 'calls' },
    });
    // An API key implies TLS, as for Temporal Cloud.
    expect(temporalConnectionOptions(config)).toEqual({
      address: 'prod.acct.tmprl.cloud:7233',
      apiKey: 'profile-key',
      tls: true,
      metadata: { 'x-team': 'calls' },
    });
  });

  test('uses the `default` profile unless another is named', () => {
    expect(temporal({ TEMPORAL_CONFIG_FILE: file('a.toml', TOML) })).toMatchObject({
      address: 'default-host:7233',
      namespace: 'from-default',
    });
  });

  test("finds the config file where Temporal's CLI keeps it", () => {
    const home = path.join(dir, 'home');
    file('home/.config/temporalio/temporal.toml', TOML);
    expect(temporal({ HOME: home, TEMPORAL_PROFILE: 'mtls' })).toMatchObject({
      address: 'temporal.internal:7233',
      tls: { serverName: 'temporal.internal' },
    });
    const xdg = path.join(dir, 'xdg');
    file('xdg/temporalio/temporal.toml', '[profile.default]\nnamespace = "xdg"\n');
    expect(temporal({ HOME: home, XDG_CONFIG_HOME: xdg }).namespace).toBe('xdg');
  });

  test('variables override the profile, field by field', () => {
    const config = temporal({
      TEMPORAL_CONFIG_FILE: file('a.toml', TOML),
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'override',
      TEMPORAL_GRPC_META_X_TEAM: 'from-env',
    });
    expect(config).toMatchObject({
      address: 'prod.acct.tmprl.cloud:7233',
      namespace: 'override',
      apiKey: 'profile-key',
      grpcMeta: { 'x-team': 'from-env' },
    });
  });

  test('keeps TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH, and reads the files when connecting', () => {
    const cert = file('client.pem', 'CERT');
    const key = file('client.key', 'KEY');
    for (const env of [
      { TEMPORAL_TLS_CERT_PATH: cert, TEMPORAL_TLS_KEY_PATH: key },
      { TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key },
    ]) {
      const options = temporalConnectionOptions(temporal(env));
      expect(options.tls).toMatchObject({
        clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
      });
    }
    expect(() =>
      temporalConnectionOptions(temporal({ TEMPORAL_TLS_CERT_PATH: '/nowhere/c.pem', TEMPORAL_TLS_KEY_PATH: key }))
    ).toThrow(/^cannot read .*\/nowhere\/c\.pem/);
  });

  test('TEMPORAL_TLS turns TLS on or off, over an API key', () => {
    expect(typeof temporalConnectionOptions(temporal({ TEMPORAL_TLS: 'true' })).tls).toBe('object');
    expect(temporalConnectionOptions(temporal({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' })).tls).toBe(false);
  });

  test('names each bad variable, never a value', () => {
    const bad = configError(() =>
      temporal({
        TEMPORAL_TLS: 'yes',
        TEMPORAL_TLS_CERT_PATH: '/c.pem',
        TEMPORAL_TLS_CLIENT_CERT_PATH: '/other.pem',
        TEMPORAL_API_KEY: 'secret-key',
      })
    );
    expect(bad.issues.map((issue) => issue.split(':')[0]).sort()).toEqual([
      'TEMPORAL_TLS',
      'TEMPORAL_TLS_CERT_PATH',
      'TEMPORAL_TLS_CERT_PATH',
    ]);
    expect(bad.message).not.toContain('secret-key');
  });

  test('an unknown profile or a missing config file is an error, not a silent default', () => {
    const profile = configError(() =>
      temporal({ TEMPORAL_CONFIG_FILE: file('a.toml', TOML), TEMPORAL_PROFILE: 'nope' })
    );
    expect(profile.issues).toEqual([expect.stringMatching(/^TEMPORAL_PROFILE: no profile "nope"/)]);
    const missing = configError(() => temporal({ TEMPORAL_CONFIG_FILE: path.join(dir, 'missing.toml') }));
    expect(missing.issues).toEqual([expect.stringMatching(/^TEMPORAL_CONFIG_FILE: no such file .*missing\.toml$/)]);
    const broken = configError(() => temporal({ TEMPORAL_CONFIG_FILE: file('broken.toml', '[profile.default\n') }));
    expect(broken.issues).toEqual([expect.stringMatching(/^TEMPORAL_CONFIG_FILE: cannot use the Temporal config/)]);
  });
});

describe('worker tuning (WORKER_* variables)', () => {
  const tuning = (env: NodeJS.ProcessEnv) => loadWorkerConfig({ DAILY_API_KEY: 'k', ...env }).tuning;

  test('unset, the worker keeps the Temporal SDK’s own defaults (the burst bench found no reason to change them)', () => {
    expect(workerTuningOptions(tuning({}))).toEqual({});
    expect(tuning({ WORKER_TUNER: 'resource-based' })).toMatchObject({ targetCpu: 0.8, targetMemory: 0.8 });
  });

  test('pollers, slots and the sticky cache become the SDK’s options', () => {
    const options = workerTuningOptions(
      tuning({
        WORKER_MAX_CONCURRENT_WORKFLOW_TASK_POLLS: '24',
        WORKER_MAX_CONCURRENT_ACTIVITY_TASK_POLLS: '12',
        WORKER_NONSTICKY_TO_STICKY_POLL_RATIO: '0.5',
        WORKER_MAX_CONCURRENT_WORKFLOW_TASK_EXECUTIONS: '80',
        WORKER_MAX_CONCURRENT_ACTIVITY_TASK_EXECUTIONS: '300',
        WORKER_MAX_CONCURRENT_LOCAL_ACTIVITY_EXECUTIONS: '150',
        WORKER_MAX_CACHED_WORKFLOWS: '3000',
      })
    );
    expect(options).toEqual({
      workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 24 },
      activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 12 },
      nonStickyToStickyPollRatio: 0.5,
      maxConcurrentWorkflowTaskExecutions: 80,
      maxConcurrentActivityTaskExecutions: 300,
      maxConcurrentLocalActivityExecutions: 150,
      maxCachedWorkflows: 3000,
    });
    expect(workerTuningOptions(tuning({ WORKER_MAX_CACHED_WORKFLOWS: '0' })).maxCachedWorkflows).toBe(0);
  });

  test('the resource-based tuner takes its targets, and excludes fixed slot counts', () => {
    expect(
      workerTuningOptions(
        tuning({ WORKER_TUNER: 'resource-based', WORKER_TUNER_TARGET_CPU: '0.7', WORKER_TUNER_TARGET_MEMORY: '0.6' })
      ).tuner
    ).toEqual({ tunerOptions: { targetCpuUsage: 0.7, targetMemoryUsage: 0.6 } });
    const conflict = configError(() =>
      tuning({ WORKER_TUNER: 'resource-based', WORKER_MAX_CONCURRENT_WORKFLOW_TASK_EXECUTIONS: '80' })
    );
    expect(conflict.issues).toEqual([
      'WORKER_MAX_CONCURRENT_WORKFLOW_TASK_EXECUTIONS: fixed slots and WORKER_TUNER=resource-based exclude each other',
    ]);
  });

  test('names each bad variable', () => {
    const bad = configError(() =>
      tuning({
        WORKER_MAX_CONCURRENT_WORKFLOW_TASK_POLLS: '0',
        WORKER_MAX_CONCURRENT_WORKFLOW_TASK_EXECUTIONS: '1',
        WORKER_MAX_CACHED_WORKFLOWS: 'lots',
        WORKER_NONSTICKY_TO_STICKY_POLL_RATIO: '1.5',
        WORKER_TUNER: 'auto',
        WORKER_TUNER_TARGET_CPU: '0',
      })
    );
    expect(bad.issues.map((issue) => issue.split(':')[0]).sort()).toEqual([
      'WORKER_MAX_CACHED_WORKFLOWS',
      'WORKER_MAX_CONCURRENT_WORKFLOW_TASK_EXECUTIONS',
      'WORKER_MAX_CONCURRENT_WORKFLOW_TASK_POLLS',
      'WORKER_NONSTICKY_TO_STICKY_POLL_RATIO',
      'WORKER_TUNER',
      'WORKER_TUNER_TARGET_CPU',
    ]);
  });
});
