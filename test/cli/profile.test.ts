/**
 * `--profile`: the CLI connects with a profile of Temporal's config file, like `temporal --profile`. No server is
 * needed: an unreachable address in the profile shows which settings were used.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXIT_CODES, run } from '../../src/client/cli';
import { freePort } from '../../src/local/dev-server';

let dir: string;
let configFile: string;
let nobody: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'switchboard-profile-'));
  nobody = `127.0.0.1:${await freePort()}`;
  configFile = path.join(dir, 'temporal.toml');
  writeFileSync(configFile, `[profile.default]\naddress = "127.0.0.2:1"\n\n[profile.staging]\naddress = "${nobody}"\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await run(args, {
    stdout: { write: () => true },
    stderr: { write: (text: string) => (err += text) },
    env: { TEMPORAL_CONFIG_FILE: configFile, ...env },
  });
  return { code, err };
}

test('--profile picks the profile the CLI connects with', async () => {
  const result = await cli({}, 'list', '--profile', 'staging');
  expect(result.code).toBe(EXIT_CODES.temporalUnreachable);
  expect(result.err).toContain(`cannot reach the Temporal server at ${nobody} `);
});

test('--profile wins over TEMPORAL_PROFILE, and --address over the profile', async () => {
  expect((await cli({ TEMPORAL_PROFILE: 'default' }, 'status', 'x', '--profile', 'staging')).err).toContain(nobody);
  const other = `127.0.0.1:${await freePort()}`;
  expect((await cli({}, 'list', '--profile', 'staging', '--address', other)).err).toContain(other);
});

test('an unknown profile is a usage error naming it', async () => {
  const result = await cli({}, 'list', '--profile', 'nope');
  expect(result.code).toBe(EXIT_CODES.usage);
  expect(result.err).toMatch(/TEMPORAL_PROFILE: no profile "nope"/);
});

test('--help lists --profile', async () => {
  let out = '';
  await run(['list', '--help'], { stdout: { write: (text: string) => (out += text) }, stderr: { write: () => true } });
  expect(out).toMatch(/--profile <name>/);
});
