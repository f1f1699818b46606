/**
 * `npm run setup` (run by `npm test` and `npm start`): provides what the project needs beyond npm packages,
 * reusing what is already there.
 * - the Temporal CLI (dev server + UI), built once with Go into ~/.cache when it is not found;
 * - with `--browser` (the test command): Chromium for the Temporal UI test, Debian's package, installed with
 *   apt-get when running as root (CI).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ensureTemporalCli } from '../src/local/temporal-cli';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function ensureChromium(): void {
  if (existsSync(CHROMIUM)) {
    console.log(`Chromium: ${CHROMIUM}`);
    return;
  }
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync('apt-get', ['--version']).status === 0;
  if (!isRoot || !hasApt) {
    console.log('Chromium: not found; the Temporal UI test needs it (apt-get install chromium, or set CHROMIUM_PATH)');
    return;
  }
  console.log("Chromium: installing Debian's chromium package (first time only)…");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', 'chromium'],
  ]) {
    const result = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${result.status})`);
  }
  console.log(`Chromium: installed at ${CHROMIUM}`);
}

ensureTemporalCli()
  .then((binary) => {
    console.log(binary ? `Temporal CLI: ${binary}` : 'Temporal CLI: using the SDK download');
    if (process.argv.includes('--browser')) ensureChromium();
  })
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
