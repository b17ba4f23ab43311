/**
 * The migration runner on a handle whose URL goes through PgBouncer in
 * transaction pooling mode (a PgBouncer of this file's own, with two server
 * connections, so runs share them): the run's session advisory lock and its
 * work go to the direct URL (DIRECT_DATABASE_URL), status reads go through
 * PgBouncer, and without a direct URL the run is refused before it starts.
 * A shadow database (its connections start with their own search_path) too.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { lockKeyFor, Migrator } from '../../src/migrate/runner.js';
import { openShadow } from '../../src/migrate/shadow.js';
import { freshPostgresDatabase, type ProvisionedDatabase, queryOnce, TEST_BACKENDS } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { type OwnPgbouncer, startPgbouncer } from '../support/pgbouncer.js';
import { runFerry } from '../support/run-tsx.js';

const IDS = [
  '20240101000000_create_log',
  '20240102000000_create_widgets',
  '20240103000000_widgets_name_idx',
  '20240104000000_seed',
];

function put(dir: string, id: string, up: string, down: string): void {
  mkdirSync(path.join(dir, id), { recursive: true });
  writeFileSync(path.join(dir, id, 'up.sql'), up);
  writeFileSync(path.join(dir, id, 'down.sql'), down);
}

function migrations(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ferry-bouncer-migrations-'));
  dirs.push(dir);
  put(
    dir,
    IDS[0]!,
    'create table applied_log (migration text not null, at timestamptz not null default clock_timestamp());\n' +
      "insert into applied_log (migration) values ('create_log');\n",
    'drop table applied_log;\n',
  );
  put(
    dir,
    IDS[1]!,
    'create table widgets (id serial primary key, name text not null);\n' +
      "insert into widgets (name) select 'w' || g from generate_series(1, 2000) g;\n" +
      'select pg_sleep(0.2);\n' + // widen the window in which the other runs wait
      "insert into applied_log (migration) values ('create_widgets');\n",
    'drop table widgets;\n',
  );
  put(
    dir,
    IDS[2]!,
    '-- ferry:no-transaction\ncreate index concurrently widgets_name on widgets (name);\n',
    'drop index widgets_name;\n',
  );
  put(
    dir,
    IDS[3]!,
    "insert into widgets (name) values ('seed');\ninsert into applied_log (migration) values ('seed');\n",
    "delete from widgets where name = 'seed';\n",
  );
  return dir;
}

const dirs: string[] = [];
let bouncer: OwnPgbouncer;
const handles: DbHandle[] = [];

/** `ferry <args>` in `cwd` with `env` (no DATABASE_URL or DIRECT_DATABASE_URL of this process). */
const cli = (cwd: string, args: string[], env: Record<string, string>) =>
  runFerry(args, { cwd, env, unset: ['DATABASE_URL', 'DIRECT_DATABASE_URL'] });

/** Advisory locks granted in `url`'s database (other test files hold their own elsewhere). */
function advisoryLocks(url: string): Promise<unknown[]> {
  return queryOnce(
    url,
    `select pid from pg_locks where locktype = 'advisory'
        and database = (select oid from pg_database where datname = current_database())`,
  );
}

describe.skipIf(!TEST_BACKENDS.includes('postgres'))('migration runner through PgBouncer', () => {
  const dbs: ProvisionedDatabase[] = [];
  const fresh = async () => {
    const db = await freshPostgresDatabase();
    dbs.push(db);
    const name = new URL(db.url).pathname.slice(1);
    return { direct: db.url, bounced: bouncer.url(name) };
  };
  const open = async (url: string, directUrl?: string) => {
    const handle = await openDatabase({ url, env: directUrl ? { DIRECT_DATABASE_URL: directUrl } : {} });
    handles.push(handle);
    return handle;
  };

  beforeAll(async () => {
    bouncer = await startPgbouncer({ poolSize: 2 });
  });
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.close()));
  });
  afterAll(async () => {
    await bouncer?.stop();
    for (const db of dbs) await db.cleanup().catch(() => {});
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('up and down run with DIRECT_DATABASE_URL; status reads through PgBouncer; no lock is left behind', async () => {
    const { direct, bounced } = await fresh();
    const handle = await open(bounced, direct);
    const migrator = new Migrator(handle.db, { dir: migrations() });
    expect((await migrator.status()).pending.map((f) => f.id)).toEqual(IDS);

    const up = await migrator.up();
    expect(up.ok).toBe(true);
    expect(up.results.map((r) => [r.id, r.status])).toEqual(IDS.map((id) => [id, 'applied']));
    const status = await migrator.status();
    expect(status.applied.map((a) => a.id)).toEqual(IDS);
    expect(status.pending).toEqual([]);
    expect(
      await queryOnce(direct, "select indisvalid as valid from pg_index where indexrelid = 'widgets_name'::regclass"),
    ).toEqual([{ valid: true }]);
    expect(await advisoryLocks(direct)).toEqual([]);

    const down = await migrator.down({ steps: 2 });
    expect(down.ok).toBe(true);
    expect(down.results.map((r) => r.id)).toEqual([IDS[3], IDS[2]]);
    expect((await migrator.status()).pending.map((f) => f.id)).toEqual([IDS[2], IDS[3]]);
    expect(await queryOnce(direct, "select to_regclass('widgets_name') as idx")).toEqual([{ idx: null }]);
    expect(await advisoryLocks(direct)).toEqual([]);
  });

  it('without a direct URL, up is refused with E_DIRECT_URL_REQUIRED before anything runs', async () => {
    const { direct, bounced } = await fresh();
    const handle = await open(bounced);
    const migrator = new Migrator(handle.db, { dir: migrations() });
    const err = await expectFerryError(migrator.up(), 'E_DIRECT_URL_REQUIRED', /migration lock.*DIRECT_DATABASE_URL/);
    expect(err.details).toMatchObject({ variable: 'DIRECT_DATABASE_URL' });
    await expectFerryError(migrator.down(), 'E_DIRECT_URL_REQUIRED');
    expect(await queryOnce(direct, "select to_regclass('ferry_migrations') as t")).toEqual([{ t: null }]);
    // Reads need no session: status works through PgBouncer alone.
    expect((await migrator.status()).pending.map((f) => f.id)).toEqual(IDS);
  });

  it('five runs through PgBouncer at once: each migration is applied exactly once', { timeout: 60_000 }, async () => {
    const { direct, bounced } = await fresh();
    const dir = migrations();
    const runners = await Promise.all(
      Array.from(
        { length: 5 },
        async (_, i) => new Migrator((await open(bounced, direct)).db, { dir, appliedBy: `run-${i}` }),
      ),
    );
    const results = await Promise.all(runners.map((m) => m.up()));
    for (const r of results) expect(r.ok).toBe(true);
    const applied = results.flatMap((r) => r.results.filter((x) => x.status === 'applied').map((x) => x.id));
    expect(applied.sort()).toEqual(IDS);
    const log = await queryOnce<{ migration: string }>(direct, 'select migration from applied_log order by at');
    expect(log.map((l) => l.migration)).toEqual(['create_log', 'create_widgets', 'seed']);
    expect(
      (await queryOnce<{ id: string }>(direct, 'select id from ferry_migrations order by id')).map((h) => h.id),
    ).toEqual(IDS);
    expect(await advisoryLocks(direct)).toEqual([]);
  });

  it('the CLI: DATABASE_URL through PgBouncer and DIRECT_DATABASE_URL migrate; without the latter it says to set it', {
    timeout: 120_000,
  }, async () => {
    const { direct, bounced } = await fresh();
    const project = mkdtempSync(path.join(tmpdir(), 'ferry-bouncer-cli-'));
    dirs.push(project);
    writeFileSync(
      path.join(project, 'ferry.config.ts'),
      `export default { migrations: ${JSON.stringify(migrations())} };\n`,
    );
    const refused = await cli(project, ['migrate', 'up', '--json'], { DATABASE_URL: bounced });
    expect(refused.code).not.toBe(0);
    expect(refused.out + refused.err).toMatch(/DIRECT_DATABASE_URL/);
    const up = await cli(project, ['migrate', 'up', '--json'], { DATABASE_URL: bounced, DIRECT_DATABASE_URL: direct });
    expect(up.code, up.err).toBe(0);
    expect(JSON.parse(up.out).results.map((r: { id: string }) => r.id)).toEqual(IDS);
    expect(await advisoryLocks(direct)).toEqual([]);
  });

  it('a shadow database of a handle through PgBouncer opens on the direct URL, and is refused without one', async () => {
    const { direct, bounced } = await fresh();
    const shadow = await openShadow({ like: await open(bounced, direct) });
    try {
      await shadow.apply(['create table shadowed (id int primary key)']);
      expect((await shadow.introspect()).tables.map((t) => t.name)).toEqual(['shadowed']);
    } finally {
      await shadow.close();
    }
    await expectFerryError(openShadow({ like: await open(bounced) }), 'E_DIRECT_URL_REQUIRED', /A shadow database/);
  });

  it('a run waits for the lock another session holds, then times out with E_MIGRATION_LOCK_TIMEOUT', async () => {
    const { direct, bounced } = await fresh();
    const holder = new pg.Client({ connectionString: direct });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1::bigint)', [String(lockKeyFor('ferry_migrations'))]);
      const handle = await open(bounced, direct);
      const migrator = new Migrator(handle.db, { dir: migrations(), lockTimeoutMs: 300 });
      const err = await expectFerryError(migrator.up(), 'E_MIGRATION_LOCK_TIMEOUT');
      expect(err.details.holderPid).toBe((await holder.query('select pg_backend_pid() as pid')).rows[0].pid);
    } finally {
      await holder.end();
    }
  });
});
