import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * The Temporal CLI embeds the dev server and UI. v1.5.1 is the newest release whose go.mod has no `replace` line,
 * so `go install` can build it from the Go module proxy on machines that cannot download release binaries.
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

/** Outside the repository, so every clone on the machine reuses one build. */
export function temporalCliCacheDir(): string {
  return switchboardCacheDir(`temporal-cli-${TEMPORAL_CLI_VERSION}`);
}

/** `~/.cache/switchboard/<name>` (or under `XDG_CACHE_HOME`): where the Go binaries Switchboard builds are kept. */
export function switchboardCacheDir(name: string): string {
  const cacheRoot = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return path.join(cacheRoot, 'switchboard', name);
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, command);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Where the `temporal` binary is, without building anything: `TEMPORAL_CLI_PATH`, then the cache, then `PATH`.
 * Undefined means "none here": callers fall back to the SDK's own download (machines with internet).
 */
export function findTemporalCli(): string | undefined {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  const cached = path.join(temporalCliCacheDir(), 'temporal');
  if (isExecutable(cached)) return cached;
  return onPath('temporal');
}

/** Finds the binary or builds it with Go into the cache, reporting progress; undefined when there is no Go. */
export async function ensureTemporalCli(log: (line: string) => void = console.log): Promise<string | undefined> {
  const found = findTemporalCli();
  if (found) return found;
  if (spawnSync('go', ['version']).status !== 0) {
    log('Temporal CLI: not found and Go is not installed; the Temporal SDK will download its own dev server.');
    return undefined;
  }
  const target = temporalCliCacheDir();
  mkdirSync(target, { recursive: true });
  log(`Temporal CLI: building ${GO_PACKAGE} with Go into ${target} (first time only; a few minutes)…`);
  const started = Date.now();
  let compiled = 0;
  const child = spawn('go', ['install', '-v', GO_PACKAGE], {
    env: { ...process.env, GOBIN: target },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let lastLines: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = chunk.split('\n').filter(Boolean);
    compiled += lines.filter((l) => !l.startsWith('go: ')).length;
    lastLines = [...lastLines, ...lines].slice(-20);
  });
  const ticker = setInterval(() => {
    const secs = Math.round((Date.now() - started) / 1000);
    log(`Temporal CLI: still building… ${secs}s, ${compiled} packages compiled`);
  }, 15_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(ticker);
  if (code !== 0) {
    throw new Error(`go install ${GO_PACKAGE} failed (exit ${code}):\n${lastLines.join('\n')}`);
  }
  const built = path.join(target, 'temporal');
  log(`Temporal CLI: built in ${Math.round((Date.now() - started) / 1000)}s → ${built}`);
  return built;
}
