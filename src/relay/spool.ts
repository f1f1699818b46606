import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * The relay's durable spool: one SQLite file per relay (WAL mode), written before Daily gets its 200.
 *
 * - `jobs` holds what is still to be done with a verified event: signal it to its transfer, or forward it. A job
 *   belongs to a lane (the transfer's workflow id for signals); the drainer runs a lane's jobs in order, one at a time.
 * - `seen` remembers every accepted event id for `dedupeRetentionMs`, so a retried or duplicated delivery is
 *   answered 200 and not spooled again (the window covers Daily's whole retry schedule and then some).
 * - `dead_letters` keeps verified events that cannot be used, with why, for `deadLetterRetentionMs`.
 *
 * better-sqlite3 is synchronous: an intake write blocks the event loop for one transaction and its fsync, which is
 * what makes "200 means on disk" true (about 0.1 ms on a local SSD, 1–3 ms on this benchmark's virtual disk).
 */

export type JobKind = 'signal' | 'forward';

export interface NewJob {
  kind: JobKind;
  /** Jobs of one lane run in order; different lanes run concurrently. */
  lane: string;
  /** What the job carries: the normalised event (signal) or the raw body (forward). */
  data: string;
  /** For `forward` jobs: the target's name in the relay's configuration. */
  target?: string;
}

export interface Job extends NewJob {
  seq: number;
  eventId: string;
  type: string;
  domainId?: string;
  receivedAtMs: number;
  attempts: number;
  nextAttemptAtMs: number;
  lastError?: string;
}

/** The reasons a verified event ends in the dead-letter table. */
export type DeadLetterReason =
  | 'malformed_json'
  | 'invalid_event'
  | 'ignored_type'
  | 'no_running_transfer'
  | 'domain_mismatch'
  | 'rejected_by_target';

export interface DeadLetter {
  id: number;
  eventId?: string;
  type?: string;
  domainId?: string;
  reason: DeadLetterReason;
  detail: string;
  /** The event as Daily sent it (raw body), or the normalised event for a signal that found no transfer. */
  body: string;
  receivedAtMs: number;
  deadAtMs: number;
}

export interface EventMeta {
  eventId: string;
  type: string;
  domainId?: string;
  receivedAtMs: number;
}

export type AcceptResult = { outcome: 'accepted'; jobs: Job[] } | { outcome: 'duplicate' };

export interface SpoolOptions {
  /** How long accepted event ids are remembered for dedupe. Default 24 h. */
  dedupeRetentionMs?: number;
  /** How long dead letters are kept. Default 7 days. */
  deadLetterRetentionMs?: number;
}

/** The spool file could not be opened or written: the relay cannot promise durability, so it must not answer 200. */
export class SpoolError extends Error {
  public readonly name = 'SpoolError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  lane TEXT NOT NULL,
  target TEXT,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  domain_id TEXT,
  data TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE TABLE IF NOT EXISTS seen (
  key TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_received_at ON seen (received_at);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT,
  type TEXT,
  domain_id TEXT,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  body TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  dead_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_dead_at ON dead_letters (dead_at);
`;

interface JobRow {
  seq: number;
  kind: JobKind;
  lane: string;
  target: string | null;
  event_id: string;
  type: string;
  domain_id: string | null;
  data: string;
  received_at: number;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
}

interface DeadLetterRow {
  id: number;
  event_id: string | null;
  type: string | null;
  domain_id: string | null;
  reason: DeadLetterReason;
  detail: string;
  body: string;
  received_at: number;
  dead_at: number;
}

const toJob = (row: JobRow): Job => ({
  seq: row.seq,
  kind: row.kind,
  lane: row.lane,
  ...(row.target === null ? {} : { target: row.target }),
  eventId: row.event_id,
  type: row.type,
  ...(row.domain_id === null ? {} : { domainId: row.domain_id }),
  data: row.data,
  receivedAtMs: row.received_at,
  attempts: row.attempts,
  nextAttemptAtMs: row.next_attempt_at,
  ...(row.last_error === null ? {} : { lastError: row.last_error }),
});

const toDeadLetter = (row: DeadLetterRow): DeadLetter => ({
  id: row.id,
  ...(row.event_id === null ? {} : { eventId: row.event_id }),
  ...(row.type === null ? {} : { type: row.type }),
  ...(row.domain_id === null ? {} : { domainId: row.domain_id }),
  reason: row.reason,
  detail: row.detail,
  body: row.body,
  receivedAtMs: row.received_at,
  deadAtMs: row.dead_at,
});

/** Event ids are unique within a Daily domain; the domain is part of the key so two domains never collide. */
const seenKey = (meta: { eventId: string; domainId?: string }) => `${meta.domainId ?? ''}/${meta.eventId}`;

export class Spool {
  private readonly db: Database.Database;
  private readonly dedupeRetentionMs: number;
  private readonly deadLetterRetentionMs: number;
  private readonly statements;
  private readonly reads;

  /** Opens (creating when needed) the spool at `file`; `:memory:` gives a spool that dies with the process (tests). */
  constructor(
    public readonly file: string,
    opts: SpoolOptions & { readonly?: boolean } = {}
  ) {
    this.dedupeRetentionMs = opts.dedupeRetentionMs ?? 24 * 3600_000;
    this.deadLetterRetentionMs = opts.deadLetterRetentionMs ?? 7 * 24 * 3600_000;
    try {
      if (file !== ':memory:' && !opts.readonly) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      this.db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
      if (!opts.readonly) {
        this.db.pragma('journal_mode = WAL');
        // Bookkeeping (a job done, retried, dead-lettered by the drainer) commits without fsync: a crash loses
        // nothing (WAL), and what a power loss could undo is only redone — a signal sent again, which the workflow
        // dedupes. Intake commits with FULL (see `durably`): the 200 promises the event survives a power loss.
        this.db.pragma('synchronous = NORMAL');
        this.db.exec(SCHEMA);
      }
      // Another process (the CLI reading dead letters, a checkpoint) may hold the lock for a moment.
      this.db.pragma('busy_timeout = 2000');
      this.statements = opts.readonly ? undefined : this.prepare();
      this.reads = {
        pendingJobs: this.db.prepare<[string]>('SELECT * FROM jobs WHERE kind = ? ORDER BY seq'),
        job: this.db.prepare<[number]>('SELECT * FROM jobs WHERE seq = ?'),
      };
    } catch (err) {
      throw new SpoolError(`cannot open the relay spool ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  private prepare() {
    const db = this.db;
    return {
      markSeen: db.prepare<[string, number]>('INSERT OR IGNORE INTO seen (key, received_at) VALUES (?, ?)'),
      insertJob: db.prepare<[string, string, string | null, string, string, string | null, string, number]>(
        `INSERT INTO jobs (kind, lane, target, event_id, type, domain_id, data, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`
      ),
      deleteJob: db.prepare<[number]>('DELETE FROM jobs WHERE seq = ?'),
      retryJob: db.prepare<[number, string, number]>(
        'UPDATE jobs SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ?'
      ),
      insertDeadLetter: db.prepare<
        [string | null, string | null, string | null, string, string, string, number, number]
      >(
        `INSERT INTO dead_letters (event_id, type, domain_id, reason, detail, body, received_at, dead_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
      ),
      pruneSeen: db.prepare<[number]>('DELETE FROM seen WHERE received_at < ?'),
      pruneDeadLetters: db.prepare<[number]>('DELETE FROM dead_letters WHERE dead_at < ?'),
    };
  }

  private get writes() {
    if (!this.statements) throw new SpoolError(`the spool ${this.file} was opened read-only`);
    return this.statements;
  }

  /**
   * Records a verified event: its id as seen and its jobs, in one transaction. A second delivery of the same event
   * (Daily's retry after a lost 200, a duplicate) is `duplicate` and adds nothing.
   */
  accept(meta: EventMeta, jobs: readonly NewJob[]): AcceptResult {
    const w = this.writes;
    return this.durably(() =>
      this.db.transaction((): AcceptResult => {
        if (w.markSeen.run(seenKey(meta), meta.receivedAtMs).changes === 0) return { outcome: 'duplicate' };
        const inserted = jobs.map(
          (job) =>
            w.insertJob.get(
              job.kind,
              job.lane,
              job.target ?? null,
              meta.eventId,
              meta.type,
              meta.domainId ?? null,
              job.data,
              meta.receivedAtMs
            ) as JobRow
        );
        return { outcome: 'accepted', jobs: inserted.map(toJob) };
      })()
    );
  }

  /**
   * Dead-letters an event straight from intake (it cannot be used). When it has an id it is marked seen too, so
   * duplicates of it are not kept twice; returns false for such a duplicate.
   */
  deadLetterAtIntake(
    meta: Partial<EventMeta> & { receivedAtMs: number },
    reason: DeadLetterReason,
    detail: string,
    body: string
  ): boolean {
    const w = this.writes;
    return this.durably(() =>
      this.db.transaction((): boolean => {
        if (meta.eventId !== undefined) {
          const key = seenKey({ eventId: meta.eventId, domainId: meta.domainId });
          if (w.markSeen.run(key, meta.receivedAtMs).changes === 0) return false;
        }
        w.insertDeadLetter.run(
          meta.eventId ?? null,
          meta.type ?? null,
          meta.domainId ?? null,
          reason,
          detail,
          body,
          meta.receivedAtMs,
          Date.now()
        );
        return true;
      })()
    );
  }

  /** Every job of that kind still to do, oldest first: what a restarted relay drains. */
  pending(kind: JobKind): Job[] {
    return (this.reads.pendingJobs.all(kind) as JobRow[]).map(toJob);
  }

  job(seq: number): Job | undefined {
    const row = this.reads.job.get(seq) as JobRow | undefined;
    return row && toJob(row);
  }

  /** The job is done (Temporal accepted the signal, the target its delivery). */
  complete(seq: number): void {
    const w = this.writes;
    this.write(() => w.deleteJob.run(seq));
  }

  /** The job failed and is tried again at `nextAttemptAtMs`. */
  retryLater(seq: number, nextAttemptAtMs: number, error: string): void {
    const w = this.writes;
    this.write(() => w.retryJob.run(nextAttemptAtMs, error.slice(0, 1000), seq));
  }

  /** The job can never succeed: it leaves the queue for the dead-letter table, atomically. */
  deadLetter(job: Job, reason: DeadLetterReason, detail: string): void {
    const w = this.writes;
    this.write(() =>
      this.db.transaction(() => {
        w.deleteJob.run(job.seq);
        w.insertDeadLetter.run(
          job.eventId,
          job.type,
          job.domainId ?? null,
          reason,
          detail,
          job.data,
          job.receivedAtMs,
          Date.now()
        );
      })()
    );
  }

  /** Newest first. */
  deadLetters(filter: { reason?: string; limit?: number } = {}): DeadLetter[] {
    const where = filter.reason === undefined ? '' : 'WHERE reason = ?';
    const args: Array<string | number> = filter.reason === undefined ? [] : [filter.reason];
    const rows = this.db
      .prepare(`SELECT * FROM dead_letters ${where} ORDER BY id DESC LIMIT ?`)
      .all(...args, filter.limit ?? -1) as DeadLetterRow[];
    return rows.map(toDeadLetter);
  }

  /** Dead letters kept now, by reason (for `/metrics` and the CLI). */
  deadLetterCounts(): Record<string, number> {
    const rows = this.db.prepare('SELECT reason, COUNT(*) AS n FROM dead_letters GROUP BY reason').all() as Array<{
      reason: string;
      n: number;
    }>;
    return Object.fromEntries(rows.map((row) => [row.reason, row.n]));
  }

  /** Forgets event ids and dead letters older than their retention. */
  prune(nowMs = Date.now()): void {
    const w = this.writes;
    this.write(() => {
      w.pruneSeen.run(nowMs - this.dedupeRetentionMs);
      w.pruneDeadLetters.run(nowMs - this.deadLetterRetentionMs);
    });
  }

  close(): void {
    this.db.close();
  }

  /** A write whose commit is fsynced before it returns (the WAL frames of earlier commits with it). */
  private durably<T>(fn: () => T): T {
    return this.write(() => {
      this.db.pragma('synchronous = FULL');
      try {
        return fn();
      } finally {
        this.db.pragma('synchronous = NORMAL');
      }
    });
  }

  private write<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new SpoolError(`cannot write the relay spool ${this.file}: ${(err as Error).message}`, { cause: err });
    }
  }
}
