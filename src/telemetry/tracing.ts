/**
 * Traces (OpenTelemetry), on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Temporal's OpenTelemetry interceptors carry the
 * trace context through Temporal's headers, so one trace follows a transfer: the backend's start (when its client has
 * `clientTracingInterceptors()`), the `transferCall` workflow, each activity, and each request to Daily inside it
 * (`src/daily/client.ts`); each relay signal is a span carrying the workflow id, parent of the workflow's handling of
 * it. Spans carry workflow, run and activity ids, never inputs: destinations are phone numbers and SIP URIs.
 */
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ClientInterceptors } from '@temporalio/client';
import { OpenTelemetryPlugin, OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';

/** The workflow interceptors module the plugin adds; a pre-built workflow bundle must include it to trace. */
export const WORKFLOW_TRACING_MODULES: string[] = [
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

export interface Tracing {
  /** For `Worker.create({ plugins })`: activity and workflow interceptors, and the sink workflow spans leave by. */
  readonly workerPlugin: OpenTelemetryPlugin;
  /** Flushes the spans not exported yet and stops. */
  shutdown(): Promise<void>;
}

/** For a `Client`'s `interceptors.workflow`: a span per start, signal or update, its context sent in the headers. */
export function clientTracingInterceptors(): ClientInterceptors {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

/**
 * Registers the process's tracer provider: spans batched to the OTLP/HTTP endpoint of the standard `OTEL_EXPORTER_OTLP_*`
 * variables (tests pass their own processor), and a context manager that keeps the active span across awaits, which
 * the interceptors need to nest spans.
 */
export function startTracing(opts: { serviceName: string; spanProcessor?: SpanProcessor }): Tracing {
  const resource = new Resource({ 'service.name': opts.serviceName });
  const spanProcessor = opts.spanProcessor ?? new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  return {
    workerPlugin: new OpenTelemetryPlugin({ resource, spanProcessor }),
    shutdown: () => provider.shutdown(),
  };
}
