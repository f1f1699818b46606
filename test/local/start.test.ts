/**
 * The newcomer's path, as a test: `npm start`'s program comes up with zero configuration, the demo command its
 * banner prints completes a transfer, the transfer is found in the Temporal UI (headless Chromium) by its search
 * attributes with its summary shown, Ctrl-C stops everything, and the transfer survives a restart.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { chromium } from 'playwright-core';
import { TransferClient } from '../../src/client/transfers';
import { freePort } from '../../src/local/dev-server';
import { waitFor } from '../helpers/wait';

const root = path.join(__dirname, '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

interface Started {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
}

let env: NodeJS.ProcessEnv;
let local: Started | undefined;

function startLocal(): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/local/main.ts')], { cwd: root, env });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function stopLocal(started: Started): Promise<number | null> {
  const exited = once(started.child, 'exit');
  started.child.kill('SIGINT');
  const [code] = (await exited) as [number | null];
  return code;
}

beforeAll(async () => {
  env = {
    ...process.env,
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    RELAY_PORT: String(await freePort()),
    SANDBOX_PORT: String(await freePort()),
    SWITCHBOARD_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'switchboard-local-')),
    DAILY_API_KEY: '',
  };
  delete env.DAILY_API_KEY;
});
afterAll(async () => {
  if (local && local.child.exitCode === null) await stopLocal(local);
});

test('npm start → demo transfer → visible in the Temporal UI → Ctrl-C → survives a restart', async () => {
  local = startLocal();
  const banner = await waitFor(
    'the banner',
    () => /Ctrl-C stops everything/.test(local!.output()) && local!.output(),
    120_000
  );
  expect(banner).toContain(`Temporal UI     http://localhost:${env.TEMPORAL_UI_PORT}`);
  expect(banner).toContain(`Relay           http://127.0.0.1:${env.RELAY_PORT}/webhooks/daily`);

  // Run exactly the command the banner prints.
  const demoCommand = /Start a demo transfer.*\n\s+(.+)\n/.exec(banner)?.[1];
  expect(demoCommand).toMatch(/npm run demo$/);
  const { stdout } = await promisify(execFile)('sh', ['-c', demoCommand!], { cwd: root, env });
  expect(stdout).toMatch(/Done: completed/);
  const room = /DailyRoom = "([^"]+)"/.exec(stdout)?.[1];
  expect(room).toBeDefined();

  const address = `127.0.0.1:${env.TEMPORAL_PORT}`;
  const findTransfer = async () => {
    const connection = await Connection.connect({ address });
    try {
      const found = await new TransferClient(new Client({ connection })).list({ room, state: 'completed' });
      return found.length === 1 ? found[0] : undefined;
    } finally {
      await connection.close();
    }
  };
  const transfer = await waitFor('the transfer in visibility', findTransfer);
  expect(transfer).toMatchObject({ outcome: 'answered', status: 'COMPLETED' });

  await expectVisibleInUi(`http://localhost:${env.TEMPORAL_UI_PORT}`, room!, transfer.workflowId);

  expect(await stopLocal(local)).toBe(0);
  expect(local.output()).toContain('Stopped.');

  local = startLocal();
  await waitFor('the banner again', () => /Ctrl-C stops everything/.test(local!.output()), 120_000);
  expect(await waitFor('the transfer after a restart', findTransfer)).toMatchObject({
    workflowId: transfer.workflowId,
  });
}, 300_000);

/** Filters the UI's workflow list by DailyRoom and TransferState, opens the transfer, and reads its summary. */
async function expectVisibleInUi(uiUrl: string, room: string, workflowId: string): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run \`npm run setup\` or set CHROMIUM_PATH`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const page = await browser.newPage();
    const query = `DailyRoom = "${room}" AND TransferState = "completed"`;
    await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
    const link = page.getByRole('link', { name: workflowId });
    await link.first().waitFor({ timeout: 30_000 });
    await link.first().click();
    // The summary and details live on the execution's "User Metadata" tab, each rendered (as markdown) in an iframe.
    await page.getByText('User Metadata', { exact: true }).first().click();
    const shown = (text: string) => async () => {
      for (const frame of page.frames()) if (await frame.getByText(text).first().isVisible()) return true;
      return false;
    };
    await waitFor('the summary in the UI', shown(`Transfer ${room}/`));
    await waitFor('the details in the UI', shown('If none answers:'));
  } finally {
    await browser.close();
  }
}
