/**
 * The replay gate (`switchboard replay`): downloads recent transfer histories from a namespace and replays them against
 * the workflow code of this build. A history that does not replay means the new code would break the transfers that
 * are running when it is deployed, so the gate runs before every deploy.
 */
import type { Client } from '@temporalio/client';
import type { HistoryAndWorkflowId } from '@temporalio/client';
import { TRANSFER_WORKFLOW_TYPE } from '../shared';

export interface ReplayFailure {
  workflowId: string;
  runId: string;
  /** True for a determinism violation; false for another replay error (the workflow task failed to apply). */
  nondeterministic: boolean;
  error: string;
}

export interface ReplayReport {
  /** The visibility query that selected the histories, as sent (restricted to transfer workflows). */
  query: string;
  replayed: number;
  failures: ReplayFailure[];
}

/**
 * Only transfers: this build's bundle has no other workflow type, and replaying one would fail for that reason
 * rather than for a real incompatibility.
 */
export function replayQuery(query: string | undefined): string {
  const transfers = `WorkflowType = '${TRANSFER_WORKFLOW_TYPE}'`;
  return query?.trim() ? `(${query}) AND ${transfers}` : transfers;
}

/** The newest `limit` executions matching `query`, with their histories, fetched one after another. */
async function* histories(client: Client, query: string, limit: number): AsyncGenerator<HistoryAndWorkflowId> {
  let taken = 0;
  for await (const execution of client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
    if (taken >= limit) return;
    taken++;
    const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    yield { workflowId: execution.workflowId, history };
  }
}

/**
 * Replays the newest `limit` transfers matching `query` against the workflow code at `workflowsPath` (this build's
 * by default). `onResult` is told about each history as it finishes, for progress output.
 */
export async function replayTransfers(opts: {
  client: Client;
  query?: string;
  limit: number;
  workflowsPath?: string;
  onResult?: (workflowId: string, failure: ReplayFailure | undefined) => void;
}): Promise<ReplayReport> {
  // The worker package loads Temporal's native core: only this command pays for it.
  const { bundleWorkflowCode, DefaultLogger, Runtime, Worker } = await import('@temporalio/worker');
  const { DeterminismViolationError } = await import('@temporalio/workflow');
  try {
    // Replay warnings would drown the report; errors are reported per history below. A process that already has a
    // runtime (tests calling the CLI in-process) keeps its own logger.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Already installed.
  }
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: opts.workflowsPath ?? require.resolve('../workflows'),
    logger: new DefaultLogger('ERROR'),
  });
  const query = replayQuery(opts.query);
  const report: ReplayReport = { query, replayed: 0, failures: [] };
  for await (const result of Worker.runReplayHistories({ workflowBundle }, histories(opts.client, query, opts.limit))) {
    report.replayed++;
    const failure = result.error && {
      workflowId: result.workflowId,
      runId: result.runId,
      nondeterministic: result.error instanceof DeterminismViolationError,
      error: result.error.message,
    };
    if (failure) report.failures.push(failure);
    opts.onResult?.(result.workflowId, failure);
  }
  return report;
}

/** The report for people: what was replayed, and each failure with the reason Temporal's replayer gave. */
export function formatReplayReport(report: ReplayReport): string {
  const lines = [`query: ${report.query}`];
  if (report.replayed === 0) lines.push('no transfer matched: nothing to replay');
  for (const failure of report.failures) {
    const kind = failure.nondeterministic ? 'nondeterminism' : 'replay error';
    lines.push(`${failure.workflowId} (run ${failure.runId}): ${kind}: ${failure.error}`);
  }
  const passed = report.replayed - report.failures.length;
  lines.push(
    report.failures.length === 0
      ? `${report.replayed} replayed, all compatible with this code`
      : `${report.replayed} replayed: ${passed} compatible, ${report.failures.length} NOT: do not deploy this code`
  );
  return `${lines.join('\n')}\n`;
}
