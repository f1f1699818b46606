import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestStack } from './stack';

/**
 * Worker processes for crash tests: the production entry point (`src/worker.ts`), configured by environment like in
 * production, against the test stack's Temporal, task queue and sandbox. `killAll` ends whatever is still running.
 */
export function workerProcesses(stack: () => TestStack) {
  const started: ChildProcess[] = [];
  return {
    start(): ChildProcess {
      const { env, taskQueue, sandbox } = stack();
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '../../src/worker.ts')], {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: env.address,
          TEMPORAL_TASK_QUEUE: taskQueue,
          DAILY_API_URL: sandbox.apiBase,
          DAILY_API_KEY: sandbox.apiKey,
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      started.push(child);
      return child;
    },
    killAll(): void {
      for (const worker of started) if (worker.exitCode === null) worker.kill('SIGKILL');
    },
  };
}
