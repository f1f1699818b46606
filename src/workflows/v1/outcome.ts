import type { AttemptOutcome, DailyEvent, TransferMethod } from '../../shared';

/** What Daily has told us so far about one attempt; the first event of each kind counts. */
export interface AttemptProgress {
  method: TransferMethod;
  triggered?: DailyEvent;
  initiated?: DailyEvent;
  answered?: DailyEvent;
  completed?: DailyEvent;
  /** `participant.left`, `dialin.stopped` or `dialout.stopped` for the caller's leg. */
  left?: DailyEvent;
  outcome?: AttemptOutcome;
  decidedBy?: string;
}

export interface Verdict {
  outcome: AttemptOutcome;
  decidedBy: string;
}

/** Records one event; false when the attempt already had that fact (nothing new). */
export function applyEvent(progress: AttemptProgress, event: DailyEvent): boolean {
  const slot = {
    'calltransfer.triggered': 'triggered',
    'calltransfer.initiated': 'initiated',
    'calltransfer.answered': 'answered',
    'calltransfer.completed': 'completed',
    'participant.left': 'left',
    'dialin.stopped': 'left',
    'dialout.stopped': 'left',
  } as const satisfies Partial<Record<DailyEvent['type'], keyof AttemptProgress>>;
  // Types routed only since the leg model (`dialin.error`, `dialout.error`) change nothing for this frozen code.
  const key = (slot as Partial<Record<string, (typeof slot)[keyof typeof slot]>>)[event.type];
  if (key === undefined || progress[key]) return false;
  progress[key] = event;
  return true;
}

/** Decides an attempt from its events alone (timeouts are the workflow's); undefined while undecided. */
export function decideFromEvents(progress: AttemptProgress): Verdict | undefined {
  return progress.method === 'sipRefer' ? decideRefer(progress) : decideCallTransfer(progress);
}

function decideCallTransfer({ answered, completed }: AttemptProgress): Verdict | undefined {
  if (answered) return { outcome: 'answered', decidedBy: `calltransfer.answered (${answered.id})` };
  if (completed) {
    const outcome = fromCompleteStatus(completed.completeStatus);
    const why = completed.completeStatus ? `completeStatus "${completed.completeStatus}"` : 'no completeStatus';
    return { outcome, decidedBy: `calltransfer.completed with ${why} (${completed.id})` };
  }
  return undefined;
}

/**
 * Daily sends no answered/completed for REFER per its docs: success is `initiated` plus the leg leaving the room.
 * Its newer schema adds `completed` with the REFER and NOTIFY SIP codes; when they come, they decide.
 */
function decideRefer({ initiated, left, completed }: AttemptProgress): Verdict | undefined {
  if (completed) {
    const refer = sipCode(completed.referSipResponseCode);
    const notify = sipCode(completed.notifySipResponseCode);
    const codes = `REFER ${completed.referSipResponseCode ?? '-'}, NOTIFY ${completed.notifySipResponseCode ?? '-'}`;
    const decidedBy = `calltransfer.completed (${codes}${completed.completeStatus ? `, ${completed.completeStatus}` : ''})`;
    if (refer !== undefined && refer >= 300) return { outcome: fromSipCode(refer), decidedBy };
    if (notify !== undefined) return { outcome: notify < 300 ? 'answered' : fromSipCode(notify), decidedBy };
    if (completed.completeStatus) return { outcome: fromCompleteStatus(completed.completeStatus), decidedBy };
  }
  if (initiated && left) {
    return { outcome: 'answered', decidedBy: `REFER accepted: ${initiated.type} and ${left.type} (${left.id})` };
  }
  return undefined;
}

/** `completeStatus` from Daily's newer schema ("completed, failed, busy, no-answer, canceled", not exhaustive). */
export function fromCompleteStatus(status: string | undefined): AttemptOutcome {
  switch (status?.toLowerCase().replace(/[_\s]/g, '-')) {
    // Without a status, `completed` means the destination's side ended the call: it had answered.
    case undefined:
    case 'completed':
    case 'answered':
      return 'answered';
    case 'busy':
      return 'busy';
    case 'no-answer':
    case 'noanswer':
    case 'timeout':
      return 'no-answer';
    case 'rejected':
    case 'declined':
      return 'rejected';
    case 'canceled':
    case 'cancelled':
      return 'caller-hung-up';
    default:
      return 'failed';
  }
}

export function fromSipCode(code: number): AttemptOutcome {
  if (code === 486 || code === 600) return 'busy';
  if (code === 403 || code === 603) return 'rejected';
  if (code === 408 || code === 480 || code === 487) return 'no-answer';
  return 'failed';
}

function sipCode(value: string | undefined): number | undefined {
  const code = value === undefined ? NaN : Number.parseInt(value, 10);
  return Number.isFinite(code) ? code : undefined;
}
