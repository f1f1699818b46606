/**
 * `switchboard webhook dead-letters`: what the relay received from Daily, verified, and could not use — read from
 * the relay's spool file (on the relay's machine or volume: `kubectl exec relay-0 -- switchboard webhook dead-letters`).
 */
import { existsSync } from 'node:fs';
import { defaultSpoolPath } from '../relay/config';
import type { DeadLetter, DeadLetterReason } from '../relay/spool';
import { Spool, SpoolError } from '../relay/spool';

export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  'malformed_json',
  'invalid_event',
  'ignored_type',
  'no_running_transfer',
  'domain_mismatch',
  'rejected_by_target',
];

export interface DeadLetterReport {
  spool: string;
  /** Dead letters kept now, by reason (all of them, whatever the filter). */
  counts: Record<string, number>;
  /** The newest ones matching the filter, newest first. */
  deadLetters: DeadLetter[];
}

/** The spool `--spool`, `RELAY_SPOOL_PATH` or the relay's default names; read-only, so a running relay is not disturbed. */
export function readDeadLetters(opts: {
  spool?: string;
  env: NodeJS.ProcessEnv;
  reason?: string;
  limit: number;
}): DeadLetterReport {
  const file = opts.spool ?? (opts.env.RELAY_SPOOL_PATH || defaultSpoolPath(opts.env));
  if (!existsSync(file)) {
    throw new SpoolError(`no relay spool at ${file} (set --spool or RELAY_SPOOL_PATH to the relay's spool file)`);
  }
  const spool = new Spool(file, { readonly: true });
  try {
    return {
      spool: file,
      counts: spool.deadLetterCounts(),
      deadLetters: spool.deadLetters({ reason: opts.reason, limit: opts.limit }),
    };
  } finally {
    spool.close();
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

/** `--json`: times as ISO strings, the body as the relay kept it. */
export function deadLettersJson(report: DeadLetterReport): string {
  const deadLetters = report.deadLetters.map(({ receivedAtMs, deadAtMs, ...rest }) => ({
    ...rest,
    receivedAt: iso(receivedAtMs),
    deadAt: iso(deadAtMs),
  }));
  return `${JSON.stringify({ spool: report.spool, counts: report.counts, deadLetters })}\n`;
}

export function formatDeadLetters(report: DeadLetterReport): string {
  const total = Object.values(report.counts).reduce((a, b) => a + b, 0);
  const lines = [`Dead letters in ${report.spool}: ${total}`];
  if (total > 0) {
    const byReason = Object.entries(report.counts).sort(([, a], [, b]) => b - a);
    lines.push(...byReason.map(([reason, count]) => `  ${reason.padEnd(20)} ${count}`));
  }
  if (report.deadLetters.length > 0) {
    lines.push('', `Newest ${report.deadLetters.length}:`);
    for (const letter of report.deadLetters) {
      const what = [letter.type ?? '(no type)', letter.eventId ?? '(no id)'].join('  ');
      lines.push(`  ${iso(letter.deadAtMs)}  ${letter.reason}  ${what}`, `      ${letter.detail.split('\n')[0]}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
