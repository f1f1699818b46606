/**
 * Traces against a real dev server, the sandbox and the relay, exported in-process: one trace follows a transfer from
 * the client's start through the workflow and each activity to each request to Daily; each webhook the relay signals
 * is a span carrying the workflow id, parent of the workflow's handling of it. No destination appears in any span.
 */
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTracing, type Tracing } from '../../src/telemetry/tracing';
import { startStack, type TestStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
let stack: TestStack;
beforeAll(async () => {
  tracing = startTracing({ serviceName: 'switchboard-test', spanProcessor: new SimpleSpanProcessor(exporter) });
  stack = await startStack({ tracing });
});
afterAll(async () => {
  await stack?.close();
  await tracing?.shutdown();
});

const PHONE = '+15551230042';
const AGENT = 'sip:agent-42@pbx.example.com';

test('one trace follows a transfer to each Daily request; each signal carries the workflow id; no personal data', async () => {
  stack.sandbox.setScenario(PHONE, { kind: 'no-answer' });
  stack.sandbox.setScenario(AGENT, { kind: 'answer', afterMs: 50, hangUpAfterMs: 100 });
  const call = stack.newCall();
  const { workflowId, handle } = await stack.transfers.start({
    room: call.room,
    sessionId: call.sessionId,
    attempts: [
      { method: 'sipCallTransfer', toEndPoint: PHONE, answerTimeoutSec: 1 },
      { method: 'sipCallTransfer', toEndPoint: AGENT, answerTimeoutSec: 10 },
    ],
    onExhausted: { action: 'none' },
  });
  expect((await handle.result()).state).toBe('completed');

  const spans = () => exporter.getFinishedSpans();
  const named = (prefix: string, of: ReadableSpan[] = spans()) => of.filter((span) => span.name.startsWith(prefix));
  // Workflow spans leave the worker through a sink after the activation that ended them.
  await waitFor('the workflow span', () => named('RunWorkflow:transferCall').length > 0);

  // start → workflow → activities → Daily, one trace.
  const [start] = named('StartWorkflow:transferCall');
  expect(start?.attributes.temporalWorkflowId).toBe(workflowId);
  const traceId = start?.spanContext().traceId;
  const trace = spans().filter((span) => span.spanContext().traceId === traceId);
  const byId = new Map(trace.map((span) => [span.spanContext().spanId, span]));
  const ancestors = (span: ReadableSpan): string[] => {
    const parent = span.parentSpanId === undefined ? undefined : byId.get(span.parentSpanId);
    return parent ? [parent.name, ...ancestors(parent)] : [];
  };
  const [run] = named('RunWorkflow:transferCall', trace);
  expect(run && ancestors(run)).toContain('StartWorkflow:transferCall');
  const requests = named('RunActivity:requestTransfer', trace);
  expect(requests).toHaveLength(2);
  for (const activity of requests) {
    expect(ancestors(activity)).toEqual(
      expect.arrayContaining(['StartActivity:requestTransfer', 'RunWorkflow:transferCall'])
    );
    expect(activity.attributes.temporalWorkflowId).toBe(workflowId);
    const daily = trace.filter((span) => span.parentSpanId === activity.spanContext().spanId);
    expect(daily.map((span) => [span.name, span.attributes['http.response.status_code']])).toEqual([
      ['Daily POST /rooms/{id}/sipCallTransfer', 200],
    ]);
  }

  // webhook → relay → signal: a span per signal with the workflow id, parent of the workflow's handling of it.
  const signals = named('SignalWorkflow:dailyEvent').filter(
    (span) => span.attributes.temporalWorkflowId === workflowId
  );
  expect(signals.length).toBeGreaterThanOrEqual(3); // triggered, initiated, answered at least
  await waitFor('the workflow to have handled every signal', () => {
    const handled = named('HandleSignal:dailyEvent');
    return signals.every((signal) => handled.some((span) => span.parentSpanId === signal.spanContext().spanId));
  });

  // No personal data: destinations and the caller's SIP URI appear nowhere in names, attributes, events or statuses.
  const exported = JSON.stringify(
    spans().map((span) => ({ name: span.name, attributes: span.attributes, events: span.events, status: span.status }))
  );
  for (const secret of [PHONE, PHONE.slice(1), AGENT, 'pbx.example.com', call.roomSipUri]) {
    expect(exported).not.toContain(secret);
  }
}, 120_000);
