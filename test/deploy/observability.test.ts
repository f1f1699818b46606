/**
 * The Grafana dashboard and the Prometheus alert rules under deploy/, checked against what really runs: a worker
 * process started as in production (with WORKER_METRICS_ADDRESS) and the relay, after transfers of every kind went
 * through them. Every panel and rule must query only series one of the two endpoints exposes, so a renamed metric
 * fails here rather than on an on-call engineer's empty graph.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parse } from 'yaml';
import { freePort } from '../../src/local/dev-server';
import { startStack, type TestStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { signed, transferEvent } from '../relay/deliveries';

const root = path.join(__dirname, '..', '..');

// ----------------------------------------------------------------------------------------------------------------
// PromQL and the exposition format, as much as the checks need
// ----------------------------------------------------------------------------------------------------------------

const PROMQL_WORDS = new Set([
  ...['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless'],
  ...['sum', 'min', 'max', 'avg', 'count', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values'],
  ...['inf', 'nan'],
]);

/** The metric names a PromQL expression selects (label matchers, strings, ranges, functions and keywords removed). */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  // A word followed by `(` is a function; numbers never start with a letter.
  const names = [...stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter((match) => match[2] === undefined)
    .map((match) => match[1] as string)
    .filter((word) => !PROMQL_WORDS.has(word.toLowerCase()));
  return [...new Set(names)];
}

/** Series names with at least one sample in a Prometheus text exposition. */
function exposedSeries(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => line.split(/[{\s]/)[0] as string)
  );
}

/** The sum of a series' samples whose labels include every given label. */
function total(text: string, name: string, labels: Record<string, string> = {}): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

test('metricNames reads the names out of PromQL', () => {
  expect(
    metricNames(
      'histogram_quantile(0.99, sum by (le, task_queue) (rate(a_bucket{x="y",z=~"a|b"}[5m]))) / sum(b_total) > 1 or vector(0)'
    )
  ).toEqual(['a_bucket', 'b_total']);
  expect(metricNames('absent(temporal_num_pollers{poller_type="workflow_task"})')).toEqual(['temporal_num_pollers']);
});

// ----------------------------------------------------------------------------------------------------------------
// The files
// ----------------------------------------------------------------------------------------------------------------

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: string }[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync(path.join(root, 'deploy/grafana/switchboard.json'), 'utf8')) as Dashboard;
const rules = (
  parse(readFileSync(path.join(root, 'deploy/prometheus/switchboard-alerts.yml'), 'utf8')) as {
    groups: { name: string; rules: Rule[] }[];
  }
).groups.flatMap((group) => group.rules);
const queries = dashboard.panels.flatMap((panel) => panel.targets ?? []);

describe('the Grafana dashboard', () => {
  test('is a dashboard Grafana imports: uid, title, schema version, a Prometheus data source variable', () => {
    expect(dashboard).toMatchObject({ uid: 'switchboard', title: 'Switchboard' });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' })
    );
  });

  test('has uniquely numbered panels of known types on the 24-column grid, without overlaps', () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const panel of dashboard.panels) {
      expect({ title: panel.title, type: panel.type }).toEqual({
        title: expect.any(String),
        type: expect.stringMatching(/^(row|timeseries|stat|gauge|table|bargauge)$/),
      });
      const { x, y, w, h } = panel.gridPos;
      expect({ title: panel.title, fits: x >= 0 && w > 0 && h > 0 && x + w <= 24 && y >= 0 }).toEqual({
        title: panel.title,
        fits: true,
      });
      for (let row = y; row < y + h; row++) {
        for (let column = x; column < x + w; column++) {
          const cell = `${column},${row}`;
          expect({ title: panel.title, overlaps: cells.has(cell) }).toEqual({ title: panel.title, overlaps: false });
          cells.add(cell);
        }
      }
    }
  });

  test('queries Prometheus through the variable in every panel, each with a description for the on-call engineer', () => {
    const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(graphs.length).toBeGreaterThanOrEqual(10);
    for (const panel of graphs) {
      expect({ title: panel.title, datasource: panel.datasource }).toEqual({
        title: panel.title,
        datasource: { type: 'prometheus', uid: '${datasource}' },
      });
      expect(panel.description?.length ?? 0).toBeGreaterThan(20);
      expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
      const refIds = (panel.targets ?? []).map((target) => target.refId);
      expect(new Set(refIds).size).toBe(refIds.length);
      for (const target of panel.targets ?? []) expect(metricNames(target.expr).length).toBeGreaterThan(0);
    }
  });
});

describe('the alert rules', () => {
  test('cover what on-call needs, each with a severity, a summary and a description', () => {
    const names = rules.map((rule) => rule.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        'SwitchboardWebhookDeliveryFailing',
        'SwitchboardScheduleToStartAboveRingBudget',
        'SwitchboardSpoolBacklog',
        'SwitchboardTransfersFailing',
        'SwitchboardTransferNeedsAttention',
        'SwitchboardFallbackFailed',
      ])
    );
    expect(new Set(names).size).toBe(names.length);
    for (const rule of rules) {
      expect({ alert: rule.alert, severity: rule.labels?.severity }).toEqual({
        alert: expect.stringMatching(/^Switchboard[A-Z]\w+$/),
        severity: expect.stringMatching(/^(critical|warning)$/),
      });
      expect(rule.annotations?.summary).toEqual(expect.any(String));
      expect(rule.annotations?.description).toEqual(expect.any(String));
      if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smh]$/);
      // Balanced parentheses: an unbalanced expression is the most common way a hand-edited rule fails to load.
      let depth = 0;
      for (const char of rule.expr) {
        depth += char === '(' ? 1 : char === ')' ? -1 : 0;
        expect(depth).toBeGreaterThanOrEqual(0);
      }
      expect({ alert: rule.alert, depth }).toEqual({ alert: rule.alert, depth: 0 });
    }
  });
});

// ----------------------------------------------------------------------------------------------------------------
// Against a running worker and relay
// ----------------------------------------------------------------------------------------------------------------

let stack: TestStack;
let worker: ChildProcess | undefined;
let metricsUrl: string;
/** Stands in for an OpenTelemetry Collector: the paths the worker's trace exports were posted to. */
let collector: Server;
const traceExports: string[] = [];

beforeAll(async () => {
  collector = createServer((request, response) => {
    traceExports.push(`${request.method} ${request.url}`);
    request.resume().on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  stack = await startStack({ worker: false });
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  metricsUrl = `http://${metricsAddress}/metrics`;
  worker = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/worker.ts')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: stack.env.address,
      TEMPORAL_TASK_QUEUE: stack.taskQueue,
      DAILY_API_URL: stack.sandbox.apiBase,
      DAILY_API_KEY: stack.sandbox.apiKey,
      WORKER_METRICS_ADDRESS: metricsAddress,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}, 60_000);

afterAll(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker?.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  await stack?.close();
  collector?.close();
});

const scrape = async (url: string): Promise<string> => {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return response.text();
};

test('every panel and alert queries a series that the worker or the relay exposes, and the transfer series move', async () => {
  const answers = 'sip:answers@pbx.example.com';
  const rings = 'sip:rings@pbx.example.com';
  const flaky = 'sip:flaky@pbx.example.com';
  stack.sandbox.setScenario(answers, { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
  stack.sandbox.setScenario(flaky, { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
  stack.sandbox.setScenario(rings, { kind: 'no-answer' });
  // A 503 before Daily acts: an unknown outcome, reconciled by presence, then sent again.
  stack.sandbox.queueFault({ path: 'sipCallTransfer', toEndPoint: flaky }, { kind: 'server-error', status: 503 });

  const start = (toEndPoint: string, answerTimeoutSec: number, action: 'rollback' | 'none') => {
    const call = stack.newCall();
    return stack.transfers.start({
      room: call.room,
      sessionId: call.sessionId,
      attempts: [{ method: 'sipCallTransfer', toEndPoint, answerTimeoutSec }],
      onExhausted: { action },
      reconcileWindowSec: 1,
    });
  };
  const started = await Promise.all([
    start(answers, 10, 'none'),
    start(rings, 1, 'rollback'),
    start(flaky, 10, 'none'),
    start(rings, 1, 'none'),
  ]);
  const states = await Promise.all(started.map(({ handle }) => handle.result().then((result) => result.state)));
  expect(states).toEqual(['completed', 'rolled_back', 'completed', 'failed']);

  // The relay's refusals and dead letters: a delivery with a wrong signature, a verified event of a type ignored.
  const webhook = `${stack.relayUrl}/webhooks/daily`;
  const forged = signed(transferEvent('calltransfer.answered', { session_id: 'x' }), {
    secret: Buffer.from('not the secret').toString('base64'),
  });
  expect((await fetch(webhook, { method: 'POST', headers: forged.headers, body: forged.body })).status).toBe(401);
  const ignored = signed(transferEvent('recording.started', { session_id: 'x' }), { secret: stack.webhookSecret });
  expect((await fetch(webhook, { method: 'POST', headers: ignored.headers, body: ignored.body })).status).toBe(200);

  // Workflow metrics reach the endpoint through the Core SDK's exporter shortly after the task that emitted them.
  let workerText = '';
  await waitFor('the four closed transfers on the worker endpoint', async () => {
    workerText = await scrape(metricsUrl);
    return total(workerText, 'switchboard_transfers_total') >= 4;
  });
  const relayText = await scrape(`${stack.relayUrl}/metrics`);

  const exposed = new Set([...exposedSeries(workerText), ...exposedSeries(relayText)]);
  const missing = [
    ...queries.map((target) => ({ where: `panel query ${target.expr}`, names: metricNames(target.expr) })),
    ...rules.map((rule) => ({ where: `alert ${rule.alert}`, names: metricNames(rule.expr) })),
  ].flatMap(({ where, names }) => names.filter((name) => !exposed.has(name)).map((name) => `${name} (${where})`));
  expect(missing).toEqual([]);

  // And they count what happened.
  expect(total(workerText, 'switchboard_transfers_total', { state: 'completed' })).toBe(2);
  expect(total(workerText, 'switchboard_transfers_total', { state: 'rolled_back', outcome: 'no-answer' })).toBe(1);
  expect(total(workerText, 'switchboard_transfers_total', { state: 'failed', outcome: 'no-answer' })).toBe(1);
  expect(total(workerText, 'switchboard_transfer_attempts_total', { outcome: 'no-answer' })).toBe(2);
  expect(total(workerText, 'switchboard_transfer_requests_total', { result: 'unknown' })).toBe(1);
  expect(total(workerText, 'switchboard_transfer_fallbacks_total', { action: 'rollback', ok: 'true' })).toBe(1);
  expect(total(workerText, 'switchboard_transfer_decision_seconds_count')).toBe(4);
  expect(total(workerText, 'temporal_workflow_task_schedule_to_start_latency_count')).toBeGreaterThan(0);
  expect(total(relayText, 'switchboard_relay_webhooks_signaled_total')).toBeGreaterThan(0);

  // With OTEL_EXPORTER_OTLP_ENDPOINT set, the worker exports its spans there (batched every few seconds).
  await waitFor('the worker to export traces', () => traceExports.includes('POST /v1/traces'));
}, 180_000);
