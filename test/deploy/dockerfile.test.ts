/**
 * The Dockerfile, checked by structure (no Docker engine here): a pinned multi-stage build, a production-only,
 * non-root runtime, and commands that name files the build really produces.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const root = path.join(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Splits the Dockerfile into stages of instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(source: string): Stage[] {
  const logical = source
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const [from = '', as, name] = args.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile: ${keyword} before FROM`);
      stage.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

const stages = parseDockerfile(read('Dockerfile'));
const runtime = stages.at(-1) as Stage;
const all = (stage: Stage, keyword: string) =>
  stage.instructions.filter((instruction) => instruction.keyword === keyword).map((instruction) => instruction.args);

/** `CMD ["node", "lib/worker.js"]` → `node lib/worker.js` (exec form only: signals must reach node). */
function execForm(args: string): string {
  const parsed: unknown = JSON.parse(args);
  if (!Array.isArray(parsed)) throw new Error(`not an exec form: ${args}`);
  return parsed.join(' ');
}

const buildConfig = JSON.parse(read('tsconfig.build.json')) as {
  compilerOptions: { rootDir: string; outDir: string };
  include: string[];
};

/** The TypeScript source `tsc -p tsconfig.build.json` compiles to `file` (under outDir), or undefined. */
function sourceOf(file: string): string | undefined {
  const { rootDir, outDir } = buildConfig.compilerOptions;
  const relative = path.posix.relative(outDir, file);
  if (relative.startsWith('..') || !relative.endsWith('.js')) return undefined;
  return path.posix.join(rootDir, relative.replace(/\.js$/, '.ts'));
}

describe('Dockerfile', () => {
  test('builds in stages from a pinned node 20 bookworm-slim image', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages.filter((s) => !stages.some((other) => other.name === s.from))) {
      expect(stage.from).toMatch(/^node:20(\.\d+){0,2}-bookworm-slim$/);
    }
  });

  test('compiles in the build stage with the locked dependencies', () => {
    const build = stages.find((stage) => all(stage, 'RUN').some((run) => run.includes('npm run build')));
    expect(build).toBeDefined();
    expect(build).not.toBe(runtime);
    expect(all(build as Stage, 'RUN').some((run) => /\bnpm install --no-save\b/.test(run))).toBe(true);
    expect(read('package.json')).toContain('"build": "tsc -p tsconfig.build.json"');
  });

  test('runs production dependencies only, as a non-root user, with NODE_ENV=production', () => {
    const runs = all(runtime, 'RUN');
    expect(runs.some((run) => /\bnpm install --no-save\b.*--omit=dev/.test(run))).toBe(true);
    expect(runs.some((run) => /npm (install|ci)(?!.*--omit=dev)/.test(run))).toBe(false);
    expect(all(runtime, 'ENV').some((env) => /^NODE_ENV[= ]production$/.test(env))).toBe(true);
    const users = all(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    // The compiled code comes from the build stage; the runtime stage never sees src/ or the dev dependencies.
    const copies = all(runtime, 'COPY');
    expect(copies.some((copy) => /--from=\S+ \/app\/lib \.\/lib/.test(copy))).toBe(true);
    expect(copies.some((copy) => /\bsrc\b/.test(copy))).toBe(false);
  });

  test('runs the worker by default (exec form)', () => {
    expect(execForm(all(runtime, 'CMD').at(-1) ?? '')).toBe('node lib/worker.js');
    expect(all(runtime, 'ENTRYPOINT')).toEqual([]);
  });

  test('every command names a file the build produces from an existing source', () => {
    expect(buildConfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'lib' });
    expect(buildConfig.include).toContain('src/**/*.ts');
    const compose = parse(read('docker-compose.yml')) as { services: Record<string, { command?: string[] }> };
    const commands = [
      execForm(all(runtime, 'CMD').at(-1) ?? ''),
      ...Object.values(compose.services).flatMap((svc) => (svc.command?.[0] === 'node' ? [svc.command.join(' ')] : [])),
    ];
    expect(commands).toEqual(
      expect.arrayContaining(['node lib/worker.js', 'node lib/relay/main.js', 'node lib/sandbox/main.js'])
    );
    for (const command of commands) {
      const [, file = ''] = command.split(' ');
      const source = sourceOf(file);
      expect({ file, source, exists: source !== undefined && existsSync(path.join(root, source)) }).toEqual({
        file,
        source: expect.any(String),
        exists: true,
      });
    }
    // The worker bundles its workflows from the compiled lib/workflows at start.
    expect(existsSync(path.join(root, 'src/workflows/index.ts'))).toBe(true);
  });

  test('.dockerignore keeps local state out of the build context, but not what the build needs', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'lib', '.env', '.git']));
    for (const needed of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      expect({ needed, ignored: ignored.includes(needed) }).toEqual({ needed, ignored: false });
    }
  });
});
