import { CamelCasePlugin, Kysely, sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import { openDatabase } from '../../src/db/open.js';
import { introspect, isFerryTable } from '../../src/migrate/introspect.js';
import { createStatements } from '../../src/schema/ddl.js';
import type { IndexIR, SchemaIR, TableIR } from '../../src/schema/ir.js';
import { defineSchema } from '../../src/schema/schema.js';
import * as fixtures from '../schema/fixtures.js';
import { describeEachBackend, type ProvisionedDatabase, provisionDatabase } from '../support/backends.js';
import { applyAll, canonicalIR, sortedIR } from './introspect-support.js';

const dslIR = defineSchema(fixtures).toIR();
/** The DSL's IR in introspection's order. */
const dsl = sortedIR(dslIR);

/** The parts of a table that must match the DSL exactly (expressions aside). */
function exactParts(t: TableIR) {
  return {
    name: t.name,
    columns: t.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable,
      serial: c.serial,
      identity: c.identity,
      comment: c.comment,
    })),
    primaryKey: t.primaryKey,
    uniques: t.uniques,
    foreignKeys: t.foreignKeys,
    checks: t.checks.map((c) => c.name),
    indexes: t.indexes.map((ix: IndexIR) => ({
      name: ix.name,
      unique: ix.unique,
      method: ix.method,
      keys: ix.keys.map((k) => (k.column !== null ? k : { ...k, expression: 'an expression' })),
      include: ix.include,
    })),
    comment: t.comment,
  };
}

/** Whether each expression the DSL set is there, and each it left out is absent. */
function expressionPresence(ir: SchemaIR) {
  return ir.tables.map((t) => ({
    table: t.name,
    defaults: t.columns.map((c) => [c.name, c.default !== null, c.generated !== null]),
    checks: t.checks.map((c) => [c.name, c.expression !== '']),
    indexes: t.indexes.map((ix) => [ix.name, ix.where !== null, ix.keys.map((k) => k.expression !== null)]),
  }));
}

describeEachBackend('introspect', (t) => {
  let live: DbHandle;
  let first: SchemaIR;
  const extraHandles: DbHandle[] = [];
  const extraDatabases: ProvisionedDatabase[] = [];

  beforeAll(async () => {
    live = await t.open();
    await applyAll(live, createStatements(dslIR));
    // Ferry's own tables, which introspection leaves out.
    await applyAll(live, [
      'CREATE TABLE ferry_migrations (id integer PRIMARY KEY, name text NOT NULL)',
      'CREATE INDEX ferry_migrations_name_idx ON ferry_migrations (name)',
      'CREATE TABLE ferry_lock (held boolean)',
    ]);
    first = await introspect(live.db);
  });

  afterAll(async () => {
    for (const handle of extraHandles) await handle.close();
    for (const db of extraDatabases) await db.cleanup();
  });

  async function freshDatabase(): Promise<DbHandle> {
    const provisioned = await provisionDatabase(t.backend);
    extraDatabases.push(provisioned);
    const handle = await openDatabase({ url: provisioned.url });
    extraHandles.push(handle);
    return handle;
  }

  it('reports the fixture schema with the names, types and flags the DSL gave it', () => {
    expect(first.enums).toEqual(dsl.enums);
    expect(first.tables.map((x) => x.name)).toEqual(dsl.tables.map((x) => x.name));
    expect(first.tables.map(exactParts)).toEqual(dsl.tables.map(exactParts));
    expect(expressionPresence(first)).toEqual(expressionPresence(dsl));
  });

  it('spells expressions the way the server deparses them', () => {
    const accounts = first.tables.find((x) => x.name === 'accounts')!;
    const column = (name: string) => accounts.columns.find((c) => c.name === name)!;
    expect(column('tier').default).toBe(`'free'::subscription_tier`);
    expect(column('tags').default).toBe(`'{}'::text[]`);
    expect(column('created_at').default).toBe('now()');
    expect(accounts.checks).toEqual([
      { name: 'accounts_balance_positive', expression: '(balance >= (0)::numeric)' },
      { name: 'accounts_small_check', expression: '(small >= 0)' },
    ]);
    const index = (name: string) => accounts.indexes.find((ix) => ix.name === name)!;
    expect(index('accounts_lower_handle_idx').keys[0]!.expression).toBe('lower(handle)');
    expect(index('accounts_handle_live_key').where).toBe('active');
  });

  it('leaves out ferry_* tables unless told otherwise', async () => {
    expect(first.tables.some((x) => x.name.startsWith('ferry_'))).toBe(false);
    expect(isFerryTable('ferry_migrations')).toBe(true);
    const all = await introspect(live.db, { exclude: () => false });
    const migrations = all.tables.find((x) => x.name === 'ferry_migrations');
    expect(migrations?.primaryKey).toEqual({ name: 'ferry_migrations_pkey', columns: ['id'] });
    expect(migrations?.indexes.map((ix) => ix.name)).toEqual(['ferry_migrations_name_idx']);
    expect(all.tables.map((x) => x.name)).toContain('ferry_lock');
    const some = await introspect(live.db, { exclude: (name) => name === 'events' || isFerryTable(name) });
    expect(some.tables.map((x) => x.name)).toEqual(['accounts', 'grants', 'memberships', 'tag_links', 'tags']);
  });

  it('is a fixpoint: recreating what it reported reports the same again', async () => {
    const second = await freshDatabase();
    await applyAll(second, createStatements(first));
    expect(await introspect(second.db)).toEqual(first);
  });

  it('gives back a schema already in canonical spelling exactly', async () => {
    const db = await freshDatabase();
    await applyAll(db, createStatements(canonicalIR));
    expect(await introspect(db.db)).toEqual(canonicalIR);
  });

  it('runs in an open transaction without starting its own, and ignores plugins', async () => {
    const ir = await live.db.transaction().execute((trx) => introspect(trx));
    expect(ir).toEqual(first);
    const camel = new Kysely<any>({ dialect: live.dialect, plugins: [new CamelCasePlugin()] });
    expect(await introspect(camel)).toEqual(first);
  });

  it('uses the same handful of queries for 3 tables as for 30', async () => {
    const counts: number[] = [];
    for (const n of [3, 30]) {
      const schema = `many_${n}`;
      await applyAll(live, [`CREATE SCHEMA ${schema}`, `CREATE TYPE ${schema}.state AS ENUM ('on', 'off')`]);
      for (let i = 0; i < n; i++) {
        await applyAll(live, [
          `CREATE TABLE ${schema}.t${i} (id serial PRIMARY KEY, parent integer, state ${schema}.state,
             code text UNIQUE, CONSTRAINT t${i}_code_check CHECK (code <> ''))`,
          `CREATE INDEX t${i}_state_idx ON ${schema}.t${i} (state) WHERE parent IS NOT NULL`,
          `COMMENT ON TABLE ${schema}.t${i} IS 'table ${i}'`,
          ...(i > 0
            ? [`ALTER TABLE ${schema}.t${i} ADD FOREIGN KEY (parent) REFERENCES ${schema}.t${i - 1} (id)`]
            : []),
        ]);
      }
      let queries = 0;
      const counting = new Kysely<any>({
        dialect: live.dialect,
        log: (event) => {
          // The snapshot's START TRANSACTION/COMMIT and the JIT switch are logged too; count the catalog reads.
          const bookkeeping = /^(start transaction|begin|commit)\b|^select (current_setting|set_config)\('jit'/i;
          if (event.level === 'query' && !bookkeeping.test(event.query.sql)) queries++;
        },
      });
      const ir = await introspect(counting, { schema });
      counts.push(queries);
      expect(ir.tables).toHaveLength(n);
      expect(ir.enums).toEqual([{ name: 'state', values: ['on', 'off'] }]);
      const last = ir.tables.find((x) => x.name === `t${n - 1}`)!;
      expect(last.comment).toBe(`table ${n - 1}`);
      expect(last.foreignKeys).toHaveLength(1);
      expect(last.indexes.map((ix) => ix.name)).toEqual([`t${n - 1}_state_idx`]);
      // Outside the search_path, the server qualifies the enum.
      expect(last.columns.find((c) => c.name === 'state')?.type).toBe(`${schema}.state`);
    }
    // enums+extensions+sequences, columns, constraints, indexes, comments, views, functions+triggers.
    expect(counts[0]).toBe(7);
    expect(counts[1]).toBe(counts[0]);
  });

  it('reports an empty schema as empty', async () => {
    await applyAll(live, ['CREATE SCHEMA nothing_here']);
    expect(await introspect(live.db, { schema: 'nothing_here' })).toEqual({ enums: [], tables: [] });
    expect(await introspect(live.db, { schema: 'no_such_schema' })).toEqual({ enums: [], tables: [] });
  });

  it('reads tables without columns and enums without values', async () => {
    await applyAll(live, [
      'CREATE SCHEMA odd',
      'CREATE TYPE odd.nothing AS ENUM ()',
      'CREATE TABLE odd.bare ()',
      `COMMENT ON TABLE odd.bare IS 'no columns'`,
    ]);
    const ir = await introspect(live.db, { schema: 'odd' });
    expect(ir.enums).toEqual([{ name: 'nothing', values: [] }]);
    expect(ir.tables).toEqual([
      {
        name: 'bare',
        columns: [],
        primaryKey: null,
        uniques: [],
        foreignKeys: [],
        checks: [],
        indexes: [],
        comment: 'no columns',
      },
    ]);
  });

  it('leaves out indexes that back constraints, but not unique indexes of their own', async () => {
    const { rows } = await sql<{ name: string }>`
      select ic.relname::text as name from pg_index i join pg_class ic on ic.oid = i.indexrelid
       join pg_class c on c.oid = i.indrelid where c.relname = 'memberships'`.execute(live.db);
    expect(rows.map((r) => r.name).sort()).toEqual(['memberships_pkey', 'memberships_role_key']);
    const memberships = first.tables.find((x) => x.name === 'memberships')!;
    expect(memberships.indexes).toEqual([]);
    expect(memberships.uniques).toEqual([
      { name: 'memberships_role_key', columns: ['account_id', 'role'], nullsNotDistinct: true },
    ]);
    const accounts = first.tables.find((x) => x.name === 'accounts')!;
    expect(accounts.indexes.find((ix) => ix.name === 'accounts_handle_live_key')?.unique).toBe(true);
  });
});
