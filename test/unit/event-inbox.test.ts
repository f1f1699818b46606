import type { DailyEvent, EventRecord } from '../../src/shared';
import { EventInbox } from '../../src/workflows/v1/event-inbox';

const event = (id: string, sessionId = 's1'): DailyEvent => ({
  id,
  type: 'calltransfer.triggered',
  room: 'r',
  sessionId,
});

test('keeps each event id once and ignores other legs', () => {
  const inbox = new EventInbox('s1');
  inbox.receive(event('a'), 1);
  inbox.receive(event('a'), 2);
  inbox.receive(event('b', 'someone-else'), 3);
  expect(inbox.take().map((e) => e.event.id)).toEqual(['a']);
  expect(inbox.duplicates).toBe(1);
  inbox.receive(event('a'), 4);
  expect(inbox.take()).toEqual([]);
});

test('events left over when an attempt starts are recorded as late, not handed to it', () => {
  const inbox = new EventInbox('s1');
  inbox.receive(event('late'), 1000);
  const late: EventRecord[] = [];
  inbox.startAttempt(late);
  expect(late).toEqual([
    { id: 'late', type: 'calltransfer.triggered', receivedAt: new Date(1000).toISOString(), acted: false },
  ]);
  expect(inbox.take()).toEqual([]);
});
