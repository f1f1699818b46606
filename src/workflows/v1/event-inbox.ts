import type { DailyEvent, EventRecord } from '../../shared';

/**
 * Daily delivers webhooks at least once, in any order, sometimes late. The inbox keeps each event id once, ignores
 * events for other legs, and hands new events to whichever attempt is running. Events still waiting when the next
 * attempt starts belonged to an attempt already decided: they are recorded as late, never acted on.
 */
export class EventInbox {
  private readonly seen = new Set<string>();
  private pending: Array<{ event: DailyEvent; receivedAtMs: number }> = [];
  duplicates = 0;

  constructor(private readonly sessionId: string) {}

  receive(event: DailyEvent, receivedAtMs: number): void {
    if (event.sessionId !== this.sessionId) return;
    if (this.seen.has(event.id)) {
      this.duplicates++;
      return;
    }
    this.seen.add(event.id);
    this.pending.push({ event, receivedAtMs });
  }

  take(): Array<{ event: DailyEvent; receivedAtMs: number }> {
    const taken = this.pending;
    this.pending = [];
    return taken;
  }

  /** Moves what is still waiting (from earlier attempts) to `late`, so the new attempt starts clean. */
  startAttempt(late: EventRecord[]): void {
    for (const { event, receivedAtMs } of this.take()) late.push(record(event, receivedAtMs, false));
  }
}

export function record(event: DailyEvent, receivedAtMs: number, acted: boolean): EventRecord {
  return { id: event.id, type: event.type, receivedAt: new Date(receivedAtMs).toISOString(), acted };
}
