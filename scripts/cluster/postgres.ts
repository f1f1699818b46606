/**
 * PostgreSQL from Debian's package, run privately for one test:cluster run: its own data directory (initdb), its own
 * port on 127.0.0.1, the postgres user when running as root (PostgreSQL refuses to run as root), the user and
 * password docker-compose.yml gives Temporal.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { NativeProcess } from './process';
import { DATABASE, POSTGRES_MAJOR } from './spec';

/** The password compose's default (POSTGRES_PASSWORD) gives the `temporal` user. */
export const POSTGRES_PASSWORD = 'temporal';

const binDir = (major: number | string) => `/usr/lib/postgresql/${major}/bin`;

/** Installs Debian's `postgresql` package when no PostgreSQL server is there (as root, with apt-get). */
export function ensurePostgresInstalled(log: (line: string) => void): string {
  if (!existsSync(path.join(binDir(POSTGRES_MAJOR), 'postgres'))) {
    const installed = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [];
    if (installed.length > 0) {
      throw new Error(
        `PostgreSQL ${installed.join(', ')} is installed, but the cluster (and docker-compose.yml) pins ` +
          `${POSTGRES_MAJOR}: install postgresql-${POSTGRES_MAJOR}, or move POSTGRES_MAJOR in scripts/cluster/spec.ts ` +
          'and the compose image together'
      );
    }
    if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version']).status !== 0) {
      throw new Error(`PostgreSQL ${POSTGRES_MAJOR} is not installed: apt-get install postgresql (as root)`);
    }
    log("PostgreSQL: installing Debian's postgresql package (first time only)…");
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [
      ['update', '-qq'],
      ['install', '-y', '-qq', 'postgresql'],
    ]) {
      const result = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
      if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${result.status})`);
    }
    if (!existsSync(path.join(binDir(POSTGRES_MAJOR), 'postgres'))) {
      throw new Error(`Debian's postgresql package did not bring PostgreSQL ${POSTGRES_MAJOR}`);
    }
  }
  return binDir(POSTGRES_MAJOR);
}

/** The postgres user's ids when running as root; undefined otherwise (then PostgreSQL runs as this user). */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root, but there is no postgres user');
  return { uid, gid };
}

export class Postgres {
  private readonly process: NativeProcess;
  readonly address: string;

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly bin: string,
    logFile: string,
    user: { uid: number; gid: number } | undefined
  ) {
    this.address = `127.0.0.1:${port}`;
    this.process = new NativeProcess({
      name: 'PostgreSQL',
      command: path.join(bin, 'postgres'),
      // The socket in the data directory: nothing of this run touches the system's /var/run/postgresql.
      args: ['-D', dataDir, '-p', String(port), '-k', dataDir, '-c', 'listen_addresses=127.0.0.1'],
      logFile,
      spawnAs: user,
    });
  }

  /** initdb in `dir/pgdata` with the `temporal` user and its password, then starts the server. */
  static async create(opts: {
    bin: string;
    dir: string;
    port: number;
    logFile: string;
    log: (line: string) => void;
  }): Promise<Postgres> {
    const user = postgresUser();
    const dataDir = path.join(opts.dir, 'pgdata');
    mkdirSync(dataDir, { mode: 0o700 });
    const pwFile = path.join(opts.dir, 'pgpass');
    writeFileSync(pwFile, `${POSTGRES_PASSWORD}\n`, { mode: 0o600 });
    if (user) {
      chownSync(dataDir, user.uid, user.gid);
      chownSync(pwFile, user.uid, user.gid);
    }
    const initdb = spawnSync(
      path.join(opts.bin, 'initdb'),
      ['-D', dataDir, '-U', DATABASE.user, `--pwfile=${pwFile}`, '--auth-host=scram-sha-256', '--auth-local=trust'],
      { encoding: 'utf8', ...user }
    );
    if (initdb.status !== 0) throw new Error(`initdb failed (exit ${initdb.status}):\n${initdb.stderr}`);
    const pg = new Postgres(opts.port, dataDir, opts.bin, opts.logFile, user);
    await pg.start();
    opts.log(`PostgreSQL ${POSTGRES_MAJOR}: ${pg.address} (data ${dataDir})`);
    return pg;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  async start(): Promise<void> {
    this.process.start();
    const deadline = Date.now() + 30_000;
    while (!this.ready()) {
      if (!this.process.running) throw new Error(`PostgreSQL exited at start:\n${this.process.logTail()}`);
      if (Date.now() > deadline)
        throw new Error(`PostgreSQL did not listen on ${this.address}:\n${this.process.logTail()}`);
      await sleep(100);
    }
  }

  /** `pg_isready`: accepting connections, not merely listening (it refuses them while it recovers). */
  private ready(): boolean {
    const args = ['-q', '-h', '127.0.0.1', '-p', String(this.port), '-U', DATABASE.user];
    return spawnSync(path.join(this.bin, 'pg_isready'), args).status === 0;
  }

  /** A fast shutdown (SIGINT): sessions are cut, as in a failover or a restart for an upgrade. */
  async stop(): Promise<void> {
    await this.process.stop('SIGINT', 30_000);
  }
}
