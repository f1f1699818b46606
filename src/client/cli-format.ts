/**
 * What the `switchboard` CLI prints for people (`--json` prints the objects themselves). Pure functions of the data,
 * so the rendering is tested without a running system. Phone numbers are personal data: every destination shown here
 * goes through `maskEndpoint`; `--json` output is for scripts and keeps them whole.
 */
import { maskEndpoint } from '../mask';
import type { SetupResult, WebhookStatus, WebhookSummary } from '../relay/webhook-setup';
import type { AttemptRecord, TransferStatus } from '../shared';
import type { TransferListItem } from './transfers';

/** `label   value` lines with the values aligned; rows without a value are left out. */
function fields(
  rows: Array<[string, string | number | undefined]>,
  width = Math.max(...rows.map(([label]) => label.length))
): string[] {
  const present = rows.filter((row): row is [string, string | number] => row[1] !== undefined);
  return present.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

function attemptLines(attempt: AttemptRecord): string[] {
  const lines = [`    ${attempt.index + 1}. ${attempt.method} → ${maskEndpoint(attempt.toEndPoint)}`];
  const started = Date.parse(attempt.startedAt);
  if (attempt.outcome) {
    const took = attempt.endedAt ? ` after ${seconds(Date.parse(attempt.endedAt) - started)}` : '';
    lines.push(`       ${attempt.outcome}${took}${attempt.decidedBy ? `: ${attempt.decidedBy}` : ''}`);
  } else {
    lines.push(`       in progress since ${clock(attempt.startedAt)}`);
  }
  if (attempt.requests > 1 && !attempt.legs) {
    lines.push(`       ${attempt.requests} transfer requests (resent after reconciling)`);
  }
  if (attempt.events.length > 0) lines.push(`       events: ${attempt.events.map((e) => e.type).join(', ')}`);
  for (const leg of attempt.legs ?? []) {
    const stop = leg.stop
      ? `, ${leg.stop === 'session-unknown' ? 'could not be stopped: session unknown' : leg.stop}`
      : '';
    lines.push(`       leg ${leg.leg + 1} → ${maskEndpoint(leg.toEndPoint)}: ${leg.outcome ?? 'ringing'}${stop}`);
  }
  if (attempt.removedSessionIds?.length) lines.push(`       removed: ${attempt.removedSessionIds.join(', ')}`);
  return lines;
}

/** The longest label of a status summary, so the fields before and after the destinations line up. */
const STATUS_LABEL_WIDTH = 'late events'.length;

/** The readable summary of one transfer (`status`, `cancel`, and the end of `transfer --wait`). */
export function formatStatus(status: TransferStatus): string {
  const fallback = status.fallback;
  const lines = [
    `Transfer ${status.workflowId}`,
    ...fields(
      [
        ['state', status.state],
        ['outcome', status.outcome ?? '-'],
        ['room', status.room],
        ['session', status.sessionId],
        ['request id', status.requestId],
      ],
      STATUS_LABEL_WIDTH
    ),
    '  destinations',
    ...(status.attempts.length > 0 ? status.attempts.flatMap(attemptLines) : ['    (none started yet)']),
    ...fields(
      [
        [
          'fallback',
          fallback &&
            `${fallback.action}${fallback.toEndPoint ? ` → ${maskEndpoint(fallback.toEndPoint)}` : ''}: ` +
              `${fallback.ok ? 'ok' : 'failed'} (${fallback.detail})`,
        ],
        ['call lasted', status.callDurationSec === undefined ? undefined : `${status.callDurationSec}s`],
        ['late events', status.lateEvents.length],
        ['canceled by', status.canceledBy],
      ],
      STATUS_LABEL_WIDTH
    ),
  ];
  return `${lines.join('\n')}\n`;
}

/** `HH:MM:SS.mmm` (UTC) of an ISO time or epoch ms. */
export function clock(time: string | number | Date): string {
  return new Date(time).toISOString().slice(11, 23);
}

/**
 * What changed between two snapshots of a transfer, one line each, for `transfer --wait`. Attempts, events and the
 * fallback only ever grow, so nothing they record is missed between polls even when a state is.
 */
export function describeProgress(previous: TransferStatus | undefined, current: TransferStatus): string[] {
  const lines: string[] = [];
  for (const attempt of current.attempts) {
    const before = previous?.attempts[attempt.index];
    const name = `destination ${attempt.index + 1}`;
    if (!before) lines.push(`${name}: ${attempt.method} → ${maskEndpoint(attempt.toEndPoint)}`);
    for (const event of attempt.events.slice(before?.events.length ?? 0)) {
      lines.push(`${name}: ${event.type}${event.acted ? '' : ' (not acted on)'}`);
    }
    for (const leg of attempt.legs ?? []) {
      const legBefore = before?.legs?.find((l) => l.leg === leg.leg);
      for (const event of leg.events.slice(legBefore?.events.length ?? 0)) {
        lines.push(`${name}, leg ${leg.leg + 1}: ${event.type}${event.acted ? '' : ' (not acted on)'}`);
      }
      if (leg.outcome && !legBefore?.outcome) lines.push(`${name}, leg ${leg.leg + 1}: ${leg.outcome}`);
    }
    if (attempt.outcome && !before?.outcome) {
      lines.push(`${name}: ${attempt.outcome}${attempt.decidedBy ? ` (${attempt.decidedBy})` : ''}`);
    }
  }
  for (const event of current.lateEvents.slice(previous?.lateEvents.length ?? 0)) {
    lines.push(`late ${event.type}: recorded, not acted on`);
  }
  const fallback = current.fallback;
  if (fallback && !previous?.fallback) {
    lines.push(`fallback ${fallback.action}: ${fallback.ok ? 'ok' : 'failed'} (${fallback.detail})`);
  }
  if (current.state !== previous?.state) lines.push(`state ${current.state}`);
  return lines;
}

/** Left-aligned columns, headers in capitals. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n')}\n`;
}

/** `2025-01-31 12:00:00Z` */
const timestamp = (date: Date): string => `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;

export function formatList(items: TransferListItem[]): string {
  if (items.length === 0) return 'No transfers match.\n';
  return table(
    ['workflow id', 'state', 'outcome', 'room', 'method', 'started'],
    items.map((item) => [
      item.workflowId,
      item.state ?? '-',
      item.outcome ?? '-',
      item.room ?? '-',
      item.method ?? '-',
      timestamp(item.startTime),
    ])
  );
}

function webhookLines(webhook: WebhookSummary): string[] {
  return fields([
    ['uuid', webhook.uuid],
    ['url', webhook.url],
    ['state', webhook.state ?? 'unknown'],
    ['retry type', webhook.retryType],
    ['events', webhook.eventTypes.join(', ') || '(all)'],
    ['failed count', webhook.failedCount],
  ]);
}

/**
 * `webhook setup`. The secret is printed only when Daily generated it (`secret.generated`): the operator chose any
 * other one (`secret.chosen`, from --hmac) and already has it.
 */
export function formatWebhookSetup(result: SetupResult, secret: { generated?: string; chosen: boolean }): string {
  const generatedSecret = secret.generated;
  const lines = [`Webhook ${result.action}`, ...webhookLines(result.webhook)];
  if (generatedSecret !== undefined) {
    lines.push(
      '',
      'Daily generated the signing secret (shown only now):',
      `  ${generatedSecret}`,
      'Put it in DAILY_WEBHOOK_SECRET for the relay.'
    );
  } else if (result.action === 'updated' && !secret.chosen) {
    lines.push('', 'The webhook keeps its signing secret; DAILY_WEBHOOK_SECRET must match it (--hmac sets a new one).');
  }
  return `${lines.join('\n')}\n`;
}

export function formatWebhookStatus(status: WebhookStatus): string {
  const lines = status.webhook ? ['Webhook', ...webhookLines(status.webhook)] : ['No webhook'];
  lines.push(
    status.problems.length === 0 ? 'OK: Switchboard receives every transfer event.' : 'Problems:',
    ...status.problems.map((problem) => `  - ${problem}`)
  );
  return `${lines.join('\n')}\n`;
}
