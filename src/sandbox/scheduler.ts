/**
 * Every timer and in-flight delivery the sandbox starts goes through here, so `idle()` can tell tests when nothing
 * more will happen and `reset()`/`close()` can cancel what is pending.
 */
export class Scheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<unknown>>();
  private waiters: Array<() => void> = [];

  constructor(private readonly onError: (err: unknown) => void) {}

  /** Runs `fn` after `ms`; the timer counts as pending work until `fn` has run. */
  after(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        // Removed before running so that `fn` sees only the timers that are still pending.
        this.timers.delete(timer);
        try {
          fn();
        } catch (err) {
          this.onError(err);
        }
        this.settle();
      },
      Math.max(0, ms)
    );
    this.timers.add(timer);
    return timer;
  }

  cancel(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    if (this.timers.delete(timer)) this.settle();
  }

  /** Counts `work` as pending until it settles; its rejection is reported, never thrown. */
  track(work: Promise<unknown>): void {
    const tracked = work.catch(this.onError).finally(() => {
      this.inflight.delete(tracked);
      this.settle();
    });
    this.inflight.add(tracked);
  }

  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Cancels every timer; in-flight work runs to its end (its owner checks whether it is still wanted). */
  clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.settle();
  }

  private isIdle(): boolean {
    return this.timers.size === 0 && this.inflight.size === 0;
  }

  private settle(): void {
    if (!this.isIdle()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
