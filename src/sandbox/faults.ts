import type { Endpoint, Fault } from './types';

interface QueuedFault {
  fault: Fault;
  remaining: number;
}

/** Faults queued per endpoint, consumed by the next matching requests in the order they were queued. */
export class FaultQueue {
  private readonly queues = new Map<Endpoint, QueuedFault[]>();

  add(endpoint: Endpoint, fault: Fault, times = 1): void {
    if (!Number.isInteger(times) || times < 1) throw new Error(`times must be a positive integer, got ${times}`);
    const queue = this.queues.get(endpoint) ?? [];
    queue.push({ fault, remaining: times });
    this.queues.set(endpoint, queue);
  }

  take(endpoint: Endpoint): Fault | undefined {
    const queue = this.queues.get(endpoint);
    const head = queue?.[0];
    if (!queue || !head) return undefined;
    head.remaining -= 1;
    if (head.remaining === 0) queue.shift();
    return head.fault;
  }

  clear(): void {
    this.queues.clear();
  }
}
