/**
 * docker-compose.yml and .env.example, checked by structure (no Docker engine here): services, pinned images,
 * ports, environment, healthchecks, start order, the sandbox profile, the search attributes, and that every variable
 * a process reads is documented.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ts from 'typescript';
import { parse } from 'yaml';
import { loadWorkerConfig, temporalEnv, workerTuningEnv } from '../../src/config';
import { loadRelayConfig } from '../../src/relay/config';
import { SEARCH_ATTRIBUTE_NAMES, searchAttributes, TASK_QUEUE } from '../../src/shared';
import {
  DATABASE,
  DYNAMIC_CONFIG_CONTAINER_PATH,
  DYNAMIC_CONFIG_FILE,
  NAMESPACE,
  POSTGRES_MAJOR,
  relayEnvironment,
  SEARCH_ATTRIBUTES,
  TEMPORAL_SERVER_VERSION,
  TEMPORAL_UI_VERSION,
  workerEnvironment,
} from '../../scripts/cluster/spec';

const root = path.join(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

// ----------------------------------------------------------------------------------------------------------------
// What each process reads, taken from the code rather than listed here
// ----------------------------------------------------------------------------------------------------------------

const sourceFiles = (dir: string): string[] =>
  readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return entry.name.endsWith('.ts') ? [file] : [];
  });

const envName = /^[A-Z][A-Z0-9_]*$/;
/** Exported key sets that environment schemas spread in or pass to `z.object` by name. */
const knownShapes: Record<string, readonly string[]> = {
  temporalEnv: Object.keys(temporalEnv),
  workerTuningEnv: Object.keys(workerTuningEnv),
};

/**
 * The environment schemas of a file: each `z.object(...)` whose keys are all variable names (`UPPER_SNAKE`), as its
 * key list. Payload schemas (camelCase keys) are not environment schemas and are skipped.
 */
function envSchemas(file: string): string[][] {
  const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true);
  const schemas: string[][] = [];
  /** The keys of a shape, and the spreads in it that are not known key sets. */
  const shapeOf = (expression: ts.Expression): { keys: string[]; unresolved: string[] } | undefined => {
    if (ts.isIdentifier(expression)) {
      const known = knownShapes[expression.text];
      return known ? { keys: [...known], unresolved: [] } : undefined;
    }
    if (!ts.isObjectLiteralExpression(expression)) return undefined;
    const shape = { keys: [] as string[], unresolved: [] as string[] };
    for (const property of expression.properties) {
      if (ts.isSpreadAssignment(property)) {
        const spread = shapeOf(property.expression);
        if (spread) shape.keys.push(...spread.keys);
        shape.unresolved.push(...(spread?.unresolved ?? [property.expression.getText(source)]));
      } else if (property.name && (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name))) {
        shape.keys.push(property.name.text);
      }
    }
    return shape;
  };
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'object' &&
      node.expression.expression.getText(source) === 'z' &&
      node.arguments[0]
    ) {
      const shape = shapeOf(node.arguments[0]);
      if (shape && shape.keys.length > 0 && shape.keys.every((key) => envName.test(key))) {
        // An environment schema with a key set this test cannot see would hide variables from the checks below.
        if (shape.unresolved.length > 0) throw new Error(`${file}: add ${shape.unresolved.join(', ')} to knownShapes`);
        schemas.push(shape.keys);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return schemas;
}

/** Variables read straight from `process.env` (the sandbox, the logger, the CLI…). */
function processEnvReads(file: string): string[] {
  const code = read(file);
  return [
    ...[...code.matchAll(/process\.env\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1] as string),
    ...[...code.matchAll(/process\.env\[['"]([^'"]+)['"]\]/g)].map((match) => match[1] as string),
  ];
}

/** The operating system's, not Switchboard's. */
const systemVariables = new Set(['PATH', 'HOME', 'XDG_CACHE_HOME', 'NODE_ENV', 'CI', 'TMPDIR']);

const single = (file: string): string[] => {
  const schemas = envSchemas(file);
  if (schemas.length !== 1) throw new Error(`${file}: expected one environment schema, found ${schemas.length}`);
  return schemas[0] as string[];
};
const envKeys = {
  worker: single('src/config.ts'),
  relay: single('src/relay/config.ts'),
  /** Every environment schema anywhere in src/: the CLI's, the local stack's, future ones. */
  all: sourceFiles('src').flatMap((file) => envSchemas(file).flat()),
};

// ----------------------------------------------------------------------------------------------------------------
// docker-compose.yml
// ----------------------------------------------------------------------------------------------------------------

interface Healthcheck {
  test?: string | string[];
}
interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { target: number; published: string | number })[];
  healthcheck?: Healthcheck;
  depends_on?: string[] | Record<string, { condition?: string }>;
  profiles?: string[];
  volumes?: string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const composeText = read('docker-compose.yml');
const compose = parse(composeText) as Compose;

function service(name: string): Service {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

/** A service's environment as a map (compose allows a map or a `NAME=value` list). */
function environment(name: string): Record<string, string> {
  const env = service(name).environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const at = entry.indexOf('=');
        return at < 0 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
      })
    );
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value == null ? '' : String(value)]));
}

/** Published → container ports, from `host:container`, `ip:host:container` or the long form. */
function ports(name: string): { published: number; target: number }[] {
  return (service(name).ports ?? []).map((port) => {
    if (typeof port !== 'string') return { published: Number(port.published), target: port.target };
    const parts = port.split(':');
    return { published: Number(parts.at(-2)), target: Number(parts.at(-1)) };
  });
}

function dependsOn(name: string): Record<string, string | undefined> {
  const deps = service(name).depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((dep) => [dep, undefined]));
  return Object.fromEntries(Object.entries(deps).map(([dep, opts]) => [dep, opts.condition]));
}

const text = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(' ') : (value ?? ''));

/** `${NAME}`, `${NAME:-default}`, `${NAME:?error}`… interpolated by compose (`$${…}` is a literal `$`). */
function interpolatedVariables(source: string): string[] {
  return [...source.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1] as string);
}

/** The default of `${NAME:-default}` or `${NAME-default}`, or undefined when the value is not that form. */
function interpolationDefault(value: string | undefined): string | undefined {
  return value?.match(/^\$\{[A-Za-z_][A-Za-z0-9_]*:?-(.*)\}$/)?.[1];
}

const appServices = ['worker', 'relay', 'sandbox'];

describe('docker-compose.yml', () => {
  test('has the whole stack', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['postgresql', 'relay', 'sandbox', 'temporal', 'temporal-setup', 'temporal-ui', 'worker'].sort()
    );
  });

  test('pins every image to an explicit version, never latest', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (appServices.includes(name)) continue;
      expect({ name, image: svc.image }).toEqual({ name, image: expect.any(String) });
      const image = svc.image as string;
      const tag = image.slice(image.lastIndexOf(':') + 1);
      expect({ name, image, pinned: image.includes(':') && !/latest/i.test(tag) && /\d+\.\d+/.test(tag) }).toEqual({
        name,
        image,
        pinned: true,
      });
    }
    expect(service('temporal').image).toMatch(/^temporalio\/auto-setup:1\.29\.\d+$/);
    expect(service('temporal-setup').image).toMatch(/^temporalio\/admin-tools:1\.29\.\d+/);
    expect(service('temporal-ui').image).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
    expect(service('postgresql').image).toMatch(/^postgres:\d+\.\d+/);
  });

  test('builds the worker, the relay and the sandbox from the Dockerfile, one command each', () => {
    const commands: Record<string, string> = {
      worker: 'node lib/worker.js',
      relay: 'node lib/relay/main.js',
      sandbox: 'node lib/sandbox/main.js',
    };
    for (const name of appServices) {
      const build = service(name).build;
      const context = typeof build === 'string' ? build : build?.context;
      const dockerfile = typeof build === 'string' ? 'Dockerfile' : (build?.dockerfile ?? 'Dockerfile');
      expect({ name, context, dockerfile, command: text(service(name).command) }).toEqual({
        name,
        context: '.',
        dockerfile: 'Dockerfile',
        command: commands[name],
      });
      expect(service(name).image).toBeUndefined();
    }
    expect(existsSync(path.join(root, 'Dockerfile'))).toBe(true);
  });

  test('publishes the UI on 8233, Temporal on 7233, the relay on 8080 and the sandbox on 8090', () => {
    expect(ports('temporal-ui')).toEqual([{ published: 8233, target: 8080 }]);
    expect(ports('temporal')).toEqual([{ published: 7233, target: 7233 }]);
    expect(ports('relay')).toEqual([{ published: 8080, target: 8080 }]);
    expect(ports('sandbox')).toEqual([{ published: 8090, target: 8090 }]);
    expect(ports('worker')).toEqual([]);
    expect(ports('postgresql')).toEqual([]);
  });

  test('runs Temporal on PostgreSQL, with a volume for its data', () => {
    const env = environment('temporal');
    expect(env).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(env.POSTGRES_USER).toBe(environment('postgresql').POSTGRES_USER);
    expect(env.POSTGRES_PWD).toBe(environment('postgresql').POSTGRES_PASSWORD);
    const volumes = (service('postgresql') as { volumes?: string[] }).volumes ?? [];
    const named = volumes.map((volume) => volume.split(':')[0] as string);
    expect(volumes.some((volume) => volume.endsWith(':/var/lib/postgresql/data'))).toBe(true);
    for (const volume of named) expect(Object.keys(compose.volumes ?? {})).toContain(volume);
  });

  test('points the UI, the worker and the relay at the stack’s Temporal, in one namespace', () => {
    for (const name of ['temporal-ui', 'worker', 'relay', 'temporal-setup']) {
      expect({ name, address: environment(name).TEMPORAL_ADDRESS }).toEqual({ name, address: 'temporal:7233' });
    }
    const namespace = environment('worker').TEMPORAL_NAMESPACE;
    expect(interpolationDefault(namespace)).toBe('default');
    expect(environment('relay').TEMPORAL_NAMESPACE).toBe(namespace);
    expect(environment('temporal-setup').TEMPORAL_NAMESPACE).toBe(namespace);
    expect(environment('temporal').DEFAULT_NAMESPACE).toBe(namespace);
    expect(environment('temporal-ui').TEMPORAL_DEFAULT_NAMESPACE).toBe(namespace);
  });

  test('gives the worker its variables, and only variables it reads', () => {
    const env = environment('worker');
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining(['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE', 'DAILY_API_KEY'])
    );
    for (const key of Object.keys(env)) expect(envKeys.worker).toContain(key);
    expect(env.DAILY_API_KEY).toBe('${DAILY_API_KEY:-}');
    expect(interpolationDefault(env.DAILY_API_URL)).toBe('https://api.daily.co/v1');
    expect(interpolationDefault(env.TEMPORAL_TASK_QUEUE)).toBe(TASK_QUEUE);
  });

  test('gives the relay its variables, and only variables it reads', () => {
    const env = environment('relay');
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining([
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
        'RELAY_PORT',
        'DAILY_WEBHOOK_SECRET',
        'DAILY_WEBHOOK_SECRETS',
        'DAILY_API_KEY',
        'DAILY_API_URL',
      ])
    );
    for (const key of Object.keys(env)) expect(envKeys.relay).toContain(key);
    expect(env.RELAY_HOST).toBe('0.0.0.0');
    expect(Number(env.RELAY_PORT)).toBe(ports('relay')[0]?.target);
    expect(interpolationDefault(env.DAILY_API_URL)).toBe('https://api.daily.co/v1');
  });

  test('has healthchecks on PostgreSQL, Temporal and the relay (/readyz, with node: no curl in slim images)', () => {
    expect(text(service('postgresql').healthcheck?.test)).toMatch(/pg_isready/);
    expect(text(service('temporal').healthcheck?.test)).toMatch(
      /(temporal operator cluster health|tctl .*cluster health)/
    );
    const relayCheck = text(service('relay').healthcheck?.test);
    expect(relayCheck).toMatch(/^CMD node -e /);
    expect(relayCheck).toContain(`:${environment('relay').RELAY_PORT}/readyz`);
    expect(relayCheck).not.toMatch(/curl|wget/);
  });

  test('starts each service only once what it needs is ready', () => {
    expect(dependsOn('temporal')).toEqual({ postgresql: 'service_healthy' });
    expect(dependsOn('temporal-setup')).toEqual({ temporal: 'service_healthy' });
    expect(dependsOn('temporal-ui')).toEqual({ temporal: 'service_healthy' });
    for (const name of ['worker', 'relay']) {
      expect({ name, deps: dependsOn(name) }).toEqual({
        name,
        deps: { temporal: 'service_healthy', 'temporal-setup': 'service_completed_successfully' },
      });
    }
    // A dependency must be a service of the default set (or share the dependent's profile), with the healthcheck
    // its condition waits for.
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [dep, condition] of Object.entries(dependsOn(name))) {
        const target = service(dep);
        expect({ name, dep, profiles: target.profiles ?? [] }).toEqual({ name, dep, profiles: svc.profiles ?? [] });
        if (condition === 'service_healthy')
          expect({ dep, healthcheck: !!target.healthcheck }).toEqual({ dep, healthcheck: true });
      }
    }
  });

  test('keeps the sandbox behind the `sandbox` profile, wired to the relay', () => {
    expect(service('sandbox').profiles).toEqual(['sandbox']);
    for (const [name, svc] of Object.entries(compose.services)) {
      if (name !== 'sandbox') expect({ name, profiles: svc.profiles }).toEqual({ name, profiles: undefined });
    }
    const env = environment('sandbox');
    expect(Number(env.SANDBOX_PORT)).toBe(ports('sandbox')[0]?.target);
    expect(env.SANDBOX_WEBHOOK_URL).toBe(`http://relay:${environment('relay').RELAY_PORT}/webhooks/daily`);
    expect(env.SANDBOX_WEBHOOK_SECRET).toBe(environment('relay').DAILY_WEBHOOK_SECRET);
    // How to point the worker and the relay at it is documented in the file.
    expect(composeText).toContain('DAILY_API_URL=http://sandbox:8090/v1');
  });

  test('registers exactly the search attributes of src/shared.ts, as Keyword', () => {
    const setup = service('temporal-setup');
    const names = environment('temporal-setup').SEARCH_ATTRIBUTES?.split(/\s+/).filter(Boolean) ?? [];
    expect(names).toHaveLength(SEARCH_ATTRIBUTE_NAMES.length);
    expect([...names].sort()).toEqual([...SEARCH_ATTRIBUTE_NAMES].sort());
    for (const key of Object.values(searchAttributes)) expect(key.type).toBe('KEYWORD');
    const script = `${text(setup.entrypoint)} ${text(setup.command)}`;
    expect(script).toMatch(/for name in \$\$SEARCH_ATTRIBUTES/);
    expect(script).toMatch(/temporal operator search-attribute create [^\n]*--name "\$\$name" --type Keyword/);
    // It waits for the namespace the workers use before registering.
    expect(script).toContain('temporal operator namespace describe --namespace "$$TEMPORAL_NAMESPACE"');
  });
});

describe('docker-compose.yml runs what test:cluster tested (scripts/cluster/spec.ts)', () => {
  const tag = (name: string) => (service(name).image ?? '').split(':')[1] ?? '';

  test('the same Temporal server, UI and PostgreSQL versions', () => {
    expect(tag('temporal')).toBe(TEMPORAL_SERVER_VERSION);
    // admin-tools is tagged <server>-tctl-<version>-cli-<version>.
    expect(tag('temporal-setup').split('-')[0]).toBe(TEMPORAL_SERVER_VERSION);
    expect(tag('temporal-ui')).toBe(TEMPORAL_UI_VERSION);
    expect(Number(tag('postgresql').split('.')[0])).toBe(POSTGRES_MAJOR);
  });

  test('the same databases, schemas and history shards, on PostgreSQL for persistence and visibility', () => {
    const env = environment('temporal');
    expect(env).toMatchObject({
      DB: DATABASE.plugin,
      DBNAME: DATABASE.defaultDb,
      VISIBILITY_DBNAME: DATABASE.visibilityDb,
      NUM_HISTORY_SHARDS: String(DATABASE.numHistoryShards),
    });
    expect(env.ENABLE_ES).toBeUndefined();
    expect(interpolationDefault(env.POSTGRES_USER)).toBe(DATABASE.user);
  });

  test('the same dynamic config file, mounted read-only where the server reads it', () => {
    const relative = path.relative(root, DYNAMIC_CONFIG_FILE);
    expect(service('temporal').volumes).toContain(`./${relative}:${DYNAMIC_CONFIG_CONTAINER_PATH}:ro`);
    expect(environment('temporal').DYNAMIC_CONFIG_FILE_PATH).toBe(DYNAMIC_CONFIG_CONTAINER_PATH);
    // Temporal's format: every key a list of constrained values.
    const dynamic = parse(readFileSync(DYNAMIC_CONFIG_FILE, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(dynamic).length).toBeGreaterThan(0);
    for (const [key, values] of Object.entries(dynamic)) {
      expect({ key, values }).toEqual({
        key,
        values: expect.arrayContaining([expect.objectContaining({ value: expect.anything() })]),
      });
    }
  });

  test('the same namespace and search attributes', () => {
    expect(interpolationDefault(environment('temporal').DEFAULT_NAMESPACE)).toBe(NAMESPACE);
    const registered = environment('temporal-setup').SEARCH_ATTRIBUTES?.split(/\s+/).filter(Boolean) ?? [];
    expect(registered.sort()).toEqual(SEARCH_ATTRIBUTES.map((attribute) => attribute.name).sort());
  });

  test('the worker and the relay get the variables test:cluster gives them', () => {
    const worker = workerEnvironment({
      temporalAddress: '',
      namespace: '',
      taskQueue: '',
      dailyApiKey: '',
      dailyApiUrl: '',
      logLevel: '',
    });
    expect(Object.keys(environment('worker')).sort()).toEqual(Object.keys(worker).sort());
    const relay = relayEnvironment({
      temporalAddress: '',
      namespace: '',
      host: '',
      port: 0,
      webhookSecret: '',
      dailyApiKey: '',
      dailyApiUrl: '',
      watchdogIntervalSec: 0,
      spoolPath: '',
    });
    // Compose also offers the several-domains form of the secret, which test:cluster has no use for.
    expect(Object.keys(environment('relay')).sort()).toEqual([...Object.keys(relay), 'DAILY_WEBHOOK_SECRETS'].sort());
  });

  test("the relay's spool is on a volume, like each test:cluster relay's own file", () => {
    const spoolDir = path.posix.dirname(environment('relay').RELAY_SPOOL_PATH ?? '');
    const mounts = (service('relay').volumes ?? []).map((volume) => volume.split(':'));
    expect(mounts).toContainEqual([expect.any(String), spoolDir]);
    const volume = mounts.find((mount) => mount[1] === spoolDir)?.[0] as string;
    expect(Object.keys(compose.volumes ?? {})).toContain(volume);
  });
});

// ----------------------------------------------------------------------------------------------------------------
// .env.example
// ----------------------------------------------------------------------------------------------------------------

interface ExampleVariable {
  name: string;
  value: string;
  /** `# NAME=value`: documented, optional, off by default. */
  commented: boolean;
  comment: string | undefined;
}

const exampleLines = read('.env.example').split('\n');
const example: ExampleVariable[] = exampleLines.flatMap((line, index) => {
  const match = line.match(/^(# ?)?([A-Z][A-Z0-9_]*)=(.*)$/);
  if (!match) return [];
  const previous = exampleLines[index - 1];
  const comment = previous?.startsWith('#') && !/^# ?[A-Z][A-Z0-9_]*=/.test(previous) ? previous : undefined;
  return [{ name: match[2] as string, value: match[3] as string, commented: !!match[1], comment }];
});
const documented = new Set(example.map((variable) => variable.name));
const activeValues = Object.fromEntries(
  example.filter((variable) => !variable.commented && variable.value !== '').map((v) => [v.name, v.value])
);

describe('.env.example', () => {
  test('the schemas were found (the checks below are not vacuous)', () => {
    expect(envKeys.worker).toEqual(
      expect.arrayContaining(['TEMPORAL_ADDRESS', 'TEMPORAL_TASK_QUEUE', 'DAILY_API_KEY', 'LOG_LEVEL'])
    );
    expect(envKeys.relay).toEqual(expect.arrayContaining(['RELAY_PORT', 'DAILY_WEBHOOK_SECRETS']));
    expect(envKeys.all).toEqual(expect.arrayContaining([...envKeys.worker, ...envKeys.relay]));
    expect(processEnvReads('src/sandbox/main.ts')).toEqual(expect.arrayContaining(['SANDBOX_PORT']));
  });

  test('documents every variable an environment schema reads (worker, relay, CLI, local stack)', () => {
    const missing = [...new Set(envKeys.all)].filter((name) => !documented.has(name));
    expect(missing).toEqual([]);
  });

  test('documents every variable any process reads from process.env', () => {
    const reads = new Set(sourceFiles('src').flatMap(processEnvReads));
    const missing = [...reads].filter((name) => !systemVariables.has(name) && !documented.has(name));
    expect(missing).toEqual([]);
  });

  test('documents every variable docker-compose.yml interpolates', () => {
    const missing = interpolatedVariables(composeText).filter((name) => !documented.has(name));
    expect(missing).toEqual([]);
  });

  test('has a comment above each variable, each once', () => {
    expect(example.filter((variable) => !variable.comment).map((variable) => variable.name)).toEqual([]);
    expect(example.length).toBe(documented.size);
  });

  test('leaves every secret empty', () => {
    const secrets = example.filter((v) => /KEY|SECRET|PASSWORD|TOKEN/.test(v.name) && !v.name.endsWith('_PATH'));
    expect(secrets.map((v) => v.name)).toEqual(
      expect.arrayContaining(['DAILY_API_KEY', 'DAILY_WEBHOOK_SECRET', 'TEMPORAL_API_KEY'])
    );
    expect(secrets.filter((v) => v.value !== '').map((v) => v.name)).toEqual([]);
  });

  test('shows the real defaults: its values configure the worker and the relay exactly as no values do', () => {
    const required = { DAILY_API_KEY: 'key' };
    expect(loadWorkerConfig({ ...activeValues, ...required })).toEqual(loadWorkerConfig(required));
    const secret = { DAILY_WEBHOOK_SECRET: Buffer.from('secret').toString('base64') };
    expect(loadRelayConfig({ ...activeValues, ...secret })).toEqual(loadRelayConfig(secret));
  });
});
