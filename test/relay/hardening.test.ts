/**
 * The relay's exposure to the internet: slow or silent clients lose their connection, and `/metrics` can live on a
 * port of its own that the webhook port does not answer for.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { freePort } from '../../src/local/dev-server';
import { createRelay } from '../../src/relay/app';
import { startRelay } from '../../src/relay/server';
import { SECRET } from './deliveries';

const dataDir = mkdtempSync(path.join(tmpdir(), 'switchboard-relay-hardening-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Opens a raw connection, writes `sent`, and resolves with what came back and how long until the server closed. */
function holdOpen(url: string, sent: string): Promise<{ reply: string; closedAfterMs: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let reply = '';
    const socket = connect(Number(port), hostname, () => socket.write(sent));
    socket.on('data', (chunk) => (reply += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve({ reply, closedAfterMs: Date.now() - started }));
  });
}

describe('timeouts', () => {
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    app = createRelay({
      temporal: { workflow: { getHandle: () => ({ signal: async () => undefined }) }, withDeadline: (_d, fn) => fn() },
      secrets: SECRET,
      isTemporalReady: async () => true,
      requestTimeoutMs: 1000,
      connectionTimeoutMs: 1500,
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  test('a delivery whose body never finishes arriving is cut off', async () => {
    const head =
      'POST /webhooks/daily HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n';
    const { reply, closedAfterMs } = await holdOpen(url, `${head}{"type":`);
    // Node may answer 408 or just close the socket: either way the relay is rid of it.
    expect(reply).toMatch(/^(HTTP\/1\.1 408 [^]*)?$/);
    // Node checks request deadlines once a second: 1 s timeout, closed within the next check or two.
    expect(closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(closedAfterMs).toBeLessThan(5000);
  });

  test('a connection that sends nothing is closed', async () => {
    const { reply, closedAfterMs } = await holdOpen(url, '');
    expect(reply).toMatch(/^(HTTP\/1\.1 408 [^]*)?$/);
    expect(closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(closedAfterMs).toBeLessThan(5000);
  });
});

describe('RELAY_METRICS_PORT', () => {
  test('serves /metrics on its own port only; the webhook port answers 404 for it', async () => {
    const relay = await startRelay(
      {
        temporal: { address: `127.0.0.1:${await freePort()}`, namespace: 'default' },
        port: 0,
        host: '127.0.0.1',
        secrets: SECRET,
        watchdogIntervalSec: 60,
        spoolPath: path.join(dataDir, `${randomUUID()}.sqlite`),
        metricsPort: 0,
      },
      { logger: pino({ level: 'silent' }) }
    );
    try {
      expect(relay.metricsUrl).not.toBe(relay.url);
      const metrics = await fetch(`${relay.metricsUrl}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('switchboard_relay_spool_pending_events 0');
      expect((await fetch(`${relay.url}/metrics`)).status).toBe(404);
      expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${relay.metricsUrl}/webhooks/daily`, { method: 'POST', body: '{}' })).status).toBe(404);
    } finally {
      await relay.close();
    }
  });
});
