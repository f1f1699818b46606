import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseTransferInput, parseTransferRequest, TransferInputError } from '../../src/input';
import { transferJsonSchemas } from '../../src/schema';

const newId = () => 'generated-id';
const issuesOf = (raw: unknown): string[] => {
  try {
    parseTransferRequest(raw, newId);
  } catch (err) {
    if (err instanceof TransferInputError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
};

test('the single-destination shorthand becomes one attempt with defaults', () => {
  expect(parseTransferRequest({ room: 'lobby', sessionId: 'abc-1', toEndPoint: 'sip:a@b.example' }, newId)).toEqual({
    room: 'lobby',
    sessionId: 'abc-1',
    requestId: 'generated-id',
    attempts: [{ method: 'sipCallTransfer', toEndPoint: 'sip:a@b.example', answerTimeoutSec: 30 }],
    onExhausted: { action: 'rollback' },
    maxCallDurationSec: 14400,
    reconcileWindowSec: 15,
    maxRetryAfterSec: 30,
  });
});

test('each destination once, and a fallback target that is not also an attempt', () => {
  const attempts = [
    { toEndPoint: 'sip:a@b.example' },
    { toEndPoint: '+15551230000' },
    { toEndPoint: 'sip:a@b.example' },
  ];
  expect(issuesOf({ room: 'r', sessionId: 's', attempts })).toEqual([
    "attempts.2.toEndPoint: repeats attempts.0.toEndPoint: Daily's events name only the destination, so each may appear once",
  ]);
  expect(
    issuesOf({
      room: 'r',
      sessionId: 's',
      attempts: [{ toEndPoint: 'sip:a@b.example' }],
      onExhausted: { action: 'refer', toEndPoint: 'sip:a@b.example' },
    })
  ).toEqual(['onExhausted.toEndPoint: is also attempts.0.toEndPoint: the fallback must go somewhere else']);
});

test('onExhausted accepts a bare action name', () => {
  const input = parseTransferRequest(
    { room: 'r', sessionId: 's', toEndPoint: '+15551230000', onExhausted: 'hangup' },
    newId
  );
  expect(input.onExhausted).toEqual({ action: 'hangup' });
});

test.each([
  [{ room: 'r', sessionId: 's', toEndPoint: '5551230000' }, 'toEndPoint: must be a sip: URI or an E.164 number'],
  [
    { room: 'r', sessionId: 's', toEndPoint: '+15551230000', method: 'sipRefer' },
    'toEndPoint: sipRefer needs a sip: URI',
  ],
  [{ room: 'r', sessionId: 's', toEndPoint: 'sip:a@b.c', callerId: 'x' }, 'callerId: is only valid for a PSTN'],
  [
    { room: 'r', sessionId: 's', toEndPoint: '+15551230000', extension: '1'.repeat(21) },
    'extension: must be 1–20 digits',
  ],
  [
    { room: 'r', sessionId: 's', toEndPoint: '+15551230000', extension: '1', waitBeforeExtensionDialSec: 61 },
    'waitBeforeExtensionDialSec',
  ],
  [{ room: 'bad room!', sessionId: 's', toEndPoint: '+15551230000' }, 'room: must be a Daily room name'],
  [{ room: 'r', sessionId: 's', attempts: [] }, 'attempts'],
  [{ room: 'r', sessionId: 's', toEndPoint: '+15551230000', answerTimeoutSec: 0 }, 'answerTimeoutSec'],
  [
    { room: 'r', sessionId: 's', toEndPoint: '+15551230000', onExhausted: { action: 'refer', toEndPoint: '+1555' } },
    'onExhausted',
  ],
  [{ room: 'r', sessionId: 's', toEndPoint: '+15551230000', surprise: true }, 'surprise'],
])('rejects %j naming the field', (raw, expected) => {
  expect(issuesOf(raw).join('\n')).toContain(expected);
});

test("the workflow's own input requires requestId and the full form", () => {
  expect(() => parseTransferInput({ room: 'r', sessionId: 's', toEndPoint: 'sip:a@b.c' })).toThrow(TransferInputError);
  expect(() => parseTransferInput({ room: 'r', sessionId: 's', attempts: [{ toEndPoint: 'sip:a@b.c' }] })).toThrow(
    /requestId/
  );
});

test('the published JSON Schemas are current (run `npm run schema` after changing the contract)', () => {
  for (const [file, schema] of Object.entries(transferJsonSchemas())) {
    const committed = JSON.parse(readFileSync(path.join(__dirname, '../../schema', file), 'utf8')) as unknown;
    expect(committed).toEqual(schema);
  }
});

describe('dialFirst', () => {
  const caller = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

  test('a group rung together with its options passes through, defaults added', () => {
    const attempt = {
      method: 'dialFirst',
      toEndPoint: 'sip:a@team.example',
      sipHeaders: { 'X-Ticket': 'T-42' },
      ringTogether: [{ toEndPoint: '+15551230000', callerId: 'number-id' }, { toEndPoint: 'sip:b@team.example' }],
      removeSessionIds: ['bot-1'],
    };
    const input = parseTransferRequest(
      { room: 'r', sessionId: caller, attempts: [attempt, { toEndPoint: 'sip:desk@b.example' }] },
      newId
    );
    expect(input.attempts).toEqual([
      { ...attempt, answerTimeoutSec: 30 },
      { method: 'sipCallTransfer', toEndPoint: 'sip:desk@b.example', answerTimeoutSec: 30 },
    ]);
  });

  test("Daily's and the transfer's rules, each named by its field", () => {
    expect(
      issuesOf({
        room: 'r',
        sessionId: caller,
        attempts: [
          { toEndPoint: 'sip:desk@b.example', ringTogether: [{ toEndPoint: 'sip:x@b.example' }] },
          {
            method: 'dialFirst',
            toEndPoint: '+15551230000',
            sipHeaders: { 'X-Callback': '+15557654321' },
            ringTogether: [{ toEndPoint: '+15551230000' }, { toEndPoint: 'sip:c@b.example', callerId: 'n' }],
          },
        ],
      })
    ).toEqual([
      'attempts.0.ringTogether: is for dialFirst only',
      'attempts.1.sipHeaders.X-Callback: must not hold a phone number (it would be kept in the workflow history)',
      'attempts.1.sipHeaders: is only valid for a sip: destination',
      'attempts.1.ringTogether.0.toEndPoint: repeats a destination of this group: each is dialed at most once',
      'attempts.1.ringTogether.1.callerId: is only valid for a PSTN (E.164) destination',
      "attempts.1.method: dialFirst dials into the caller's room, which attempts.0 (sipCallTransfer) may have moved the caller out of: put dialFirst attempts first",
    ]);
    expect(
      issuesOf({
        room: 'r',
        sessionId: caller,
        attempts: [{ method: 'dialFirst', toEndPoint: 'sip:a@b.example', removeSessionIds: ['bot', caller] }],
      })
    ).toEqual(['attempts.0.removeSessionIds.1: is the caller: the destination answers to talk with them']);
    expect(
      issuesOf({ room: 'r', sessionId: 'not-a-uuid', method: 'dialFirst', toEndPoint: 'sip:a@b.example' })
    ).toEqual([
      "sessionId: dialFirst needs the caller's Daily session id (a UUID): its dial-outs' userId is built from it",
    ]);
    expect(
      issuesOf({
        room: 'r',
        sessionId: caller,
        attempts: [
          { method: 'dialFirst', toEndPoint: 'sip:a@b.example', ringTogether: [{ toEndPoint: 'sip:b@b.example' }] },
          { method: 'dialFirst', toEndPoint: 'sip:b@b.example' },
        ],
      })
    ).toEqual([
      "attempts.1.toEndPoint: repeats attempts.0.ringTogether.0.toEndPoint: Daily's events name only the destination, so each may appear once",
    ]);
  });
});
