/**
 * The engine floor's worker process (`floor-workflow.ts`, bundled on its own), started by `npm run bench` like the
 * Switchboard worker. Env: TEMPORAL_ADDRESS, FLOOR_TASK_QUEUE, FLOOR_EVENT_SOURCE_URL, and the Switchboard worker's
 * tuning variables (`WORKER_MAX_CONCURRENT_*`, `WORKER_TUNER`...), read the same way, with the same defaults, so that
 * both run with the same pollers, slots and cache.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadWorkerTuning, workerTuningOptions } from '../../src/config';
import { createFloorActivities } from './floor-activities';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: required('TEMPORAL_ADDRESS') });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: required('FLOOR_TASK_QUEUE'),
      workflowsPath: require.resolve('./floor-workflow'),
      activities: createFloorActivities(required('FLOOR_EVENT_SOURCE_URL')),
      ...workerTuningOptions(loadWorkerTuning()),
    });
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
