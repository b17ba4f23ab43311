/**
 * Views and materialized views (issue 17, views slice): `view()` in the DSL,
 * its DDL, introspection (definition, columns, options, indexes, comment and
 * pg_depend dependencies), diff (CREATE OR REPLACE where Postgres allows it,
 * drop-and-recreate of dependents around column and table changes), down
 * migrations restoring the previous definitions exactly, `ferry pull`, and
 * `refreshMaterializedView`. On both backends, each with a shadow on the
 * same server (as `migrate check` uses), since `pg_get_viewdef` prints
 * differently across server versions.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { importModule } from '../../src/config.js';
import type { DbHandle } from '../../src/db/open.js';
import { FerryError } from '../../src/errors.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { generateMigration, pendingChanges } from '../../src/migrate/generate.js';
import { introspect } from '../../src/migrate/introspect.js';
import { renderSchemaModule } from '../../src/migrate/pull.js';
import { Migrator } from '../../src/migrate/runner.js';
import { normalise, type Shadow } from '../../src/migrate/shadow.js';
import { bigint, integer, text, timestamptz } from '../../src/schema/column.js';
import { createStatements } from '../../src/schema/ddl.js';
import { pgEnum } from '../../src/schema/enum.js';
import { fn } from '../../src/schema/function.js';
import type { SchemaIR } from '../../src/schema/ir.js';
import { defineSchema } from '../../src/schema/schema.js';
import { index, table, uniqueIndex } from '../../src/schema/table.js';
import { trigger } from '../../src/schema/trigger.js';
import { refreshMaterializedView, view } from '../../src/schema/view.js';
import { describeEachBackend } from '../support/backends.js';
import { migrateSuite } from '../support/migrate-suite.js';
import { tempDirs } from '../support/temp-dirs.js';

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;
const newDir = tempDirs('ferry-views-');

/** A query builder that never connects: only compiles. */
const qb = new Kysely<any>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

const users = table('users', {
  id: integer().primaryKey(),
  email: text().notNull(),
  deletedAt: timestamptz(),
});
const orders = table('orders', {
  id: integer().primaryKey(),
  userId: integer().notNull(),
  amount: integer().notNull(),
});

/** v1: a view, a view on it (by a Kysely query), a check-option view, a materialized view with a unique index. */
function v1() {
  return defineSchema({
    users,
    orders,
    // Declared before what it reads: ordering comes from the dependencies, not the module.
    bigSpenders: view('big_spenders', 'SELECT user_id, total FROM user_totals WHERE total > 100'),
    userTotals: view(
      'user_totals',
      qb
        .selectFrom('orders')
        .select(['userId as user_id', sql<number>`sum(amount)`.as('total')])
        .where('amount', '>', 0)
        .groupBy('userId'),
      { securityInvoker: true, comment: 'per user', columnComments: { total: 'positive amounts' } },
    ),
    activeUsers: view('active_users', 'SELECT id, email, "deletedAt" FROM users WHERE "deletedAt" IS NULL', {
      checkOption: 'local',
    }),
    totalsByUser: view('totals_by_user', 'SELECT "userId" AS user_id, count(*) AS n FROM orders GROUP BY "userId"', {
      materialized: true,
      indexes: (c) => [uniqueIndex().on(c('user_id'))],
      comment: 'refreshed nightly',
    }),
  });
}

/**
 * v2: big_spenders' query changes with the same columns (replaced in place),
 * active_users appends a column and nothing reads it (replaced; its undo
 * drops and recreates), the materialized view changes (rebuilt) and gains an
 * index, user_totals loses security_invoker (replaced).
 */
function v2() {
  return defineSchema({
    users,
    orders,
    bigSpenders: view('big_spenders', 'SELECT user_id, total FROM user_totals WHERE total > 500'),
    userTotals: view(
      'user_totals',
      qb
        .selectFrom('orders')
        .select(['userId as user_id', sql<number>`sum(amount)`.as('total')])
        .where('amount', '>', 0)
        .groupBy('userId'),
      { comment: 'per user', columnComments: { total: 'all positive amounts', user_id: 'owner' } },
    ),
    activeUsers: view(
      'active_users',
      'SELECT id, email, "deletedAt", lower(email) AS email_lower FROM users WHERE "deletedAt" IS NULL',
      { checkOption: 'local' },
    ),
    totalsByUser: view(
      'totals_by_user',
      'SELECT "userId" AS user_id, count(*) AS n, sum(amount) AS total FROM orders GROUP BY "userId"',
      {
        materialized: true,
        indexes: (c) => [
          uniqueIndex().on(c('user_id')),
          uniqueIndex('totals_by_user_total').on(c.total!, c('user_id')),
        ],
        comment: 'refreshed nightly',
      },
    ),
  });
}

describe('view() DSL, DDL and diff', () => {
  it("checks options, inlines a Kysely query's parameters, and creates views after what they read", () => {
    expect(() => view('v', 'SELECT 1', { materialized: true, securityInvoker: true })).toThrow(/plain views/);
    expect(() => view('v', 'SELECT 1', { withData: false })).toThrow(/materialized views only/);
    expect(() => view('v', 'SELECT 1', { indexes: () => [] })).toThrow(/only materialized views/);
    expect(() => view('v', '  ;')).toThrow(/empty query/);
    expect(() => defineSchema({ users, v: view('users', 'SELECT 1') }).toIR()).toThrow(/name of a table/);
    expect(() => defineSchema({ a: view('v', 'SELECT 1'), b: view('v', 'SELECT 2') })).toThrow(/declared twice/);
    const q = view('q', qb.selectFrom('t').select('a').where('b', '=', "it's").where('c', '>', 3));
    expect(q.query).toBe(`select "a" from "t" where "b" = 'it''s' and "c" > 3`);

    const ir = v1().toIR();
    expect(ir.views?.map((v) => v.name)).toEqual(['active_users', 'big_spenders', 'totals_by_user', 'user_totals']);
    expect(ir.views?.find((v) => v.name === 'big_spenders')?.dependsOn).toEqual([{ name: 'user_totals', columns: [] }]);
    const ddl = createStatements(ir);
    const at = (prefix: string) => ddl.findIndex((s) => s.startsWith(prefix));
    expect(at('CREATE VIEW user_totals WITH (security_invoker = true) AS')).toBeGreaterThan(at('CREATE TABLE orders'));
    expect(at('CREATE VIEW big_spenders AS')).toBeGreaterThan(at('CREATE VIEW user_totals'));
    expect(ddl).toContain('CREATE UNIQUE INDEX totals_by_user_user_id_idx ON totals_by_user (user_id)');
    expect(ddl.find((s) => s.startsWith('CREATE VIEW active_users'))).toMatch(/WITH LOCAL CHECK OPTION$/);
    expect(ddl).toContain("COMMENT ON MATERIALIZED VIEW totals_by_user IS 'refreshed nightly'");
    // A schema without views keeps the IR it always had.
    expect('views' in defineSchema({ users }).toIR()).toBe(false);
  });

  it('drops dependents first and creates them last; the down does the reverse', () => {
    const empty: SchemaIR = { enums: [], tables: [] };
    const create = diffSchemas(empty, v1().toIR()).map((c) => c.description);
    expect(create.indexOf('create view big_spenders')).toBeGreaterThan(create.indexOf('create view user_totals'));
    expect(create.indexOf('create view user_totals')).toBeGreaterThan(create.indexOf('create table orders'));
    const drop = diffSchemas(v1().toIR(), empty).map((c) => c.description);
    expect(drop.indexOf('drop view big_spenders')).toBeLessThan(drop.indexOf('drop view user_totals'));
    expect(drop.indexOf('drop view user_totals')).toBeLessThan(drop.indexOf('drop table orders'));
    expect(diffSchemas(v1().toIR(), v1().toIR())).toEqual([]);
  });
});

describeEachBackend('views', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  // On the same server, as `migrate check` does: Postgres 15 and PGlite (17) print view queries differently.
  migrateSuite(t, { shadow: 'like' }, (h, s) => {
    handle = h;
    shadow = s;
  });

  const exec = async (text: string) => sql.raw(text).execute(handle.db);

  it('round trip: DSL -> new -> up -> introspect; replace in place, rebuild, and down exactly', async () => {
    const dir = newDir();
    await generateMigration({ shadow, schema: v1(), dir, name: 'init' });
    const migrator = new Migrator(handle.db, { dir });
    expect((await migrator.up()).ok).toBe(true);
    const live1 = await introspect(handle.db);
    const pending1 = await pendingChanges(shadow, v1(), dir);
    expect(pending1.changes).toEqual([]);
    expect(live1).toEqual(pending1.target);
    const byName = (ir: SchemaIR, name: string) => ir.views!.find((v) => v.name === name)!;
    expect(byName(live1, 'user_totals')).toMatchObject({
      securityInvoker: true,
      comment: 'per user',
      columns: [
        { name: 'user_id', type: 'integer' },
        { name: 'total', type: 'bigint' },
      ],
      dependsOn: [{ name: 'orders', columns: ['amount', 'userId'] }],
    });
    expect(byName(live1, 'big_spenders').dependsOn).toEqual([{ name: 'user_totals', columns: ['total', 'user_id'] }]);
    expect(byName(live1, 'active_users').checkOption).toBe('local');
    expect(byName(live1, 'totals_by_user')).toMatchObject({
      materialized: true,
      withData: true,
      comment: 'refreshed nightly',
      indexes: [{ name: 'totals_by_user_user_id_idx', unique: true }],
    });

    // The views work: the check option refuses a row the view would not show.
    await exec(`insert into users values (1, 'A@x', null)`);
    await exec(`insert into orders values (1, 1, 300)`);
    expect((await sql<{ user_id: number }>`select user_id from big_spenders`.execute(handle.db)).rows).toEqual([
      { user_id: 1 },
    ]);
    await expect(exec(`insert into active_users values (2, 'b', now())`)).rejects.toThrow(/check option/i);

    const changes = (await pendingChanges(shadow, v2(), dir)).changes.map((c) => c.description);
    expect(changes).toEqual([
      'drop materialized view totals_by_user',
      'replace view active_users',
      'replace view user_totals',
      'comment on user_totals.total',
      'comment on user_totals.user_id',
      'replace view big_spenders',
      'create materialized view totals_by_user',
    ]);
    await generateMigration({ shadow, schema: v2(), dir, name: 'change', now: new Date(Date.now() + 10_000) });
    expect((await migrator.up()).ok).toBe(true);
    const live2 = await introspect(handle.db);
    expect(live2).toEqual((await pendingChanges(shadow, v2(), dir)).target);
    expect(byName(live2, 'user_totals').securityInvoker).toBe(false);
    expect(byName(live2, 'active_users').columns.map((c) => c.name)).toEqual([
      'id',
      'email',
      'deletedAt',
      'email_lower',
    ]);
    expect((await sql`select * from big_spenders`.execute(handle.db)).rows).toEqual([]);

    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live1);
    expect((await migrator.down({ all: true })).ok).toBe(true);
    const empty = await introspect(handle.db);
    expect(empty.views).toBeUndefined();
    expect(empty.tables).toEqual([]);
  });

  it('a column type change under a view on a view drops both before and recreates them after, and back in the down', async () => {
    const dir = newDir();
    const mk = (amount: 'integer' | 'bigint', extra = '') =>
      defineSchema({
        ledger: table('ledger', {
          id: integer().primaryKey(),
          amount: amount === 'integer' ? integer().notNull() : bigint().notNull(),
          note: text(),
        }),
        base: view('ledger_base', `SELECT id, amount${extra} FROM ledger`),
        doubled: view('ledger_doubled', 'SELECT id, amount * 2 AS twice FROM ledger_base'),
        summary: view('ledger_summary', 'SELECT sum(twice) AS total FROM ledger_doubled', {
          materialized: true,
        }),
        // Reads the table, not the changed column: left alone.
        notes: view('ledger_notes', 'SELECT id, note FROM ledger'),
      });
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: mk('integer'), dir, name: 'one' });
    expect((await migrator.up()).ok).toBe(true);
    await exec(`insert into ledger values (1, 21, 'x')`);
    const live1 = await introspect(handle.db);

    const pending = await pendingChanges(shadow, mk('bigint'), dir);
    expect(pending.changes.map((c) => c.description)).toEqual([
      'drop materialized view ledger_summary',
      'drop view ledger_doubled',
      'drop view ledger_base',
      'change type of ledger.amount from integer to bigint',
      'create view ledger_base',
      'create view ledger_doubled',
      'create materialized view ledger_summary',
    ]);
    await generateMigration({ shadow, schema: mk('bigint'), dir, name: 'two', now: new Date(Date.now() + 10_000) });
    expect((await migrator.up()).ok).toBe(true);
    const live2 = await introspect(handle.db);
    expect(live2).toEqual(pending.target);
    expect(live2.views!.find((v) => v.name === 'ledger_doubled')!.columns[1]).toEqual({
      name: 'twice',
      type: 'bigint',
    });
    expect((await sql`select total::int from ledger_summary`.execute(handle.db)).rows).toEqual([{ total: 42 }]);

    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live1);

    // Dropping the column a view reads: same dance; the view's new query no longer names it.
    const dropped = defineSchema({
      ledger: table('ledger', { id: integer().primaryKey(), note: text() }),
      base: view('ledger_base', 'SELECT id FROM ledger'),
      notes: view('ledger_notes', 'SELECT id, note FROM ledger'),
    });
    const dropChanges = (await pendingChanges(shadow, dropped, dir)).changes.map((c) => c.description);
    expect(dropChanges.slice(0, 3)).toEqual([
      'drop materialized view ledger_summary',
      'drop view ledger_doubled',
      'drop view ledger_base',
    ]);
    expect(dropChanges.indexOf('create view ledger_base')).toBeGreaterThan(
      dropChanges.indexOf('drop column ledger.amount'),
    );
    await generateMigration({ shadow, schema: dropped, dir, name: 'three', now: new Date(Date.now() + 20_000) });
    expect((await migrator.up()).ok).toBe(true);
    expect((await pendingChanges(shadow, dropped, dir)).changes).toEqual([]);
    // The column comes back NOT NULL without a default: only into an empty table.
    await exec('delete from ledger');
    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    // Back at two (the re-added column comes last, as any dropped column's undo does): its views exactly.
    expect((await introspect(handle.db)).views).toEqual(live2.views);
    expect((await migrator.down({ all: true })).ok).toBe(true);
  });

  it('an INSTEAD OF trigger on a view is read back, and goes and comes back with its view when the view is rebuilt', async () => {
    const dir = newDir();
    const mk = (amount: 'integer' | 'bigint') => {
      const ledger = table('ledger2', {
        id: integer().primaryKey(),
        amount: amount === 'integer' ? integer().notNull() : bigint().notNull(),
      });
      const base = view('ledger2_base', 'SELECT id, amount FROM ledger2');
      const insert = fn('ledger2_base_insert', {
        returns: 'trigger',
        body: '\nBEGIN\n  INSERT INTO ledger2 (id, amount) VALUES (NEW.id, NEW.amount);\n  RETURN NEW;\nEND\n',
      });
      return defineSchema({
        ledger,
        base,
        insert,
        onInsert: trigger('ledger2_base_insert', base, {
          timing: 'instead of',
          events: ['insert'],
          forEach: 'row',
          fn: insert,
          comment: 'writes through',
        }),
      });
    };
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: mk('integer'), dir, name: 'one' });
    expect((await migrator.up()).ok).toBe(true);
    const live1 = await introspect(handle.db);
    expect(live1.triggers).toEqual([expect.objectContaining({ name: 'ledger2_base_insert', table: 'ledger2_base' })]);
    expect((await pendingChanges(shadow, mk('integer'), dir)).changes).toEqual([]);

    const pending = await pendingChanges(shadow, mk('bigint'), dir);
    expect(pending.changes.map((c) => c.description)).toEqual([
      'drop trigger ledger2_base.ledger2_base_insert',
      'drop view ledger2_base',
      'change type of ledger2.amount from integer to bigint',
      'create view ledger2_base',
      'create trigger ledger2_base.ledger2_base_insert',
    ]);
    await generateMigration({ shadow, schema: mk('bigint'), dir, name: 'two', now: new Date(Date.now() + 10_000) });
    expect((await migrator.up()).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(pending.target);
    await exec('insert into ledger2_base values (1, 5000000000)');
    expect((await sql`select amount::text from ledger2`.execute(handle.db)).rows).toEqual([{ amount: '5000000000' }]);
    await exec('delete from ledger2');
    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live1);
    expect((await migrator.down({ all: true })).ok).toBe(true);
  });

  it('a view naming a table hidden by a CTE of the same name (public.t) normalises in the shadow and round-trips', async () => {
    const dir = newDir();
    const schema = defineSchema({
      ledger: table('ledger3', { id: integer().primaryKey(), amount: integer().notNull() }),
      // Postgres prints `public.ledger3` here whatever the search_path: the CTE hides the table.
      hidden: view(
        'ledger3_hidden',
        'WITH ledger3 AS (SELECT 1 AS id) SELECT l.id, l.amount FROM ledger3 c JOIN public.ledger3 l ON l.id = c.id',
      ),
    });
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema, dir, name: 'one' });
    expect((await migrator.up()).ok).toBe(true);
    const pending = await pendingChanges(shadow, schema, dir);
    expect(pending.changes).toEqual([]);
    const live = await introspect(handle.db);
    expect(live).toEqual(pending.target);
    expect(live.views!.find((v) => v.name === 'ledger3_hidden')!.definition).toContain('public.ledger3');
    await exec('insert into ledger3 values (1, 7), (2, 9)');
    expect((await sql`select amount from ledger3_hidden`.execute(handle.db)).rows).toEqual([{ amount: 7 }]);
    await exec('delete from ledger3');
    expect((await migrator.down({ all: true })).ok).toBe(true);
  });

  it('a renamed table takes its views down before the rename and back after', async () => {
    const dir = newDir();
    const one = defineSchema({
      a: table('accounts', { id: integer().primaryKey(), name: text() }),
      v: view('account_names', 'SELECT name FROM accounts'),
    });
    const two = defineSchema({
      a: table('clients', { id: integer().primaryKey(), name: text() }).renamedFrom('accounts'),
      v: view('account_names', 'SELECT name FROM clients'),
    });
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: one, dir, name: 'one' });
    expect((await migrator.up()).ok).toBe(true);
    const live1 = await introspect(handle.db);
    const pending = await pendingChanges(shadow, two, dir);
    expect(pending.changes.map((c) => c.description)).toEqual([
      'drop view account_names',
      'rename table accounts to clients',
      'rename constraint accounts_pkey to clients_pkey',
      'create view account_names',
    ]);
    await generateMigration({ shadow, schema: two, dir, name: 'two', now: new Date(Date.now() + 10_000) });
    expect((await migrator.up()).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(pending.target);
    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live1);
    expect((await migrator.down({ all: true })).ok).toBe(true);
  });

  it('a materialized view whose query stays keeps its data: new indexes are built concurrently, comments changed in place', async () => {
    const dir = newDir();
    const mk = (indexed: boolean, comment: string) =>
      defineSchema({
        items: table('items', { id: integer().primaryKey(), kind: text() }),
        kinds: view('item_kinds', 'SELECT kind, count(*) AS n FROM items GROUP BY kind', {
          materialized: true,
          withData: false,
          comment,
          indexes: (c) => (indexed ? [uniqueIndex().on(c('kind')), index('item_kinds_n').on(c('n'))] : []),
        }),
      });
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: mk(false, 'one'), dir, name: 'one' });
    expect((await migrator.up()).ok).toBe(true);
    const live1 = await introspect(handle.db);
    expect(live1.views![0]!.withData).toBe(false);
    // Refreshing fills it: data, not a schema change.
    await exec(`insert into items values (1, 'a')`);
    await refreshMaterializedView(handle.db, 'item_kinds');
    expect((await introspect(handle.db)).views![0]!.withData).toBe(true);
    expect((await pendingChanges(shadow, mk(false, 'one'), dir)).changes).toEqual([]);

    const pending = await pendingChanges(shadow, mk(true, 'two'), dir);
    expect(pending.changes.map((c) => [c.phase, c.description])).toEqual([
      ['concurrent', 'create index item_kinds_kind_idx concurrently'],
      ['concurrent', 'create index item_kinds_n concurrently'],
      ['main', 'comment on item_kinds'],
    ]);
    await generateMigration({ shadow, schema: mk(true, 'two'), dir, name: 'two', now: new Date(Date.now() + 10_000) });
    expect((await migrator.up()).ok).toBe(true);
    const live2 = await introspect(handle.db);
    expect(live2.views![0]).toMatchObject({ withData: true, comment: 'two' });
    expect(live2.views![0]!.indexes.map((ix) => ix.name)).toEqual(['item_kinds_kind_idx', 'item_kinds_n']);
    await refreshMaterializedView(handle.db, 'item_kinds', { concurrently: true });
    expect((await migrator.down({ steps: 3 })).ok).toBe(true);
    expect({ ...(await introspect(handle.db)), views: undefined }).toEqual({ ...live1, views: undefined });
    expect((await introspect(handle.db)).views![0]).toEqual({ ...live1.views![0], withData: true });
    expect((await migrator.down({ all: true })).ok).toBe(true);
  });

  it('an enum value renamed under a view leaves the view alone (Postgres keeps the label), also with a value added', async () => {
    const dir = newDir();
    const mk = (values: [string, ...string[]], renamed: Record<string, string> = {}) => {
      const state = pgEnum('ticket_state', values, { renamedValues: renamed });
      return defineSchema({
        state,
        tickets: table('tickets', { id: integer().primaryKey(), state: state().notNull() }),
        open: view('open_tickets', `SELECT id FROM tickets WHERE state = '${values[0]}'`),
      });
    };
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: mk(['open', 'closed']), dir, name: 'one' });
    expect((await migrator.up()).ok).toBe(true);
    const live1 = await introspect(handle.db);
    const next = mk(['active', 'closed', 'archived'], { active: 'open' });
    const pending = await pendingChanges(shadow, next, dir);
    expect(pending.changes.map((c) => c.description)).toEqual([
      'rename value open of enum ticket_state to active',
      'add values to enum ticket_state',
    ]);
    await generateMigration({ shadow, schema: next, dir, name: 'two', now: new Date(Date.now() + 10_000) });
    expect((await migrator.up()).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(pending.target);
    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live1);

    // Removing a value rebuilds the type: the view naming it goes first and comes back after, both ways.
    expect((await migrator.up()).ok).toBe(true);
    const live2 = await introspect(handle.db);
    const fewer = mk(['active', 'closed']);
    const rebuild = await pendingChanges(shadow, fewer, dir);
    expect(rebuild.changes.map((c) => c.description)).toEqual([
      'drop view open_tickets',
      'rebuild enum ticket_state (active, closed, archived -> active, closed)',
      'create view open_tickets',
    ]);
    await generateMigration({ shadow, schema: fewer, dir, name: 'three', now: new Date(Date.now() + 20_000) });
    expect((await migrator.up()).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(rebuild.target);
    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live2);
    expect((await migrator.down({ all: true })).ok).toBe(true);
  });

  it('refreshMaterializedView: concurrently with a unique index; a clear error without one or before it is populated', async () => {
    await exec(`
      create table items (id int primary key, kind text);
      insert into items values (1, 'a'), (2, 'a'), (3, 'b');
      create materialized view kinds as select kind, count(*) as n from items group by kind;
      create unique index kinds_kind on kinds (kind);
      create materialized view kinds_plain as select kind from items;
      create materialized view kinds_empty as select kind, count(*) as n from items group by kind with no data;
      create unique index kinds_empty_kind on kinds_empty (kind);`);
    try {
      await exec(`insert into items values (4, 'c')`);
      await refreshMaterializedView(handle.db, 'kinds', { concurrently: true });
      expect((await sql`select kind, n::int from kinds order by kind`.execute(handle.db)).rows).toEqual([
        { kind: 'a', n: 2 },
        { kind: 'b', n: 1 },
        { kind: 'c', n: 1 },
      ]);
      const err = await refreshMaterializedView(handle.db, 'kinds_plain', { concurrently: true }).catch((e) => e);
      expect(err).toBeInstanceOf(FerryError);
      expect(err.code).toBe('E_BAD_ARGUMENT');
      expect(err.message).toMatch(/kinds_plain concurrently: it has no unique index/);
      const empty = await refreshMaterializedView(handle.db, 'kinds_empty', { concurrently: true }).catch((e) => e);
      expect(empty.message).toMatch(/not populated/);
      await refreshMaterializedView(handle.db, 'kinds_empty');
      await refreshMaterializedView(handle.db, 'kinds_plain');
      expect((await sql`select count(*)::int as n from kinds_empty`.execute(handle.db)).rows).toEqual([{ n: 3 }]);
    } finally {
      await exec('drop table items cascade');
    }
  });

  it('ferry pull writes view() declarations that normalise back to the live views', async () => {
    for (const s of createStatements(v1().toIR())) await exec(s);
    await exec(`create materialized view lazy as select id from users with no data`);
    try {
      const live = await introspect(handle.db);
      const text = renderSchemaModule(live, { importFrom: srcIndex });
      expect(text).toContain('export const userTotals = view(');
      expect(text).toMatch(/materialized: true, withData: false/);
      expect(text).toContain('columnComments: { "total": "positive amounts" }');
      expect(text).toContain('indexes: (t) => [\n    uniqueIndex("totals_by_user_user_id_idx").on(t.user_id),\n  ]');
      const file = join(newDir(), 'schema.ts');
      writeFileSync(file, text);
      const pulled = defineSchema(await importModule(file, 'pulled schema'));
      expect(await normalise(shadow, pulled.toIR())).toEqual(live);
    } finally {
      await exec(
        'drop view big_spenders; drop view user_totals; drop view active_users; drop materialized view totals_by_user; drop materialized view lazy; drop table users; drop table orders',
      );
    }
  });
});
