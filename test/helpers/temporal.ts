import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, bundleWorkflowCode } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { findTemporalCli } from '../../src/local/temporal-cli';
import { searchAttributes } from '../../src/shared';
import { WORKFLOW_METRICS_MODULES } from '../../src/telemetry/metrics';
import { WORKFLOW_TRACING_MODULES } from '../../src/telemetry/tracing';

let runtimeInstalled = false;

/** Keep test output readable: the worker logs warnings and errors only. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

/**
 * A real Temporal dev server for a test file: the `temporal` CLI built by `npm run setup` when there is one,
 * otherwise the SDK's own download (machines with internet). Switchboard's search attributes are registered.
 */
export async function startTestTemporal(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const binary = findTemporalCli();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: binary ? { type: 'existing-path', path: binary } : { type: 'cached-download' },
      searchAttributes: Object.values(searchAttributes),
      ip: '127.0.0.1',
    },
  });
}

const bundles = new Map<boolean, Promise<WorkflowBundleWithSourceMap>>();

/**
 * Bundling takes seconds: do it once per test file. With `tracing`, the bundle has OpenTelemetry's workflow
 * interceptors, which need a worker with the tracing plugin (its sink).
 */
export function switchboardWorkflowBundle(opts: { tracing?: boolean } = {}): Promise<WorkflowBundleWithSourceMap> {
  const tracing = opts.tracing ?? false;
  let bundle = bundles.get(tracing);
  if (!bundle) {
    bundle = bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      workflowInterceptorModules: [...WORKFLOW_METRICS_MODULES, ...(tracing ? WORKFLOW_TRACING_MODULES : [])],
      logger: new DefaultLogger('WARN'),
    });
    bundles.set(tracing, bundle);
  }
  return bundle;
}
