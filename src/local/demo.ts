/**
 * `npm run demo`: against the local stack (`npm start`), puts a caller in a sandbox room and transfers them: the
 * first destination never answers, the second (another room) does. Prints each state as it changes and where to
 * see the transfer in the Temporal UI.
 *
 * Env: TEMPORAL_ADDRESS (127.0.0.1:7233), SANDBOX_URL (http://127.0.0.1:8090), TEMPORAL_UI_URL (http://localhost:8233).
 */
import { Client, Connection } from '@temporalio/client';
import { TransferClient } from '../client/transfers';
import { maskEndpoint } from '../mask';
import { SandboxControl } from '../sandbox';
import { FINAL_STATES, type TransferState } from '../shared';

async function main(): Promise<number> {
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  const sandbox = new SandboxControl(process.env.SANDBOX_URL ?? 'http://127.0.0.1:8090');
  const uiUrl = process.env.TEMPORAL_UI_URL ?? 'http://localhost:8233';

  const suffix = Date.now().toString(36);
  const lobby = await sandbox.createRoom(`lobby-${suffix}`);
  const support = await sandbox.createRoom(`support-${suffix}`);
  const { sessionId } = await sandbox.addCaller(lobby.name, { transport: 'pstn' });
  const unanswered = 'sip:sales@pbx.example.com';
  await sandbox.setScenario(unanswered, { kind: 'no-answer' });
  await sandbox.setScenario(support.sipUri, { kind: 'answer', afterMs: 1000, hangUpAfterMs: 3000 });

  const connection = await Connection.connect({ address });
  try {
    const transfers = new TransferClient(new Client({ connection }));
    const started = await transfers.start({
      room: lobby.name,
      sessionId,
      attempts: [
        { toEndPoint: unanswered, answerTimeoutSec: 3 },
        { toEndPoint: support.sipUri, answerTimeoutSec: 20 },
      ],
      onExhausted: { action: 'rollback' },
    });
    console.log(`Transferring caller ${sessionId} out of room ${lobby.name}`);
    console.log(`  1. ${maskEndpoint(unanswered)} (will not answer)  2. room ${support.name} (answers after 1s)`);
    console.log(`Workflow ${started.workflowId}`);
    console.log(`  ${uiUrl}/namespaces/default/workflows/${encodeURIComponent(started.workflowId)}`);

    let last: TransferState | undefined;
    for (;;) {
      const status = await transfers.status(started.workflowId);
      if (status.state !== last) {
        console.log(`  → ${status.state}${status.outcome ? ` (${status.outcome})` : ''}`);
        last = status.state;
      }
      if (FINAL_STATES.includes(status.state)) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const result = await started.handle.result();
    for (const attempt of result.attempts) {
      console.log(`  attempt ${attempt.index + 1}: ${attempt.outcome} — ${attempt.decidedBy ?? ''}`);
    }
    console.log(`Done: ${result.state}. Find it in the UI with: DailyRoom = "${lobby.name}"`);
    return result.state === 'completed' ? 0 : 1;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  }
);
