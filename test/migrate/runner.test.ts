import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeEach, expect, it } from 'vitest';
import { E_BAD_ARGUMENT } from '../../src/errors.js';
import {
  E_MIGRATION_CHECKSUM,
  E_MIGRATION_FAILED,
  E_MIGRATION_FILE,
  E_MIGRATION_LOCK_TIMEOUT,
  E_MIGRATION_MISSING,
  E_MIGRATION_NO_DOWN,
  E_MIGRATION_OUT_OF_ORDER,
  E_MIGRATION_UNKNOWN,
} from '../../src/migrate/errors.js';
import { Migrator, type MigratorOptions } from '../../src/migrate/runner.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function newDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'ferry-runner-'));
  roots.push(d);
  return d;
}

function put(dir: string, id: string, up: string, down?: string): void {
  mkdirSync(path.join(dir, id), { recursive: true });
  writeFileSync(path.join(dir, id, 'up.sql'), up);
  if (down !== undefined) writeFileSync(path.join(dir, id, 'down.sql'), down);
}

const M1 = '20240101000000_create_items';
const M2 = '20240102000000_add_price';
const M3 = '20240103000000_seed';

/** Three ordinary migrations with downs. */
function basicSet(dir: string): void {
  put(dir, M1, 'create table items (id int primary key, name text not null);\n', 'drop table items;\n');
  put(dir, M2, 'alter table items add column price numeric;\n', 'alter table items drop column price;\n');
  put(
    dir,
    M3,
    "insert into items (id, name, price) values (1, 'one', 1.5);\ninsert into items (id, name, price) values (2, 'two', 2);\n",
    'delete from items where id in (1, 2);\n',
  );
}

async function tables(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ t: string }>`
    select table_name as t from information_schema.tables
    where table_schema = 'public' order by 1`.execute(db);
  return rows.map((r) => r.t);
}

describeEachBackend('migrate runner', (t) => {
  let db: Kysely<any>;
  let dir: string;
  const migrator = (extra: Partial<MigratorOptions> = {}) =>
    new Migrator(db, { dir, appliedBy: 'tester@test', ...extra });

  beforeEach(async () => {
    db = (await t.open()).db;
    await sql.raw('drop schema public cascade; create schema public;').execute(db);
    dir = newDir();
  });

  it('status before anything ran: no history table, everything pending', async () => {
    basicSet(dir);
    const status = await migrator().status();
    expect(status).toMatchObject({ current: null, applied: [], problems: [] });
    expect(status.pending.map((p) => p.id)).toEqual([M1, M2, M3]);
    expect(await migrator().history()).toEqual([]);
    expect(await tables(db)).toEqual([]); // status() does not create the table
  });

  it('up applies in order and records history', async () => {
    basicSet(dir);
    const before = new Date(Date.now() - 60_000);
    const run = await migrator().up();
    expect(run.ok).toBe(true);
    expect(run.results.map((r) => [r.id, r.direction, r.status])).toEqual([
      [M1, 'up', 'applied'],
      [M2, 'up', 'applied'],
      [M3, 'up', 'applied'],
    ]);
    const { rows } = await sql<{ id: number; price: string }>`select id, price from items order by id`.execute(db);
    expect(rows).toEqual([
      { id: 1, price: '1.5' },
      { id: 2, price: '2' },
    ]);
    const history = await migrator().history();
    expect(history.map((h) => h.id)).toEqual([M1, M2, M3]);
    const files = (await migrator().status()).applied;
    for (const h of history) {
      expect(h.appliedBy).toBe('tester@test');
      expect(h.appliedAt).toBeInstanceOf(Date);
      expect(h.appliedAt.getTime()).toBeGreaterThan(before.getTime());
      expect(Number.isInteger(h.durationMs)).toBe(true);
      expect(h.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(files).toEqual(history);
    const status = await migrator().status();
    expect(status.current).toBe(M3);
    expect(status.pending).toEqual([]);
    expect(status.problems).toEqual([]);
    // Nothing left: a second up is a no-op.
    expect(await migrator().up()).toEqual({ results: [], ok: true });
  });

  it('up { to } stops at the target; an unknown target is refused', async () => {
    basicSet(dir);
    const run = await migrator().up({ to: M2 });
    expect(run.results.map((r) => r.id)).toEqual([M1, M2]);
    const status = await migrator().status();
    expect(status.current).toBe(M2);
    expect(status.pending.map((p) => p.id)).toEqual([M3]);
    expect((await migrator().up({ to: M1 })).results).toEqual([]);
    await expectFerryError(migrator().up({ to: '20990101000000_nope' }), E_MIGRATION_UNKNOWN, /no migration/);
  });

  it('down: one step by default, steps, to, all', async () => {
    basicSet(dir);
    await migrator().up();
    const one = await migrator().down();
    expect(one.results.map((r) => [r.id, r.direction, r.status])).toEqual([[M3, 'down', 'reverted']]);
    expect((await migrator().status()).current).toBe(M2);
    expect((await sql`select * from items`.execute(db)).rows).toEqual([]);

    await migrator().up();
    const two = await migrator().down({ steps: 2 });
    expect(two.results.map((r) => r.id)).toEqual([M3, M2]);
    expect((await migrator().status()).current).toBe(M1);

    await migrator().up();
    const to = await migrator().down({ to: M1 });
    expect(to.results.map((r) => r.id)).toEqual([M3, M2]);
    expect((await migrator().status()).current).toBe(M1);
    expect((await migrator().down({ to: M1 })).results).toEqual([]);
    await expectFerryError(migrator().down({ to: M3 }), E_MIGRATION_UNKNOWN, /not applied/);

    await migrator().up();
    const all = await migrator().down({ all: true });
    expect(all.results.map((r) => r.id)).toEqual([M3, M2, M1]);
    const status = await migrator().status();
    expect(status.current).toBeNull();
    expect(status.pending).toHaveLength(3);
    expect(await tables(db)).toEqual(['ferry_migrations']);
    expect((await migrator().down()).results).toEqual([]);
  });

  it('baseline records files as applied without running them', async () => {
    basicSet(dir);
    const run = await migrator().baseline({ to: M2 });
    expect(run.results).toEqual([
      { id: M1, direction: 'up', status: 'baselined', durationMs: 0 },
      { id: M2, direction: 'up', status: 'baselined', durationMs: 0 },
    ]);
    expect(await tables(db)).toEqual(['ferry_migrations']); // items was never created
    expect((await migrator().history()).map((h) => h.id)).toEqual([M1, M2]);
    // The schema is supposed to exist already: create it by hand, then carry on.
    await sql`create table items (id int primary key, name text not null, price numeric)`.execute(db);
    const up = await migrator().up();
    expect(up.results.map((r) => [r.id, r.status])).toEqual([[M3, 'applied']]);
  });

  it('a failing statement rolls its whole migration back, stops the run and reports file/statement/line/SQLSTATE', async () => {
    put(dir, M1, 'create table items (id int primary key);\n');
    const failing = [
      '-- the second statement of three fails',
      'create table audit (id int);',
      'insert into items (id)',
      '  select id',
      '  from missing_table;',
      'insert into audit values (1);',
      '',
    ].join('\n');
    put(dir, M2, failing);
    put(dir, M3, 'create table later (id int);\n');
    const run = await migrator().up();
    expect(run.ok).toBe(false);
    expect(run.results.map((r) => [r.id, r.status])).toEqual([
      [M1, 'applied'],
      [M2, 'failed'],
      [M3, 'skipped'],
    ]);
    const error = run.results[1]!.error!;
    expect(error).toMatchObject({
      code: E_MIGRATION_FAILED,
      file: path.join(dir, M2, 'up.sql'),
      statement: 'insert into items (id)\n  select id\n  from missing_table',
      line: 5, // where the server's error position points: missing_table
      sqlstate: '42P01',
    });
    expect(error.message).toMatch(/missing_table/);
    // Nothing of M2 persists (audit was created by its first statement), history unchanged.
    expect(await tables(db)).toEqual(['ferry_migrations', 'items']);
    expect((await migrator().history()).map((h) => h.id)).toEqual([M1]);
    expect((await migrator().status()).pending.map((p) => p.id)).toEqual([M2, M3]);
  });

  it('a runtime error without a server position points at the statement; a deferred one at COMMIT', async () => {
    put(dir, M1, 'create table n (x int primary key);\ninsert into n values (1);\n\ninsert into n\n  values (1);\n');
    const run = await migrator().up();
    expect(run.results[0]!.error).toMatchObject({
      statement: 'insert into n\n  values (1)',
      line: 4,
      sqlstate: '23505',
    });
    expect(run.results[0]!.error!.detail).toMatch(/already exists/);
    rmSync(path.join(dir, M1), { recursive: true });
    put(
      dir,
      M1,
      'create table p (id int primary key);\n' +
        'create table c (p int references p deferrable initially deferred);\n' +
        'insert into c values (7);\n',
    );
    const deferred = await migrator().up();
    expect(deferred.results[0]!.error).toMatchObject({ statement: 'COMMIT', line: null, sqlstate: '23503' });
    expect(await tables(db)).toEqual(['ferry_migrations']);
  });

  it('an edited applied file is E_MIGRATION_CHECKSUM and nothing runs', async () => {
    basicSet(dir);
    await migrator().up({ to: M2 });
    const before = (await migrator().history()).find((h) => h.id === M2)!.checksum;
    writeFileSync(path.join(dir, M2, 'up.sql'), 'alter table items add column price numeric(10, 2);\n');
    // down.sql is not part of the checksum.
    writeFileSync(path.join(dir, M1, 'down.sql'), 'drop table if exists items;\n');
    const status = await migrator().status();
    expect(status.problems).toHaveLength(1);
    expect(status.problems[0]).toMatchObject({
      code: E_MIGRATION_CHECKSUM,
      id: M2,
      file: path.join(dir, M2, 'up.sql'),
      appliedChecksum: before,
    });
    const err = await expectFerryError(migrator().up(), E_MIGRATION_CHECKSUM);
    expect(err.message).toContain(path.join(dir, M2, 'up.sql'));
    expect(err.message).toContain(before);
    expect(err.message).toContain(status.problems[0]!.fileChecksum!);
    await expectFerryError(migrator().down(), E_MIGRATION_CHECKSUM);
    expect((await migrator().history()).map((h) => h.id)).toEqual([M1, M2]);
    // CRLF is not an edit.
    writeFileSync(path.join(dir, M2, 'up.sql'), 'alter table items add column price numeric;\r\n');
    expect((await migrator().status()).problems).toEqual([]);
  });

  it('a deleted applied file is E_MIGRATION_MISSING', async () => {
    basicSet(dir);
    await migrator().up();
    rmSync(path.join(dir, M2), { recursive: true });
    const status = await migrator().status();
    expect(status.problems.map((p) => [p.code, p.id])).toEqual([[E_MIGRATION_MISSING, M2]]);
    const err = await expectFerryError(migrator().down(), E_MIGRATION_MISSING);
    expect(err.message).toContain(path.join(dir, M2));
    await expectFerryError(migrator().up(), E_MIGRATION_MISSING);
    expect((await migrator().history()).map((h) => h.id)).toEqual([M1, M2, M3]);
  });

  it('a late-merged older migration is E_MIGRATION_OUT_OF_ORDER unless allowOutOfOrder', async () => {
    put(dir, M1, 'create table a (x int);\n');
    put(dir, M3, 'create table c (x int);\n');
    await migrator().up();
    put(dir, M2, 'create table b (x int);\n');
    put(dir, '20240104000000_d', 'create table d (x int);\n');
    const status = await migrator().status();
    expect(status.problems.map((p) => [p.code, p.id])).toEqual([[E_MIGRATION_OUT_OF_ORDER, M2]]);
    const err = await expectFerryError(migrator().up(), E_MIGRATION_OUT_OF_ORDER);
    expect(err.message).toContain(M2);
    expect(await tables(db)).toEqual(['a', 'c', 'ferry_migrations']);
    const run = await migrator({ allowOutOfOrder: true }).up();
    expect(run.results.map((r) => r.id)).toEqual([M2, '20240104000000_d']);
    expect(await tables(db)).toEqual(['a', 'b', 'c', 'd', 'ferry_migrations']);
    expect((await migrator().status()).problems).toEqual([]);
  });

  it('a -- ferry:no-transaction CREATE INDEX CONCURRENTLY migration applies and reverts', async () => {
    put(dir, M1, 'create table big (x int);\ninsert into big select generate_series(1, 1000);\n', 'drop table big;\n');
    put(
      dir,
      M2,
      '-- ferry:no-transaction\ncreate index concurrently big_x on big (x);\n',
      '-- ferry:no-transaction\ndrop index concurrently big_x;\n',
    );
    const run = await migrator().up();
    expect(run.results.map((r) => [r.id, r.status, r.error?.message])).toEqual([
      [M1, 'applied', undefined],
      [M2, 'applied', undefined],
    ]);
    const valid = () =>
      sql<{ valid: boolean }>`
        select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
        where c.relname = 'big_x'`.execute(db);
    expect((await valid()).rows).toEqual([{ valid: true }]);
    if (t.backend === 'pglite') {
      // One session: the session-level timeouts were put back, and so was the client check.
      const { rows } = await sql<{ lt: string; st: string; cc: string }>`
        select current_setting('lock_timeout') as lt, current_setting('statement_timeout') as st,
               current_setting('client_connection_check_interval') as cc`.execute(db);
      expect(rows).toEqual([{ lt: '0', st: '0', cc: '0' }]);
    }
    expect((await migrator().history()).map((h) => h.id)).toEqual([M1, M2]);
    const down = await migrator().down();
    expect(down.results.map((r) => [r.id, r.status])).toEqual([[M2, 'reverted']]);
    expect((await valid()).rows).toEqual([]);
  });

  it('a failing no-transaction migration is not recorded', async () => {
    put(dir, M1, '-- ferry:no-transaction\ncreate index concurrently nope_x on nope (x);\n');
    const run = await migrator().up();
    expect(run.results[0]).toMatchObject({ status: 'failed', error: { sqlstate: '42P01', line: 2 } });
    expect(run.results[0]!.error!.hint).toMatch(/without a transaction/);
    expect(await migrator().history()).toEqual([]);
  });

  it.skipIf(t.backend !== 'postgres')('CONCURRENTLY without the directive fails with a hint to add it', async () => {
    put(dir, M1, 'create table big (x int);\ncreate index concurrently big_x on big (x);\n');
    const run = await migrator().up();
    expect(run.results[0]!.error).toMatchObject({ sqlstate: '25001', line: 2 });
    expect(run.results[0]!.error!.hint).toMatch(/-- ferry:no-transaction/);
    expect(await tables(db)).toEqual(['ferry_migrations']);
  });

  it('a no-transaction file with two statements is rejected before anything runs', async () => {
    put(dir, M1, 'create table a (x int);\n');
    put(
      dir,
      M2,
      '-- ferry:no-transaction\ncreate index concurrently a1 on a (x);\ncreate index concurrently a2 on a (x);\n',
    );
    const err = await expectFerryError(migrator().up(), E_MIGRATION_FILE, /exactly one statement/);
    expect(err.message).toContain(path.join(dir, M2, 'up.sql'));
    expect(await tables(db)).toEqual([]);
  });

  it('down without down.sql is E_MIGRATION_NO_DOWN and reverts nothing', async () => {
    put(dir, M1, 'create table a (x int);\n', 'drop table a;\n');
    put(dir, M2, 'create table b (x int);\n');
    await migrator().up();
    const err = await expectFerryError(migrator().down({ all: true }), E_MIGRATION_NO_DOWN);
    expect(err.message).toContain(path.join(dir, M2, 'down.sql'));
    expect((await migrator().history()).map((h) => h.id)).toEqual([M1, M2]);
    expect(await tables(db)).toEqual(['a', 'b', 'ferry_migrations']);
  });

  it('uses the configured history table', async () => {
    basicSet(dir);
    await migrator({ table: 'app_schema_history' }).up({ to: M1 });
    expect(await tables(db)).toEqual(['app_schema_history', 'items']);
    expect((await migrator().status()).pending).toHaveLength(3); // the default table knows nothing
    expect((await migrator({ table: 'app_schema_history' }).status()).current).toBe(M1);
    expect(() => migrator({ table: 'x; drop table y' })).toThrow(/Invalid history table name/);
  });

  it.skipIf(t.backend !== 'postgres')('waits for the lock, then times out with E_MIGRATION_LOCK_TIMEOUT', async () => {
    basicSet(dir);
    const m = migrator({ lockTimeoutMs: 600 });
    const other = new pg.Client({ connectionString: t.url(), application_name: 'lock-holder' });
    await other.connect();
    try {
      await other.query('select pg_advisory_lock($1::bigint)', [String(m.lockKey)]);
      const started = performance.now();
      const err = await expectFerryError(m.up(), E_MIGRATION_LOCK_TIMEOUT, /lock-holder/);
      const waited = performance.now() - started;
      console.log(`[runner] lock timeout 600 ms: gave up after ${Math.round(waited)} ms`);
      expect(waited).toBeGreaterThanOrEqual(590);
      expect(waited).toBeLessThan(2_000);
      expect(err.details.holderPid).toEqual(expect.any(Number));
      expect(await tables(db)).toEqual([]);

      // Released while we wait: the run proceeds.
      const waiting = migrator({ lockTimeoutMs: 10_000 }).up();
      await new Promise((r) => setTimeout(r, 500));
      // Polling leaves no transaction open while it waits.
      const { rows: open } = await other.query(
        "select count(*)::int as n from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'",
      );
      expect(open[0].n).toBe(0);
      const releasedAt = performance.now();
      await other.query('select pg_advisory_unlock($1::bigint)', [String(m.lockKey)]);
      const run = await waiting;
      console.log(`[runner] lock released → 3 migrations done ${Math.round(performance.now() - releasedAt)} ms later`);
      expect(run.ok).toBe(true);
      expect(run.results).toHaveLength(3);
      // And the lock is free again afterwards.
      const { rows } = await other.query('select pg_try_advisory_lock($1::bigint) as ok', [String(m.lockKey)]);
      expect(rows[0].ok).toBe(true);
    } finally {
      await other.end();
    }
  });

  it.skipIf(t.backend !== 'postgres')(
    'SET LOCAL lock_timeout applies: a blocked migration fails fast with 55P03',
    async () => {
      put(dir, M1, 'create table a (x int);\n');
      put(dir, M2, 'alter table a add column y int;\n');
      await migrator().up({ to: M1 });
      const other = new pg.Client({ connectionString: t.url() });
      await other.connect();
      try {
        await other.query('begin; lock table a in access share mode');
        const started = performance.now();
        const run = await migrator({ statementLockTimeoutMs: 200 }).up();
        expect(performance.now() - started).toBeLessThan(3_000);
        expect(run.results[0]!.error).toMatchObject({ sqlstate: '55P03', line: 1 });
        await other.query('rollback');
        expect((await migrator().up()).ok).toBe(true);
      } finally {
        await other.end();
      }
    },
  );

  it.skipIf(t.backend !== 'postgres')('SET LOCAL statement_timeout applies', async () => {
    put(dir, M1, 'select pg_sleep(3);\n');
    const run = await migrator({ statementTimeoutMs: 200 }).up();
    expect(run.results[0]!.error).toMatchObject({ sqlstate: '57014' });
    expect(await migrator().history()).toEqual([]);
  });

  it("timeouts take a Duration ('90s', '1500ms'); a bad one is E_BAD_ARGUMENT naming the option", async () => {
    put(
      dir,
      M1,
      "create table st as select current_setting('statement_timeout') as st, current_setting('lock_timeout') as lt;\n",
    );
    const run = await migrator({
      statementTimeoutMs: '90s',
      statementLockTimeoutMs: '1500ms',
      lockTimeoutMs: '1m',
    }).up();
    expect(run.ok).toBe(true);
    const { rows } = await sql<{ st: string; lt: string }>`select st, lt from st`.execute(db);
    expect(rows).toEqual([{ st: '90s', lt: '1500ms' }]);
    for (const [name, value] of [
      ['lockTimeoutMs', 'soon'],
      ['statementTimeoutMs', '-1s'],
      ['statementLockTimeoutMs', 1.5],
    ] as const) {
      let err: unknown;
      try {
        migrator({ [name]: value } as never);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: E_BAD_ARGUMENT, message: expect.stringContaining(`Migrator option ${name}`) });
    }
  });

  it('applies 50 trivial migrations (timed)', async () => {
    for (let i = 0; i < 50; i++) {
      put(
        dir,
        `2024010100${String(i).padStart(4, '0')}_m${i}`,
        `create table t${i} (x int);\ninsert into t${i} values (${i});\n`,
        `drop table t${i};\n`,
      );
    }
    let started = performance.now();
    const run = await migrator().up();
    const upMs = performance.now() - started;
    expect(run.ok).toBe(true);
    expect(run.results).toHaveLength(50);
    started = performance.now();
    const down = await migrator().down({ all: true });
    const downMs = performance.now() - started;
    expect(down.results).toHaveLength(50);
    console.log(
      `[runner] ${t.backend}: 50 trivial migrations up in ${Math.round(upMs)} ms (${(upMs / 50).toFixed(1)} ms each), ` +
        `down in ${Math.round(downMs)} ms`,
    );
  });
});
