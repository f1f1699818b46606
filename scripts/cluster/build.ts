/**
 * Builds the cluster's Go binaries (Temporal server, schema tool, UI server) with `go install` from the Go module
 * proxy, once, into ~/.cache/switchboard/<name>-<version>/ beside the Temporal CLI: every clone on the machine and
 * every later run reuse them. Progress is printed while Go works, since a cold build takes minutes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { isExecutable, switchboardCacheDir } from '../../src/local/temporal-cli';
import type { GoBinaryName } from './spec';
import { GO_BINARIES } from './spec';

export interface BuiltBinary {
  path: string;
  /** Seconds spent building in this run; 0 when the cached binary was used. */
  buildSec: number;
}

function cacheDir(name: GoBinaryName): string {
  const dirName = { server: 'temporal-server', sqlTool: 'temporal-sql-tool', ui: 'temporal-ui-server' }[name];
  return switchboardCacheDir(`${dirName}-${GO_BINARIES[name].version}`);
}

/** The module's source directory in Go's module cache (the server's schema files live there). */
export function goModuleDir(name: GoBinaryName): string {
  const spec = GO_BINARIES[name];
  const result = spawnSync('go', ['mod', 'download', '-json', `${spec.module}@${spec.version}`], {
    encoding: 'utf8',
    env: goEnv(),
  });
  if (result.status !== 0) throw new Error(`go mod download ${spec.module}@${spec.version} failed:\n${result.stderr}`);
  return (JSON.parse(result.stdout) as { Dir: string }).Dir;
}

/**
 * A module may require a newer Go than the one installed (ui-server v2.58.1 wants go 1.26.10): `auto` lets Go fetch
 * that toolchain from the module proxy, where an environment's `GOTOOLCHAIN=local` would refuse to build.
 */
function goEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: 'auto', ...extra };
}

/** The cached binary, or a fresh build of it. */
export async function ensureGoBinary(name: GoBinaryName, log: (line: string) => void): Promise<BuiltBinary> {
  const spec = GO_BINARIES[name];
  const target = cacheDir(name);
  const binary = path.join(target, spec.binary);
  if (isExecutable(binary)) {
    log(`${spec.label}: ${binary} (cached)`);
    return { path: binary, buildSec: 0 };
  }
  if (spawnSync('go', ['version']).status !== 0) {
    throw new Error(`${spec.label}: not built yet and Go is not installed (needed once to build ${spec.package})`);
  }
  // Into a scratch directory first, so an interrupted build never leaves a binary that looks complete.
  const scratch = path.join(target, 'building');
  mkdirSync(scratch, { recursive: true });
  const pkg = `${spec.package}@${spec.version}`;
  log(`${spec.label}: building ${pkg} with Go into ${target} (first time only; minutes on a cold Go cache)…`);
  const started = Date.now();
  let compiled = 0;
  let lastLines: string[] = [];
  const child = spawn('go', ['install', '-v', pkg], {
    env: goEnv({ GOBIN: scratch }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = chunk.split('\n').filter(Boolean);
    // `go install -v` prints each package it compiles; `go: …` lines are downloads.
    compiled += lines.filter((line) => !line.startsWith('go: ')).length;
    lastLines = [...lastLines, ...lines].slice(-20);
  });
  const ticker = setInterval(() => {
    log(`${spec.label}: still building… ${Math.round((Date.now() - started) / 1000)} s, ${compiled} packages compiled`);
  }, 15_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(ticker);
  if (code !== 0) throw new Error(`go install ${pkg} failed (exit ${code}):\n${lastLines.join('\n')}`);
  // `go install` names the binary after the package's directory: `server`, `sql`.
  renameSync(path.join(scratch, path.basename(spec.package)), binary);
  rmSync(scratch, { recursive: true, force: true });
  const buildSec = Math.round((Date.now() - started) / 1000);
  log(`${spec.label}: built in ${buildSec} s (${compiled} packages compiled) → ${binary}`);
  return { path: binary, buildSec };
}
