/**
 * Sequences (issue 17, second slice): `sequence()` in the DSL, its DDL,
 * introspection (a serial's or identity's sequence is the column's, with its
 * non-default options on the column), diff, down migrations restoring the
 * previous options exactly, and `ferry pull`. On both backends; `migrate new`
 * uses a PGlite shadow as the CLI does.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { importModule } from '../../src/config.js';
import type { DbHandle } from '../../src/db/open.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { generateMigration, pendingChanges } from '../../src/migrate/generate.js';
import { renameHints } from '../../src/migrate/hints.js';
import { introspect } from '../../src/migrate/introspect.js';
import { renderSchemaModule } from '../../src/migrate/pull.js';
import { Migrator } from '../../src/migrate/runner.js';
import { normalise, type Shadow } from '../../src/migrate/shadow.js';
import { bigint, bigserial, integer, serial, text } from '../../src/schema/column.js';
import { createStatements, renderCreateSql } from '../../src/schema/ddl.js';
import type { SchemaIR } from '../../src/schema/ir.js';
import { defineSchema } from '../../src/schema/schema.js';
import { type SequenceOptions, sequence } from '../../src/schema/sequence.js';
import { sql as dsl } from '../../src/schema/sql.js';
import { table } from '../../src/schema/table.js';
import { describeEachBackend } from '../support/backends.js';
import { migrateSuite } from '../support/migrate-suite.js';
import { tempDirs } from '../support/temp-dirs.js';

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;
const newDir = tempDirs('ferry-seq-');

/** orders.no from a standalone sequence orders.batch owns (owned by the column it feeds, it would be that serial's); ids from a serial and an identity with non-default options. */
function schemaWith(orderNo: SequenceOptions, idStart = 100) {
  return defineSchema({
    orderNo: sequence('order_no', { ownedBy: 'orders.batch', ...orderNo }),
    countdown: sequence('countdown', { as: 'smallint', increment: -1, cycle: true }),
    plain: sequence('plain'),
    orders: table('orders', {
      id: integer().generatedByDefaultAsIdentity().sequenceOptions({ start: idStart, increment: 10, cache: 5 }),
      no: bigint().notNull().default(dsl.raw("nextval('order_no'::regclass)")),
      batch: bigint(),
      note: text(),
    }),
    legacy: table('legacy', { id: serial().primaryKey().sequenceOptions({ start: 500 }), name: text() }),
  });
}
const v1 = () => schemaWith({ as: 'integer', start: 1000, increment: 5, cache: 10 });
const v2 = () => schemaWith({ as: 'bigint', start: 7, min: 7, max: 99999, cycle: true }, 3);

describe('sequence() DSL, DDL and diff', () => {
  it('normalises options to null where they are what Postgres picks, and checks them', () => {
    const ir = defineSchema({
      a: sequence('a', { as: 'integer', start: 1, increment: 1, min: 1, max: 2147483647, cache: 1 }),
      b: sequence('b', { increment: -2, start: -1, max: -1 }),
      c: sequence('c', { start: 5n, min: '2', cycle: true }),
    }).toIR();
    expect(ir.sequences).toEqual([
      {
        name: 'a',
        type: 'integer',
        start: null,
        increment: null,
        min: null,
        max: null,
        cache: null,
        cycle: false,
        ownedBy: null,
      },
      {
        name: 'b',
        type: 'bigint',
        start: null,
        increment: '-2',
        min: null,
        max: null,
        cache: null,
        cycle: false,
        ownedBy: null,
      },
      {
        name: 'c',
        type: 'bigint',
        start: '5',
        increment: null,
        min: '2',
        max: null,
        cache: null,
        cycle: true,
        ownedBy: null,
      },
    ]);
    expect(() => sequence('x', { increment: 0 })).toThrow(/increment must not be 0/);
    expect(() => sequence('x', { as: 'smallint', max: 40000 })).toThrow(/do not fit smallint/);
    expect(() => sequence('x', { start: 0 })).toThrow(/outside 1\.\./);
    expect(() => sequence('x', { ownedBy: 'nodot' })).toThrow(/table\.column/);
    expect(() => defineSchema({ s: sequence('s', { ownedBy: 'nope.id' }) }).toIR()).toThrow(/not a column/);
    expect(() => defineSchema({ a: sequence('s'), b: sequence('s', { cache: 3 }) })).toThrow(/declared twice/);
    expect(() => table('t', { n: integer().sequenceOptions({ start: 2 }) }).toIR()).toThrow(/serial or identity/);
    // A schema without sequences keeps the IR it always had.
    expect('sequences' in defineSchema({ t: table('t', { id: serial() }) }).toIR()).toBe(false);
  });

  it('creates sequences before the tables, owns them after, and sets column sequence options', () => {
    const ddl = createStatements(v1().toIR());
    expect(ddl.slice(0, 3)).toEqual([
      'CREATE SEQUENCE countdown AS smallint INCREMENT BY -1 NO MINVALUE NO MAXVALUE START WITH -1 CACHE 1 CYCLE',
      'CREATE SEQUENCE order_no AS integer INCREMENT BY 5 NO MINVALUE NO MAXVALUE START WITH 1000 CACHE 10 NO CYCLE',
      'CREATE SEQUENCE plain AS bigint INCREMENT BY 1 NO MINVALUE NO MAXVALUE START WITH 1 CACHE 1 NO CYCLE',
    ]);
    const own = ddl.indexOf('ALTER SEQUENCE order_no OWNED BY orders.batch');
    expect(own).toBeGreaterThan(ddl.findIndex((s) => s.startsWith('CREATE TABLE orders')));
    expect(ddl).toContain(
      "DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS integer INCREMENT BY 10 NO MINVALUE NO MAXVALUE START WITH 100 CACHE 5 NO CYCLE RESTART', pg_get_serial_sequence('orders', 'id')); END $$",
    );
  });

  it('diffs create, alter (down sets every previous option) and drop after the owning table', () => {
    const a = v1().toIR();
    const b = v2().toIR();
    const alter = diffSchemas(a, b).find((c) => c.description === 'alter sequence order_no')!;
    expect(alter.up).toEqual([
      'ALTER SEQUENCE order_no AS bigint INCREMENT BY 1 MINVALUE 7 MAXVALUE 99999 START WITH 7 CACHE 1 CYCLE',
    ]);
    expect(alter.down).toEqual([
      'ALTER SEQUENCE order_no AS integer INCREMENT BY 5 NO MINVALUE NO MAXVALUE START WITH 1000 CACHE 10 NO CYCLE',
    ]);
    const empty: SchemaIR = { enums: [], tables: [] };
    const drop = diffSchemas(a, empty).map((c) => c.description);
    expect(drop.indexOf('sequence order_no owned by none (was orders.batch)')).toBeLessThan(
      drop.indexOf('drop table orders'),
    );
    expect(drop.indexOf('drop sequence order_no')).toBeGreaterThan(drop.indexOf('drop table orders'));
    const create = diffSchemas(empty, a).map((c) => c.description);
    expect(create.indexOf('create sequence order_no')).toBeLessThan(create.indexOf('create table orders'));
    expect(create.indexOf('sequence order_no owned by orders.batch (was none)')).toBeGreaterThan(
      create.indexOf('create table orders'),
    );
    expect(diffSchemas(a, a)).toEqual([]);
  });

  it('an owner renamed (table and column) keeps its sequence: no ownership change', () => {
    const before = defineSchema({ s: sequence('s', { ownedBy: 'a.x' }), a: table('a', { x: bigint() }) }).toIR();
    const after = defineSchema({
      s: sequence('s', { ownedBy: 'b.y' }),
      b: table('b', { y: bigint().renamedFrom('x') }).renamedFrom('a'),
    });
    const changes = diffSchemas(before, after.toIR(), renameHints(after));
    expect(changes.map((c) => c.description)).toEqual(['rename table a to b', 'rename column b.x to y']);
  });
});

/** `live` as `ferry pull` writes it, loaded back as a schema. */
async function loadPulled(live: SchemaIR) {
  const file = join(newDir(), 'schema.ts');
  writeFileSync(file, renderSchemaModule(live, { importFrom: srcIndex }));
  return defineSchema(await importModule(file, 'pulled schema'));
}

describeEachBackend('sequences', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  migrateSuite(t, {}, (h, s) => {
    handle = h;
    shadow = s;
  });

  it('round trip: DSL -> new -> up -> introspect; an option change goes up and comes back down exactly', async () => {
    const dir = newDir();
    await generateMigration({ shadow, schema: v1(), dir, name: 'init' });
    const migrator = new Migrator(handle.db, { dir });
    expect((await migrator.up()).ok).toBe(true);
    const live1 = await introspect(handle.db);
    expect(live1.sequences).toEqual(v1().toIR().sequences);
    // Serial and identity sequences are the columns', with their options there.
    const orders = live1.tables.find((x) => x.name === 'orders')!;
    expect(orders.columns[0]).toMatchObject({
      identity: 'by default',
      sequence: { start: '100', increment: '10', min: null, max: null, cache: '5', cycle: false },
    });
    const legacy = live1.tables.find((x) => x.name === 'legacy')!;
    expect(legacy.columns[0]).toMatchObject({ serial: true, sequence: { start: '500', increment: null } });
    const pending = await pendingChanges(shadow, v1(), dir);
    expect(pending.changes).toEqual([]);
    expect(live1).toEqual(pending.target);

    // The sequences work as declared.
    await sql`insert into orders (note) values ('a'), ('b')`.execute(handle.db);
    await sql`insert into legacy (name) values ('x')`.execute(handle.db);
    const { rows } = await sql<{ id: number; no: string }>`select id, no::text from orders order by id`.execute(
      handle.db,
    );
    expect(rows).toEqual([
      { id: 100, no: '1000' },
      { id: 110, no: '1005' },
    ]);
    const { rows: lg } = await sql<{ id: number }>`select id from legacy`.execute(handle.db);
    expect(lg).toEqual([{ id: 500 }]);

    await generateMigration({ shadow, schema: v2(), dir, name: 'change', now: new Date(Date.now() + 10_000) });
    expect((await migrator.up()).ok).toBe(true);
    const live2 = await introspect(handle.db);
    expect(live2.sequences?.find((s) => s.name === 'order_no')).toEqual({
      name: 'order_no',
      type: 'bigint',
      // START WITH 7 is the default once MINVALUE is 7.
      start: null,
      increment: null,
      min: '7',
      max: '99999',
      cache: null,
      cycle: true,
      ownedBy: { table: 'orders', column: 'batch' },
    });
    expect(live2.tables.find((x) => x.name === 'orders')!.columns[0]!.sequence?.start).toBe('3');
    expect((await pendingChanges(shadow, v2(), dir)).changes).toEqual([]);

    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live1);

    // Down all the way: the owned sequence goes with its table, the others are dropped.
    expect((await migrator.down({ all: true })).ok).toBe(true);
    const empty = await introspect(handle.db);
    expect(empty.sequences).toBeUndefined();
    expect(empty.tables).toEqual([]);
  });

  it('ownership moves and is given up, both ways', async () => {
    const dir = newDir();
    const mk = (ownedBy?: string) =>
      defineSchema({
        s: sequence('moving', ownedBy ? { ownedBy } : {}),
        a: table('a', { x: bigint() }),
        b: table('b', { y: bigint() }),
      });
    const migrator = new Migrator(handle.db, { dir });
    const owner = async () => (await introspect(handle.db)).sequences?.[0]?.ownedBy;
    await generateMigration({ shadow, schema: mk('a.x'), dir, name: 'one' });
    expect((await migrator.up()).ok).toBe(true);
    expect(await owner()).toEqual({ table: 'a', column: 'x' });
    await generateMigration({ shadow, schema: mk('b.y'), dir, name: 'two', now: new Date(Date.now() + 10_000) });
    expect((await migrator.up()).ok).toBe(true);
    expect(await owner()).toEqual({ table: 'b', column: 'y' });
    await generateMigration({ shadow, schema: mk(), dir, name: 'three', now: new Date(Date.now() + 20_000) });
    expect((await migrator.up()).ok).toBe(true);
    expect(await owner()).toBeNull();
    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await owner()).toEqual({ table: 'b', column: 'y' });
    expect((await migrator.down({ all: true })).ok).toBe(true);
    expect((await introspect(handle.db)).sequences).toBeUndefined();
  });

  it('a dump-style sequence (AS integer … OWNED BY, nextval default) is the serial column it is; others are pulled as sequence()', async () => {
    await sql
      .raw(`
        CREATE TABLE users (id integer NOT NULL, n bigint);
        CREATE SEQUENCE users_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
        ALTER SEQUENCE users_id_seq OWNED BY users.id;
        ALTER TABLE ONLY users ALTER COLUMN id SET DEFAULT nextval('users_id_seq'::regclass);
        CREATE SEQUENCE big_seq START WITH 42 INCREMENT BY 3 MAXVALUE 1000000 CACHE 20;
        ALTER SEQUENCE big_seq OWNED BY users.n;
        CREATE SEQUENCE huge AS bigint MINVALUE -9007199254740999 START WITH 0;`)
      .execute(handle.db);
    try {
      const live = await introspect(handle.db);
      expect(live.sequences?.map((s) => s.name)).toEqual(['big_seq', 'huge']);
      expect(live.tables[0]!.columns[0]).toMatchObject({ name: 'id', serial: true, default: null });
      expect(live.tables[0]!.columns[0]!.sequence).toBeUndefined();
      const text = renderSchemaModule(live, { importFrom: srcIndex });
      expect(text).toContain(
        'export const bigSeqSequence = sequence("big_seq", { start: 42, increment: 3, max: 1000000, cache: 20, ownedBy: "users.n" });',
      );
      expect(text).toContain('export const hugeSequence = sequence("huge", { start: 0, min: "-9007199254740999" });');
      const file = join(newDir(), 'schema.ts');
      writeFileSync(file, text);
      const pulled = defineSchema(await importModule(file, 'pulled schema'));
      expect(await normalise(shadow, pulled.toIR())).toEqual(live);
    } finally {
      await sql.raw('DROP TABLE users; DROP SEQUENCE huge').execute(handle.db);
    }
  });

  it("a serial-looking column whose sequence other tables' defaults call too is a default and a sequence(), and round-trips", async () => {
    // A partitioned log by hand: the parent's id sequence (not named <table>_id_seq) feeds its template too.
    await sql
      .raw(`
        CREATE TABLE logs (id bigint NOT NULL, body text);
        CREATE SEQUENCE logs_range_id_seq START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
        ALTER SEQUENCE logs_range_id_seq OWNED BY logs.id;
        ALTER TABLE ONLY logs ALTER COLUMN id SET DEFAULT nextval('logs_range_id_seq'::regclass);
        CREATE TABLE logs_template (id bigint DEFAULT nextval('logs_range_id_seq'::regclass) NOT NULL, body text);`)
      .execute(handle.db);
    try {
      const live = await introspect(handle.db);
      expect(live.sequences).toEqual([
        expect.objectContaining({ name: 'logs_range_id_seq', ownedBy: { table: 'logs', column: 'id' } }),
      ]);
      for (const t of live.tables) {
        expect(t.columns[0], t.name).toMatchObject({
          name: 'id',
          serial: false,
          default: "nextval('logs_range_id_seq'::regclass)",
        });
      }
      // Pulled and created from nothing, the template's default finds its sequence.
      expect(await normalise(shadow, (await loadPulled(live)).toIR())).toEqual(live);
    } finally {
      await sql.raw('DROP TABLE logs_template; DROP TABLE logs').execute(handle.db);
    }
  });

  it('a serial whose sequence is AS integer on a bigint column (an id widened later) keeps that type', async () => {
    await sql
      .raw(`
        CREATE TABLE widened (id bigint NOT NULL);
        CREATE SEQUENCE widened_id_seq AS integer START WITH 1 INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE 1;
        ALTER SEQUENCE widened_id_seq OWNED BY widened.id;
        ALTER TABLE ONLY widened ALTER COLUMN id SET DEFAULT nextval('widened_id_seq'::regclass);`)
      .execute(handle.db);
    try {
      const live = await introspect(handle.db);
      expect(live.sequences).toBeUndefined();
      expect(live.tables[0]!.columns[0]).toMatchObject({
        serial: true,
        type: 'bigint',
        sequence: { type: 'integer', start: null, increment: null, cache: null, cycle: false },
      });
      const text = renderSchemaModule(live, { importFrom: srcIndex });
      expect(text).toContain('bigserial().sequenceOptions({ as: "integer" })');
      const file = join(newDir(), 'schema.ts');
      writeFileSync(file, text);
      const pulled = defineSchema(await importModule(file, 'pulled schema'));
      expect(await normalise(shadow, pulled.toIR())).toEqual(live);
      // Changing it back to the column's type is an option change, undone exactly.
      const next = defineSchema({ widened: table('widened', { id: bigserial() }) }).toIR();
      const changes = diffSchemas(live, next);
      expect(changes.map((c) => c.description)).toEqual(['change sequence options of widened.id']);
      for (const st of changes[0]!.up) await sql.raw(st).execute(handle.db);
      expect(await introspect(handle.db)).toEqual(await normalise(shadow, next));
      for (const st of changes[0]!.down) await sql.raw(st).execute(handle.db);
      expect(await introspect(handle.db)).toEqual(live);
    } finally {
      await sql.raw('DROP TABLE widened').execute(handle.db);
    }
  });

  it('a serial widened to bigint takes its sequence along (a bigserial, not one stuck at 2^31 - 1), and back down', async () => {
    const before = defineSchema({ grown: table('grown', { id: serial().primaryKey() }) }).toIR();
    const after = defineSchema({ grown: table('grown', { id: bigserial().primaryKey() }) }).toIR();
    const from = await normalise(shadow, before);
    const to = await normalise(shadow, after);
    const changes = diffSchemas(from, to);
    expect(changes.map((c) => c.description)).toEqual([
      'change type of grown.id from integer to bigint',
      'change the sequence type of grown.id to bigint',
    ]);
    await sql.raw(renderCreateSql(before)).execute(handle.db);
    try {
      for (const c of changes) for (const st of c.up) await sql.raw(st).execute(handle.db);
      expect(await introspect(handle.db)).toEqual(to);
      for (const c of [...changes].reverse()) for (const st of c.down) await sql.raw(st).execute(handle.db);
      expect(await introspect(handle.db)).toEqual(from);
    } finally {
      await sql.raw('DROP TABLE grown').execute(handle.db);
    }
  });

  it('ferry pull writes sequenceOptions() for serial and identity columns with non-default options', async () => {
    for (const s of createStatements(v1().toIR())) await sql.raw(s).execute(handle.db);
    try {
      const live = await introspect(handle.db);
      const text = renderSchemaModule(live, { importFrom: srcIndex });
      expect(text).toContain('.sequenceOptions({ start: 100, increment: 10, cache: 5 })');
      expect(text).toContain('.sequenceOptions({ start: 500 })');
      const file = join(newDir(), 'schema.ts');
      writeFileSync(file, text);
      const pulled = defineSchema(await importModule(file, 'pulled schema'));
      expect(await normalise(shadow, pulled.toIR())).toEqual(live);
    } finally {
      await sql
        .raw('DROP TABLE orders; DROP TABLE legacy; DROP SEQUENCE countdown; DROP SEQUENCE plain')
        .execute(handle.db);
    }
  });
});
