/**
 * Declarative partitioning (issue 17): `table(...).partitionBy()` and
 * `partition()` in the DSL, the DDL (parents, then partitions), introspection
 * (a partition's inherited columns, keys and indexes are its parent's and are
 * not repeated), diff (create, detach + drop, detach + attach), down
 * migrations, and `ferry pull`. On both backends; `migrate new` uses a
 * PGlite shadow as the CLI does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { importModule } from '../../src/config.js';
import type { DbHandle } from '../../src/db/open.js';
import { E_SCHEMA } from '../../src/errors.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { generateMigration, pendingChanges } from '../../src/migrate/generate.js';
import { renameHints } from '../../src/migrate/hints.js';
import { introspect } from '../../src/migrate/introspect.js';
import { lintSql } from '../../src/migrate/lint.js';
import { renderSchemaModule } from '../../src/migrate/pull.js';
import { Migrator } from '../../src/migrate/runner.js';
import { normalise, type Shadow } from '../../src/migrate/shadow.js';
import { bigint, date, integer, text, timestamptz } from '../../src/schema/column.js';
import { createStatements } from '../../src/schema/ddl.js';
import type { SchemaIR } from '../../src/schema/ir.js';
import { MAXVALUE, MINVALUE, partition } from '../../src/schema/partition.js';
import { defineSchema } from '../../src/schema/schema.js';
import { sql as dsl } from '../../src/schema/sql.js';
import { foreignKey, index, primaryKey, table, unique, uniqueIndex } from '../../src/schema/table.js';
import { describeEachBackend } from '../support/backends.js';
import { rejection } from '../support/expect-error.js';
import { migrateSuite } from '../support/migrate-suite.js';
import { tempDirs } from '../support/temp-dirs.js';

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;
const newDir = tempDirs('ferry-part-');

const events = table(
  'events',
  { id: bigint().notNull(), at: timestamptz().notNull(), kind: text().notNull(), body: text() },
  (t) => [primaryKey(t.id, t.at), index('events_kind_idx').on(t.kind)],
).partitionBy('range', 'at');
const accounts = table('accounts', { id: integer().notNull(), region: text().notNull(), name: text() }, (t) => [
  primaryKey(t.id, t.region),
]).partitionBy('list', 'region');
const shards = table('shards', { id: bigint().notNull(), v: text() }).partitionBy('hash', 'id');

/** v1: range (MINVALUE, two months, default), list (with a sub-partitioned one), hash. */
function v1(extra: Record<string, unknown> = {}) {
  return defineSchema({
    events,
    eventsOld: partition('events_old', events, { from: MINVALUE, to: '2026-01-01 00:00:00+00' }),
    events202601: partition('events_2026_01', events, { from: '2026-01-01 00:00:00+00', to: '2026-02-01 00:00:00+00' }),
    events202602: partition('events_2026_02', events, { from: '2026-02-01 00:00:00+00', to: '2026-03-01 00:00:00+00' }),
    eventsRest: partition('events_rest', events, 'default'),
    accounts,
    accountsEu: partition('accounts_eu', accounts, { in: ['de', 'fr'] }),
    accountsUs: partition('accounts_us', accounts, { in: ['us'] }).partitionBy('hash', 'id'),
    shards,
    shards0: partition('shards_0', shards, { modulus: 2, remainder: 0 }),
    shards1: partition('shards_1', shards, { modulus: 2, remainder: 1 }),
    ...extra,
  });
}
/** v2: a new month, events_2026_01 gone, accounts_eu also takes 'it', shards_1 gone. */
function v2() {
  return defineSchema({
    events,
    eventsOld: partition('events_old', events, { from: MINVALUE, to: '2026-01-01 00:00:00+00' }),
    events202602: partition('events_2026_02', events, { from: '2026-02-01 00:00:00+00', to: '2026-03-01 00:00:00+00' }),
    events202603: partition('events_2026_03', events, { from: '2026-03-01 00:00:00+00', to: '2026-04-01 00:00:00+00' }),
    eventsRest: partition('events_rest', events, 'default'),
    accounts,
    accountsEu: partition('accounts_eu', accounts, { in: ['de', 'fr', 'it'] }),
    accountsUs: partition('accounts_us', accounts, { in: ['us'] }).partitionBy('hash', 'id'),
    shards,
    shards0: partition('shards_0', shards, { modulus: 2, remainder: 0 }),
  });
}

describe('partitionBy() and partition(): DSL, DDL and diff', () => {
  it('compiles the key and bounds, parents first, and checks them', () => {
    const ir = v1().toIR();
    expect(ir.tables.find((t) => t.name === 'events')!.partitionBy).toEqual({ strategy: 'range', key: 'at' });
    expect(ir.partitions!.map((p) => p.name)).toEqual([
      'accounts_eu',
      'accounts_us',
      'events_2026_01',
      'events_2026_02',
      'events_old',
      'events_rest',
      'shards_0',
      'shards_1',
    ]);
    const ddl = createStatements(ir);
    expect(ddl).toContain(
      "CREATE TABLE events_old PARTITION OF events FOR VALUES FROM (MINVALUE) TO ('2026-01-01 00:00:00+00')",
    );
    expect(ddl).toContain('CREATE TABLE events_rest PARTITION OF events DEFAULT');
    expect(ddl).toContain("CREATE TABLE accounts_us PARTITION OF accounts FOR VALUES IN ('us') PARTITION BY HASH (id)");
    expect(ddl).toContain('CREATE TABLE shards_1 PARTITION OF shards FOR VALUES WITH (MODULUS 2, REMAINDER 1)');
    const createEvents = ddl.findIndex((s) => s.startsWith('CREATE TABLE events ('));
    expect(ddl[createEvents]).toMatch(/\) PARTITION BY RANGE \(at\)$/);
    // Partitions after their parent, the parent's index after both (Postgres cascades it).
    expect(ddl.findIndex((s) => s.startsWith('CREATE TABLE events_old'))).toBeGreaterThan(createEvents);
    expect(ddl.findIndex((s) => s.startsWith('CREATE INDEX events_kind_idx'))).toBeGreaterThan(
      ddl.findIndex((s) => s.startsWith('CREATE TABLE events_rest')),
    );

    // Expression keys, multi-column range bounds with MAXVALUE.
    const m = table('m', { a: integer(), b: text() }).partitionBy('range', ['a', dsl`lower(b)`]);
    expect(m.toIR().partitionBy).toEqual({ strategy: 'range', key: 'a, (lower(b))' });
    expect(partition('m1', m, { from: [1, 'a'], to: [1, MAXVALUE] }).toIR().bound).toBe(
      "FOR VALUES FROM (1, 'a') TO (1, MAXVALUE)",
    );
    expect(() => partition('m2', m, { from: 1, to: 2 })).toThrow(/needs 2 value\(s\)/);
    expect(() => partition('s2', shards, 'default')).toThrow(/cannot have a default partition/);
    expect(() => partition('s3', shards, { in: [1] })).toThrow(/list-partitioned parent, not hash/);
    expect(() => partition('s4', shards, { modulus: 2, remainder: 2 })).toThrow(/remainder < modulus/);
    expect(() => partition('x', table('plain', { a: integer() }), 'default')).toThrow(/not partitioned/);
    expect(() => table('t', { a: integer() }).partitionBy('range', 'nope' as 'a')).toThrow(/does not have/);
    expect(() => defineSchema({ p: partition('orphan', events, 'default') }).toIR()).toThrow(/not exported/);
    // A schema without partitions keeps the IR it always had.
    expect('partitions' in defineSchema({ t: table('t', { a: integer() }) }).toIR()).toBe(false);
  });

  it('a primary key or unique that leaves out a key column is an E_SCHEMA error naming the table and the column', async () => {
    const noKey = table('logs', { id: bigint().primaryKey(), at: timestamptz().notNull() }).partitionBy('range', 'at');
    const err = await rejection((async () => noKey.toIR())());
    expect(err.code).toBe(E_SCHEMA);
    expect(err.message).toMatch(/^logs: the primary key logs_pkey \(id\) must include the partition key column "at"/);
    expect(err.details).toMatchObject({ table: 'logs', column: 'at' });
    const u = table('u', { id: bigint(), at: timestamptz(), e: text() }, (t) => [unique('u_e_key').on(t.e)]);
    expect(() => u.partitionBy('range', 'at').toIR()).toThrow(/unique constraint u_e_key \(e\) must include .*"at"/);
    const ui = table('ui', { at: timestamptz(), e: text() }, (t) => [uniqueIndex('ui_e').on(t.e)]);
    expect(() => ui.partitionBy('list', 'at').toIR()).toThrow(/unique index ui_e \(e\) must include/);
    const ex = table('ex', { id: bigint().primaryKey(), b: text() });
    expect(() => ex.partitionBy('list', dsl`lower(b)`).toIR()).toThrow(/partition key has an expression/);
  });

  it('diffs: new partitions created after their parent; removed ones detached and dropped (destructive); moved ones detached and attached', () => {
    const a = v1().toIR();
    const b = v2().toIR();
    const changes = diffSchemas(a, b);
    const by = (prefix: string) => changes.find((c) => c.description.startsWith(prefix))!;
    expect(by('create partition events_2026_03').up).toEqual([
      "CREATE TABLE events_2026_03 PARTITION OF events FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-04-01 00:00:00+00')",
    ]);
    const drop = by('detach and drop partition events_2026_01');
    expect(drop.destructive).toBe(true);
    expect(drop.description).toMatch(/rows are deleted; keep only the DETACH/);
    expect(drop.up).toEqual(['ALTER TABLE events DETACH PARTITION events_2026_01', 'DROP TABLE events_2026_01']);
    expect(drop.down).toEqual([
      "CREATE TABLE events_2026_01 PARTITION OF events FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')",
    ]);
    // The DROP TABLE in it meets the same lint rule as any DROP TABLE.
    expect(lintSql(drop.up.join(';\n')).map((f) => f.rule)).toContain('ban-drop-table');
    const move = by('move partition accounts_eu');
    expect(move.up).toEqual([
      'ALTER TABLE accounts DETACH PARTITION accounts_eu',
      "ALTER TABLE accounts ATTACH PARTITION accounts_eu FOR VALUES IN ('de', 'fr', 'it')",
    ]);
    expect(move.down).toEqual([
      'ALTER TABLE accounts DETACH PARTITION accounts_eu',
      "ALTER TABLE accounts ATTACH PARTITION accounts_eu FOR VALUES IN ('de', 'fr')",
    ]);
    expect(diffSchemas(a, a)).toEqual([]);
    // A renamed parent keeps its partitions: a rename, no detach or attach.
    const renamedEvents = table(
      'happenings',
      { id: bigint().notNull(), at: timestamptz().notNull(), kind: text().notNull(), body: text() },
      (t) => [primaryKey(t.id, t.at).named('events_pkey'), index('events_kind_idx').on(t.kind)],
    )
      .renamedFrom('events')
      .partitionBy('range', 'at');
    const renamedSchema = defineSchema({
      happenings: renamedEvents,
      old: partition('events_old', renamedEvents, { from: MINVALUE, to: '2026-01-01 00:00:00+00' }),
    });
    const onlyEvents: SchemaIR = {
      enums: [],
      tables: a.tables.filter((x) => x.name === 'events'),
      partitions: a.partitions!.filter((p) => p.name === 'events_old'),
    };
    expect(diffSchemas(onlyEvents, renamedSchema.toIR(), renameHints(renamedSchema)).map((c) => c.description)).toEqual(
      ['rename table events to happenings'],
    );
    // From empty: parents, then partitions (sub-partitioned ones before theirs).
    const empty: SchemaIR = { enums: [], tables: [] };
    const create = diffSchemas(empty, a).map((c) => c.description);
    expect(create.indexOf('create partition accounts_eu of accounts')).toBeGreaterThan(
      create.indexOf('create table accounts'),
    );
    // Repartitioning is not generated: a warning says to write it by hand.
    const plainEvents = {
      ...a,
      tables: a.tables.map((t) => (t.name === 'events' ? { ...t, partitionBy: undefined } : t)),
    };
    delete (plainEvents.tables.find((t) => t.name === 'events') as { partitionBy?: unknown }).partitionBy;
    const warn = diffSchemas(a, { ...plainEvents, partitions: a.partitions!.filter((p) => p.parent !== 'events') });
    expect(warn.find((c) => c.warning)?.warning).toMatch(
      /events: its partitioning changes from PARTITION BY RANGE \(at\) to not partitioned/,
    );
  });
});

describeEachBackend('partitions', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  migrateSuite(t, {}, (h, s) => {
    handle = h;
    shadow = s;
  });

  it('round trip: DSL -> new -> up -> introspect (partitions not repeated as tables); add/detach/move up and exactly back down', async () => {
    const dir = newDir();
    await generateMigration({ shadow, schema: v1(), dir, name: 'init' });
    const migrator = new Migrator(handle.db, { dir });
    expect((await migrator.up()).ok).toBe(true);
    const live1 = await introspect(handle.db);
    // Partitions are not tables: no duplicate columns, keys or indexes.
    expect(live1.tables.map((x) => x.name)).toEqual(['accounts', 'events', 'shards']);
    expect(live1.tables.find((x) => x.name === 'events')).toMatchObject({
      partitionBy: { strategy: 'range', key: 'at' },
      primaryKey: { name: 'events_pkey', columns: ['id', 'at'] },
      indexes: [{ name: 'events_kind_idx' }],
    });
    expect(live1.partitions).toEqual([
      { name: 'accounts_eu', parent: 'accounts', bound: "FOR VALUES IN ('de', 'fr')" },
      {
        name: 'accounts_us',
        parent: 'accounts',
        bound: "FOR VALUES IN ('us')",
        partitionBy: { strategy: 'hash', key: 'id' },
      },
      {
        name: 'events_2026_01',
        parent: 'events',
        bound: "FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')",
      },
      {
        name: 'events_2026_02',
        parent: 'events',
        bound: "FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00')",
      },
      { name: 'events_old', parent: 'events', bound: "FOR VALUES FROM (MINVALUE) TO ('2026-01-01 00:00:00+00')" },
      { name: 'events_rest', parent: 'events', bound: 'DEFAULT' },
      { name: 'shards_0', parent: 'shards', bound: 'FOR VALUES WITH (modulus 2, remainder 0)' },
      { name: 'shards_1', parent: 'shards', bound: 'FOR VALUES WITH (modulus 2, remainder 1)' },
    ]);
    const pending = await pendingChanges(shadow, v1(), dir);
    expect(pending.changes).toEqual([]);
    expect(live1).toEqual(pending.target);

    // Rows land in their partitions; the parent's index exists on each partition.
    await sql`insert into events (id, at, kind) values (1, '2026-01-15Z', 'a'), (2, '2025-06-01Z', 'b'), (3, '2027-01-01Z', 'c')`.execute(
      handle.db,
    );
    await sql`insert into accounts (id, region) values (1, 'de')`.execute(handle.db);
    const { rows } = await sql<{ id: string; part: string }>`
      select id::text, tableoid::regclass::text as part from events order by id`.execute(handle.db);
    expect(rows).toEqual([
      { id: '1', part: 'events_2026_01' },
      { id: '2', part: 'events_old' },
      { id: '3', part: 'events_rest' },
    ]);
    const { rows: idx } = await sql<{ n: number }>`
      select count(*)::int as n from pg_index i join pg_class c on c.oid = i.indrelid
       where c.relname like 'events_%' and c.relispartition`.execute(handle.db);
    expect(idx[0]!.n).toBe(8); // pkey + events_kind_idx on each of the four partitions

    await generateMigration({ shadow, schema: v2(), dir, name: 'change', now: new Date(Date.now() + 10_000) });
    expect((await migrator.up()).ok).toBe(true);
    const live2 = await introspect(handle.db);
    expect(live2.partitions!.map((p) => p.name)).toEqual([
      'accounts_eu',
      'accounts_us',
      'events_2026_02',
      'events_2026_03',
      'events_old',
      'events_rest',
      'shards_0',
    ]);
    expect(live2.partitions!.find((p) => p.name === 'accounts_eu')!.bound).toBe("FOR VALUES IN ('de', 'fr', 'it')");
    expect((await pendingChanges(shadow, v2(), dir)).changes).toEqual([]);
    // The moved partition kept its rows.
    const { rows: eu } = await sql<{ id: number }>`select id from accounts_eu`.execute(handle.db);
    expect(eu).toEqual([{ id: 1 }]);

    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live1);

    expect((await migrator.down({ all: true })).ok).toBe(true);
    const empty = await introspect(handle.db);
    expect(empty.partitions).toBeUndefined();
    expect(empty.tables).toEqual([]);
  });

  it('on an existing partitioned table: a unique constraint added directly, an index ON ONLY the parent with each partition copy built concurrently and attached', async () => {
    const dir = newDir();
    const base = (withIndex: boolean) => {
      const logs = table('logs', { id: bigint().notNull(), at: timestamptz().notNull(), msg: text() }, (c) =>
        withIndex ? [index('logs_msg_idx').on(c.msg), unique('logs_id_at_key').on(c.id, c.at)] : [],
      ).partitionBy('range', 'at');
      const old = partition('logs_old', logs, { from: MINVALUE, to: '2026-01-01 00:00:00+00' }).partitionBy(
        'hash',
        'id',
      );
      return defineSchema({
        logs,
        logsNew: partition('logs_new', logs, { from: '2026-01-01 00:00:00+00', to: MAXVALUE }),
        old,
        old0: partition('logs_old_0', old, { modulus: 2, remainder: 0 }),
        old1: partition('logs_old_1', old, { modulus: 2, remainder: 1 }),
      });
    };
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: base(false), dir, name: 'one' });
    expect((await migrator.up()).ok).toBe(true);
    const withoutIndex = await introspect(handle.db);
    const gen = await generateMigration({
      shadow,
      schema: base(true),
      dir,
      name: 'two',
      now: new Date(Date.now() + 10_000),
    });
    // The unique constraint directly (Postgres has no USING INDEX for partitioned tables); the
    // index ON ONLY the parent (and the sub-partitioned partition), each leaf's copy
    // concurrently, then attached, deepest first.
    expect(gen.changes.map((c) => [c.phase, ...c.up])).toEqual([
      ['main', 'ALTER TABLE logs ADD CONSTRAINT logs_id_at_key UNIQUE (id, at)'],
      ['main', 'CREATE INDEX logs_msg_idx ON ONLY logs (msg)'],
      ['concurrent', 'CREATE INDEX CONCURRENTLY logs_new_msg_idx ON logs_new (msg)'],
      ['main', 'CREATE INDEX logs_old_msg_idx ON ONLY logs_old (msg)'],
      ['concurrent', 'CREATE INDEX CONCURRENTLY logs_old_0_msg_idx ON logs_old_0 (msg)'],
      ['concurrent', 'CREATE INDEX CONCURRENTLY logs_old_1_msg_idx ON logs_old_1 (msg)'],
      [
        'attach',
        'ALTER INDEX logs_msg_idx ATTACH PARTITION logs_new_msg_idx',
        'ALTER INDEX logs_old_msg_idx ATTACH PARTITION logs_old_0_msg_idx',
        'ALTER INDEX logs_old_msg_idx ATTACH PARTITION logs_old_1_msg_idx',
        'ALTER INDEX logs_msg_idx ATTACH PARTITION logs_old_msg_idx',
      ],
    ]);
    expect(gen.lint.filter((f) => f.severity === 'error')).toEqual([]);
    expect((await migrator.up()).ok).toBe(true);
    expect((await introspect(handle.db)).tables[0]!.indexes.map((i) => i.name)).toEqual(['logs_msg_idx']);
    const { rows: valid } = await sql<{ indisvalid: boolean }>`
      select indisvalid from pg_index where indexrelid = 'logs_msg_idx'::regclass`.execute(handle.db);
    expect(valid).toEqual([{ indisvalid: true }]);
    expect((await pendingChanges(shadow, base(true), dir)).changes).toEqual([]);
    // Down: the attach step's undo drops the parent's index with every attached copy.
    const withIndex = await introspect(handle.db);
    expect((await migrator.down({ steps: gen.written.length })).ok).toBe(true);
    const { rows: left } = await sql<{ n: number }>`
      select count(*)::int as n from pg_class where relname like 'logs%msg_idx'`.execute(handle.db);
    expect(left).toEqual([{ n: 0 }]);
    expect(await introspect(handle.db)).toEqual(withoutIndex);
    expect((await migrator.up()).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(withIndex);
    expect((await migrator.down({ all: true })).ok).toBe(true);
    expect((await introspect(handle.db)).tables).toEqual([]);
  });

  it('a foreign key added to an existing partitioned table: NOT VALID and validated on each leaf, then adopted by the partitioned levels', async () => {
    const dir = newDir();
    const mk = (withFk: boolean) => {
      const owners = table('owners', { id: integer().primaryKey() });
      const items = table('items', { id: bigint().notNull(), owner_id: integer(), at: date().notNull() }, (c) =>
        withFk ? [foreignKey({ columns: [c.owner_id], references: () => [owners.columns.id] })] : [],
      ).partitionBy('range', 'at');
      const y = partition('items_y', items, { from: '2020-01-01', to: '2030-01-01' }).partitionBy('hash', 'id');
      return defineSchema({
        owners,
        items,
        y,
        y0: partition('items_y0', y, { modulus: 2, remainder: 0 }),
        y1: partition('items_y1', y, { modulus: 2, remainder: 1 }),
        rest: partition('items_rest', items, 'default'),
      });
    };
    const migrator = new Migrator(handle.db, { dir });
    await generateMigration({ shadow, schema: mk(false), dir, name: 'one' });
    expect((await migrator.up()).ok).toBe(true);
    await sql`insert into owners values (1), (2)`.execute(handle.db);
    await sql`insert into items values (1, 1, '2021-01-01'), (2, 2, '2022-01-01'), (3, null, '2040-01-01')`.execute(
      handle.db,
    );
    const before = await introspect(handle.db);
    const gen = await generateMigration({
      shadow,
      schema: mk(true),
      dir,
      name: 'two',
      now: new Date(Date.now() + 10_000),
    });
    const add = (t: string) =>
      `ALTER TABLE ${t} ADD CONSTRAINT items_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES owners (id)`;
    const validate = (t: string) => `ALTER TABLE ${t} VALIDATE CONSTRAINT items_owner_id_fkey`;
    expect(gen.changes.map((c) => [c.phase, ...c.up])).toEqual([
      ['main', `${add('items_rest')} NOT VALID`],
      ['main', `${add('items_y0')} NOT VALID`],
      ['main', `${add('items_y1')} NOT VALID`],
      ['validate', validate('items_rest')],
      ['validate', validate('items_y0')],
      ['validate', validate('items_y1')],
      ['attach', add('items_y'), add('items')],
    ]);
    expect(gen.lint.filter((f) => f.severity === 'error')).toEqual([]);
    expect((await migrator.up()).ok).toBe(true);
    const after = await introspect(handle.db);
    expect(after.tables.find((x) => x.name === 'items')!.foreignKeys.map((f) => f.name)).toEqual([
      'items_owner_id_fkey',
    ]);
    expect((await pendingChanges(shadow, mk(true), dir)).changes).toEqual([]);
    // One validated constraint per table, the partitions' adopted by their parents.
    const { rows } = await sql<{ rel: string; valid: boolean; inherited: boolean }>`
      select conrelid::regclass::text as rel, convalidated as valid, conparentid <> 0 as inherited
        from pg_constraint where conname = 'items_owner_id_fkey' order by 1`.execute(handle.db);
    expect(rows).toEqual([
      { rel: 'items', valid: true, inherited: false },
      { rel: 'items_rest', valid: true, inherited: true },
      { rel: 'items_y', valid: true, inherited: true },
      { rel: 'items_y0', valid: true, inherited: true },
      { rel: 'items_y1', valid: true, inherited: true },
    ]);
    await expect(sql`insert into items values (4, 99, '2023-01-01')`.execute(handle.db)).rejects.toThrow(/foreign key/);
    expect((await migrator.down({ steps: gen.written.length })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(before);
    const { rows: none } = await sql`select 1 from pg_constraint where conname = 'items_owner_id_fkey'`.execute(
      handle.db,
    );
    expect(none).toEqual([]);
    expect((await migrator.down({ all: true })).ok).toBe(true);
  });

  it('pull writes partitionBy() and partition() back, which normalise to the same IR', async () => {
    await sql
      .raw(`
        CREATE TABLE measurements (city text NOT NULL, day date NOT NULL, v numeric, "Weird" int) PARTITION BY RANGE (day, "Weird");
        CREATE TABLE m_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01', MINVALUE) TO ('2027-01-01', 10);
        CREATE TABLE tags (id int NOT NULL, name text NOT NULL) PARTITION BY LIST (lower(name));
        CREATE TABLE tags_a PARTITION OF tags FOR VALUES IN ('a', 'it''s', NULL) PARTITION BY RANGE (id);
        CREATE TABLE tags_a_low PARTITION OF tags_a FOR VALUES FROM (-5) TO (100);
        CREATE TABLE tags_rest PARTITION OF tags DEFAULT;
        CREATE INDEX tags_name_idx ON tags (name);`)
      .execute(handle.db);
    try {
      const live = await introspect(handle.db);
      expect(live.tables.map((x) => x.name)).toEqual(['measurements', 'tags']);
      expect(live.tables.find((x) => x.name === 'tags')!.partitionBy).toEqual({ strategy: 'list', key: 'lower(name)' });
      const text = renderSchemaModule(live, { importFrom: srcIndex });
      expect(text).toContain('.partitionBy("range", ["day", "Weird"])');
      expect(text).toContain('.partitionBy("list", sql.raw("lower(name)"))');
      expect(text).toContain(
        'partition("m_2026", measurements, { from: ["2026-01-01", MINVALUE], to: ["2027-01-01", 10] })',
      );
      expect(text).toContain(`partition("tags_a", tags, { in: ["a", "it's", null] }).partitionBy("range", "id")`);
      expect(text).toContain('partition("tags_rest", tags, "default")');
      const file = join(newDir(), 'schema.ts');
      writeFileSync(file, text);
      const pulled = defineSchema(await importModule(file, 'pulled schema'));
      expect(await normalise(shadow, pulled.toIR())).toEqual(live);
    } finally {
      await sql.raw('DROP TABLE measurements; DROP TABLE tags').execute(handle.db);
    }
  });
});
