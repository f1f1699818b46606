import type { Endpoint, Fault, FaultMatch } from './types';

interface QueuedFault {
  fault: Fault;
  /** Only requests to this destination take the fault; any request to the endpoint when unset. */
  toEndPoint?: string;
  remaining: number;
}

/** Faults queued per endpoint, consumed by the next matching requests in the order they were queued. */
export class FaultQueue {
  private readonly queues = new Map<Endpoint, QueuedFault[]>();

  add(match: FaultMatch, fault: Fault, times = 1): void {
    if (!Number.isInteger(times) || times < 1) throw new Error(`times must be a positive integer, got ${times}`);
    const queue = this.queues.get(match.path) ?? [];
    queue.push({ fault, toEndPoint: match.toEndPoint, remaining: times });
    this.queues.set(match.path, queue);
  }

  /** The first queued fault that matches a request to `endpoint` (for `toEndPoint`, when its body names one). */
  take(endpoint: Endpoint, toEndPoint: string | undefined): Fault | undefined {
    const queue = this.queues.get(endpoint) ?? [];
    const index = queue.findIndex((q) => q.toEndPoint === undefined || q.toEndPoint === toEndPoint);
    const queued = queue[index];
    if (!queued) return undefined;
    queued.remaining -= 1;
    if (queued.remaining === 0) queue.splice(index, 1);
    return queued.fault;
  }

  clear(): void {
    this.queues.clear();
  }
}
