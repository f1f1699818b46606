/**
 * The drainer's batching: a lane's jobs that queued behind an in-flight try go to the handler together, in order,
 * and share one outcome (done, retried, dead-lettered); lanes never mix and `maxBatch` caps a try.
 */
import type { JobResult } from '../../src/relay/drainer';
import { startDrainer } from '../../src/relay/drainer';
import type { Job } from '../../src/relay/spool';
import { Spool } from '../../src/relay/spool';
import { waitFor } from '../helpers/wait';

/** Spools one event with a signal job in `lane`; its data is the event id. */
function spoolEvent(spool: Spool, lane: string, id: string): Job[] {
  const result = spool.accept({ eventId: id, type: 'calltransfer.initiated', receivedAtMs: Date.now() }, [
    { kind: 'signal', lane, data: id },
  ]);
  if (result.outcome !== 'accepted') throw new Error(`event ${id} not accepted`);
  return result.jobs;
}

/** A handler that records each try's job data and answers from `answers` (default `done`), one try at a time. */
function recordingHandler(answers: JobResult[] = []) {
  const tries: string[][] = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  return {
    tries,
    /** Holds the next try in flight until `open()`. */
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    open() {
      release?.();
      gate = undefined;
    },
    async handle(jobs: readonly Job[]): Promise<JobResult> {
      tries.push(jobs.map((job) => job.data));
      if (gate) await gate;
      return answers.shift() ?? { result: 'done' };
    },
  };
}

describe('drainer batching', () => {
  let spool: Spool;
  beforeEach(() => {
    spool = new Spool(':memory:');
  });
  afterEach(() => spool.close());

  test('jobs queued behind an in-flight try go together, in order, and only with their own lane', async () => {
    const handler = recordingHandler();
    const drainer = startDrainer({ spool, kind: 'signal', handle: (jobs) => handler.handle(jobs), maxBatch: 16 });
    handler.hold();
    drainer.enqueue(spoolEvent(spool, 'leg-a', 'a1'));
    await waitFor('the first try', () => handler.tries.length === 1);
    drainer.enqueue([
      ...spoolEvent(spool, 'leg-a', 'a2'),
      ...spoolEvent(spool, 'leg-b', 'b1'),
      ...spoolEvent(spool, 'leg-a', 'a3'),
    ]);
    await waitFor('leg b runs beside the held lane', () => handler.tries.length === 2);
    handler.open();
    await waitFor('the drainer to empty', () => drainer.size() === 0);
    await drainer.stop();
    expect(handler.tries).toEqual([['a1'], ['b1'], ['a2', 'a3']]);
    expect(spool.pending('signal')).toEqual([]);
  });

  test('maxBatch caps a try; the default is one job per try', async () => {
    for (const [maxBatch, expected] of [
      [2, [['x1'], ['x2', 'x3'], ['x4']]],
      [undefined, [['x1'], ['x2'], ['x3'], ['x4']]],
    ] as const) {
      const handler = recordingHandler();
      const drainer = startDrainer({ spool, kind: 'signal', handle: (jobs) => handler.handle(jobs), maxBatch });
      handler.hold();
      drainer.enqueue(spoolEvent(spool, `leg-${String(maxBatch)}`, 'x1'));
      await waitFor('the first try', () => handler.tries.length === 1);
      drainer.enqueue(['x2', 'x3', 'x4'].flatMap((id) => spoolEvent(spool, `leg-${String(maxBatch)}`, id)));
      handler.open();
      await waitFor('the drainer to empty', () => drainer.size() === 0);
      await drainer.stop();
      expect(handler.tries).toEqual(expected);
      // `seen` is per event id: the second round's ids must differ.
      spool.close();
      spool = new Spool(':memory:');
    }
  });

  test('a failed batch is retried whole, in order; a dead one is dead-lettered whole', async () => {
    const handler = recordingHandler([
      { result: 'done' },
      { result: 'retry', error: 'Temporal away' },
      { result: 'done' },
      { result: 'done' },
      { result: 'dead', reason: 'no_running_transfer', detail: 'closed' },
    ]);
    const drainer = startDrainer({
      spool,
      kind: 'signal',
      handle: (jobs) => handler.handle(jobs),
      maxBatch: 16,
      retryBaseMs: 20,
      retryCapMs: 40,
    });
    const burst = async (head: string, queued: string[]) => {
      handler.hold();
      const before = handler.tries.length;
      drainer.enqueue(spoolEvent(spool, 'leg', head));
      await waitFor(`the try of ${head}`, () => handler.tries.length === before + 1);
      drainer.enqueue(queued.flatMap((id) => spoolEvent(spool, 'leg', id)));
      handler.open();
      await waitFor('the drainer to empty', () => drainer.size() === 0);
    };
    await burst('e1', ['e2', 'e3']);
    await burst('e4', ['e5', 'e6']);
    await drainer.stop();
    expect(handler.tries).toEqual([['e1'], ['e2', 'e3'], ['e2', 'e3'], ['e4'], ['e5', 'e6']]);
    expect(
      spool
        .deadLetters()
        .map((letter) => letter.eventId)
        .sort()
    ).toEqual(['e5', 'e6']);
    expect(spool.pending('signal')).toEqual([]);
  });
});
