/**
 * The typed client for TypeScript backends: thin over `@temporalio/client`. Validates requests before anything
 * starts, enforces one transfer per caller leg, and reads state back from the workflow.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { parseTransferRequest, type TransferRequest } from '../input';
import { maskEndpoint } from '../mask';
import type {
  AttemptOutcome,
  TransferAttempt,
  TransferInput,
  TransferResult,
  TransferState,
  TransferStatus,
} from '../shared';
import {
  TASK_QUEUE,
  TRANSFER_WORKFLOW_TYPE,
  cancelUpdate,
  decisionUpdate,
  searchAttributes,
  statusQuery,
  transferWorkflowId,
} from '../shared';
import type { transferCall } from '../workflows';

/** A transfer for this caller leg is running with a different `requestId`. */
export class TransferAlreadyRunningError extends Error {
  public readonly name = 'TransferAlreadyRunningError';
  constructor(
    public readonly workflowId: string,
    public readonly runningRequestId: string | undefined
  ) {
    super(`a transfer is already running for this caller leg (${workflowId}); wait for it or cancel it first`);
  }
}

export interface StartedTransfer {
  workflowId: string;
  runId: string;
  requestId: string;
  /** True when this call returned an already running transfer with the same `requestId`. */
  existing: boolean;
  handle: WorkflowHandle<typeof transferCall>;
}

export interface TransferListFilter {
  state?: TransferState;
  outcome?: AttemptOutcome;
  room?: string;
  sessionId?: string;
  limit?: number;
}

export interface TransferListItem {
  workflowId: string;
  runId: string;
  status: string;
  state?: string;
  outcome?: string;
  room?: string;
  sessionId?: string;
  method?: string;
  startTime: Date;
  closeTime?: Date;
}

export class TransferClient {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string = TASK_QUEUE
  ) {}

  /**
   * Starts a transfer. Throws `TransferInputError` (naming each bad field) before anything starts, and
   * `TransferAlreadyRunningError` when the leg already has a running transfer with another `requestId`.
   */
  async start(request: TransferRequest): Promise<StartedTransfer> {
    const input = parseTransferRequest(request, randomUUID);
    const workflowId = transferWorkflowId(input.room, input.sessionId);
    try {
      const handle = await this.client.workflow.start<typeof transferCall>(
        TRANSFER_WORKFLOW_TYPE,
        this.startOptions(input, workflowId)
      );
      return { workflowId, runId: handle.firstExecutionRunId, requestId: input.requestId, existing: false, handle };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const handle = this.client.workflow.getHandle<typeof transferCall>(workflowId);
      const description = await handle.describe();
      const runningRequestId = description.memo?.requestId as string | undefined;
      if (runningRequestId !== input.requestId) throw new TransferAlreadyRunningError(workflowId, runningRequestId);
      return { workflowId, runId: description.runId, requestId: input.requestId, existing: true, handle };
    }
  }

  /**
   * Starts a transfer — or joins the running one with the same `requestId` — and resolves when it is decided
   * (answered, fallen back, failed or canceled), in one round trip: update-with-start, `USE_EXISTING`. The workflow
   * checks the `requestId` itself, so any language gets the same idempotency. Throws `TransferInputError` before
   * anything starts and `TransferAlreadyRunningError` for another `requestId`.
   */
  async decide(request: TransferRequest): Promise<{ workflowId: string; requestId: string; decision: TransferStatus }> {
    const input = parseTransferRequest(request, randomUUID);
    const workflowId = transferWorkflowId(input.room, input.sessionId);
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof transferCall>(TRANSFER_WORKFLOW_TYPE, {
      ...this.startOptions(input, workflowId),
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    try {
      const decision = await this.client.workflow.executeUpdateWithStart(decisionUpdate, {
        args: [{ requestId: input.requestId }],
        startWorkflowOperation,
      });
      return { workflowId, requestId: input.requestId, decision };
    } catch (err) {
      if (
        err instanceof WorkflowUpdateFailedError &&
        err.cause instanceof ApplicationFailure &&
        err.cause.type === 'TransferAlreadyRunning'
      ) {
        throw new TransferAlreadyRunningError(workflowId, undefined);
      }
      throw err;
    }
  }

  handle(workflowId: string): WorkflowHandle<typeof transferCall> {
    return this.client.workflow.getHandle<typeof transferCall>(workflowId);
  }

  private startOptions(input: TransferInput, workflowId: string) {
    return {
      workflowId,
      taskQueue: this.taskQueue,
      args: [input] as [TransferInput],
      memo: { requestId: input.requestId },
      typedSearchAttributes: [
        { key: searchAttributes.room, value: input.room },
        { key: searchAttributes.sessionId, value: input.sessionId },
        { key: searchAttributes.state, value: 'requested' },
        { key: searchAttributes.method, value: input.attempts[0]?.method ?? 'sipCallTransfer' },
      ],
      staticSummary: summarize(input),
      staticDetails: detail(input),
    };
  }

  /** The transfer's state, running or finished. */
  async status(workflowId: string): Promise<TransferStatus> {
    return this.handle(workflowId).query(statusQuery);
  }

  /** Stops a running transfer (running its fallback if the caller was already moved) and returns the final state. */
  async cancel(workflowId: string, reason?: string): Promise<TransferResult> {
    return this.handle(workflowId).executeUpdate(cancelUpdate, { args: [{ reason }] });
  }

  /** Waits for the final result. */
  async result(workflowId: string): Promise<TransferResult> {
    return this.handle(workflowId).result();
  }

  /** Transfers matching a filter, newest first, from the visibility store (search attributes). */
  async list(filter: TransferListFilter = {}): Promise<TransferListItem[]> {
    const items: TransferListItem[] = [];
    for await (const execution of this.client.workflow.list({ query: listQuery(filter) })) {
      const attributes = execution.typedSearchAttributes;
      items.push({
        workflowId: execution.workflowId,
        runId: execution.runId,
        status: execution.status.name,
        state: attributes.get(searchAttributes.state),
        outcome: attributes.get(searchAttributes.outcome),
        room: attributes.get(searchAttributes.room),
        sessionId: attributes.get(searchAttributes.sessionId),
        method: attributes.get(searchAttributes.method),
        startTime: execution.startTime,
        closeTime: execution.closeTime,
      });
      if (items.length >= (filter.limit ?? 50)) break;
    }
    return items;
  }
}

/** A visibility query for the filter; values are quoted so no input can change the query's shape. */
export function listQuery(filter: TransferListFilter): string {
  const quote = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const clauses = [`WorkflowType = ${quote(TRANSFER_WORKFLOW_TYPE)}`];
  if (filter.state) clauses.push(`${searchAttributes.state.name} = ${quote(filter.state)}`);
  if (filter.outcome) clauses.push(`${searchAttributes.outcome.name} = ${quote(filter.outcome)}`);
  if (filter.room) clauses.push(`${searchAttributes.room.name} = ${quote(filter.room)}`);
  if (filter.sessionId) clauses.push(`${searchAttributes.sessionId.name} = ${quote(filter.sessionId)}`);
  return clauses.join(' AND ');
}

/** An attempt's destinations, numbers masked: a `dialFirst` group rung together reads `a + b + c`. */
const destinationsOf = (a: TransferAttempt): string =>
  [a.toEndPoint, ...(a.ringTogether ?? []).map((d) => d.toEndPoint)].map(maskEndpoint).join(' + ');

/** One line for the Temporal UI's summary: where the caller is and where they go, numbers masked. */
function summarize(input: TransferInput): string {
  const destinations = input.attempts.map(destinationsOf).join(' → ');
  return `Transfer ${input.room}/${input.sessionId} to ${destinations}`;
}

function detail(input: TransferInput): string {
  const lines = input.attempts.map(
    (a, i) =>
      `${i + 1}. ${a.method} → ${destinationsOf(a)}, answer within ${a.answerTimeoutSec}s` +
      (a.ringTogether ? ' (rung together: the first to answer wins)' : '')
  );
  const exhausted = input.onExhausted;
  const fallback =
    exhausted.action === 'refer'
      ? `refer to ${maskEndpoint(exhausted.toEndPoint)}`
      : exhausted.action === 'rollback' && exhausted.returnTo
        ? `rollback to ${maskEndpoint(exhausted.returnTo)}`
        : exhausted.action;
  // Blank lines: markdown joins single newlines into one paragraph.
  return [
    '**Destinations**',
    lines.join('\n'),
    `**If none answers:** ${fallback}`,
    `requestId: ${input.requestId}`,
  ].join('\n\n');
}
