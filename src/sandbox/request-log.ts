import type { RecordedRequest, RequestFilter } from './types';

/** Every /v1 request the sandbox answered (or dropped), so tests can assert "exactly one transfer request". */
export class RequestLog {
  private seq = 0;
  private entries: RecordedRequest[] = [];

  add(entry: Omit<RecordedRequest, 'id'>): void {
    this.seq += 1;
    this.entries.push({ id: this.seq, ...entry });
  }

  list(filter: RequestFilter = {}): RecordedRequest[] {
    return this.entries.filter(
      (r) =>
        (filter.path === undefined || r.endpoint === filter.path || r.path === filter.path) &&
        (filter.room === undefined || r.room === filter.room)
    );
  }

  clear(): void {
    this.entries = [];
  }
}
