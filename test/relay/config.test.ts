import { ConfigError } from '../../src/config';
import path from 'node:path';
import { loadRelayConfig } from '../../src/relay/config';

const secret = Buffer.from('s3cret').toString('base64');

describe('loadRelayConfig', () => {
  test('applies defaults', () => {
    expect(loadRelayConfig({ DAILY_WEBHOOK_SECRET: secret })).toEqual({
      temporal: { address: '127.0.0.1:7233', namespace: 'default' },
      port: 8080,
      host: '0.0.0.0',
      secrets: secret,
      daily: undefined,
      watchdogIntervalSec: 60,
      spoolPath: path.resolve('.switchboard', 'relay-spool.sqlite'),
      drainConcurrency: 32,
      signalBatch: 16,
    });
  });

  test('reads previous secrets for rotation: DAILY_WEBHOOK_SECRET_PREVIOUS, or domain=current:previous', () => {
    const previous = Buffer.from('old').toString('base64');
    expect(loadRelayConfig({ DAILY_WEBHOOK_SECRET: secret, DAILY_WEBHOOK_SECRET_PREVIOUS: previous }).secrets).toEqual([
      secret,
      previous,
    ]);
    expect(loadRelayConfig({ DAILY_WEBHOOK_SECRETS: `a=${secret}:${previous},b=${secret}` }).secrets).toEqual({
      a: [secret, previous],
      b: secret,
    });
    expect(() => loadRelayConfig({ DAILY_WEBHOOK_SECRETS: `a=${secret}:${previous}:${previous}` })).toThrow(
      /current:previous/
    );
    expect(() =>
      loadRelayConfig({ DAILY_WEBHOOK_SECRETS: `a=${secret}`, DAILY_WEBHOOK_SECRET_PREVIOUS: previous })
    ).toThrow(/DAILY_WEBHOOK_SECRET_PREVIOUS: only with DAILY_WEBHOOK_SECRET/);
  });

  test('moves /metrics to RELAY_METRICS_PORT when set', () => {
    expect(loadRelayConfig({ DAILY_WEBHOOK_SECRET: secret, RELAY_METRICS_PORT: '9465' }).metricsPort).toBe(9465);
    expect(() => loadRelayConfig({ DAILY_WEBHOOK_SECRET: secret, RELAY_METRICS_PORT: 'x' })).toThrow(
      /RELAY_METRICS_PORT/
    );
  });

  test('puts the spool at RELAY_SPOOL_PATH, else under SWITCHBOARD_DATA_DIR', () => {
    const base = { DAILY_WEBHOOK_SECRET: secret };
    expect(loadRelayConfig({ ...base, RELAY_SPOOL_PATH: '/var/lib/relay/spool.db' }).spoolPath).toBe(
      '/var/lib/relay/spool.db'
    );
    expect(loadRelayConfig({ ...base, SWITCHBOARD_DATA_DIR: '/data' }).spoolPath).toBe('/data/relay-spool.sqlite');
  });

  test('reads per-domain secrets, whose base64 may end in =', () => {
    const config = loadRelayConfig({ DAILY_WEBHOOK_SECRETS: `dom-a=${secret}, dom-b=YWI=` });
    expect(config.secrets).toEqual({ 'dom-a': secret, 'dom-b': 'YWI=' });
  });

  test('reads Temporal Cloud and Daily API settings', () => {
    const config = loadRelayConfig({
      DAILY_WEBHOOK_SECRET: secret,
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'ns.acct',
      TEMPORAL_API_KEY: 'key',
      TEMPORAL_TLS_CERT_PATH: '/c.pem',
      TEMPORAL_TLS_KEY_PATH: '/k.pem',
      DAILY_API_KEY: 'daily-key',
      WEBHOOK_WATCHDOG_INTERVAL_SEC: '15',
      RELAY_PORT: '9000',
    });
    expect(config).toMatchObject({
      temporal: { apiKey: 'key', tls: { clientCert: { path: '/c.pem' }, clientKey: { path: '/k.pem' } } },
      daily: { apiKey: 'daily-key', apiUrl: 'https://api.daily.co/v1' },
      watchdogIntervalSec: 15,
      port: 9000,
    });
  });

  test('names every bad or missing variable at once, never a value', () => {
    let error: unknown;
    try {
      loadRelayConfig({
        RELAY_PORT: 'eighty',
        DAILY_WEBHOOK_SECRETS: 'dom-a:secretvalue',
        TEMPORAL_TLS_KEY_PATH: '/k.pem',
        DAILY_API_URL: 'not a url',
        WEBHOOK_WATCHDOG_INTERVAL_SEC: '-1',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { issues, message } = error as ConfigError;
    expect(issues.map((issue) => issue.split(':')[0]).sort()).toEqual([
      'DAILY_API_URL',
      'DAILY_WEBHOOK_SECRETS',
      'RELAY_PORT',
      'TEMPORAL_TLS_CERT_PATH',
      'WEBHOOK_WATCHDOG_INTERVAL_SEC',
    ]);
    expect(message).not.toContain('secretvalue');
  });

  test('requires exactly one way of giving the webhook secret', () => {
    expect(() => loadRelayConfig({})).toThrow(/DAILY_WEBHOOK_SECRET/);
    expect(() => loadRelayConfig({ DAILY_WEBHOOK_SECRET: secret, DAILY_WEBHOOK_SECRETS: `a=${secret}` })).toThrow(
      /exactly one/
    );
    expect(() => loadRelayConfig({ DAILY_WEBHOOK_SECRET: 'not base64!' })).toThrow(/base64/);
  });

  test('treats empty variables as unset', () => {
    expect(loadRelayConfig({ DAILY_WEBHOOK_SECRET: secret, RELAY_PORT: '', DAILY_API_KEY: '' })).toMatchObject({
      port: 8080,
      daily: undefined,
    });
  });
});
