import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import {
  defineSchema,
  index,
  integer,
  primaryKey,
  renderCreateSql,
  serial,
  table,
  text,
} from '../../src/schema/index.js';
import * as fixtures from './fixtures.js';

const schema = defineSchema(fixtures);
const ir = schema.toIR();

describe('schema IR', () => {
  it('is plain JSON: it survives a JSON round trip unchanged', () => {
    expect(JSON.parse(JSON.stringify(ir))).toEqual(ir);
  });

  it('collects exported tables and the enums their columns use', () => {
    expect(ir.tables.map((t) => t.name)).toEqual(['accounts', 'events', 'memberships', 'grants', 'tags', 'tag_links']);
    expect(ir.enums).toEqual([
      { name: 'subscription_tier', values: ['free', 'pro', 'fleet'] },
      { name: 'Mood', values: ['happy', "it's ok"] },
    ]);
  });

  it('uses Postgres canonical type names and default constraint names', () => {
    const accounts = ir.tables[0]!;
    const type = (name: string) => accounts.columns.find((c) => c.name === name)?.type;
    expect(type('email')).toBe('character varying(320)');
    expect(type('code')).toBe('character(3)');
    expect(type('seen')).toBe('timestamp without time zone');
    expect(type('seen_tz')).toBe('timestamp(3) with time zone');
    expect(type('moods')).toBe('"Mood"[]');
    expect(type('balance')).toBe('numeric(12,2)');
    expect(accounts.primaryKey).toEqual({ name: 'accounts_pkey', columns: ['id'] });
    expect(accounts.uniques[0]).toEqual({ name: 'accounts_email_key', columns: ['email'], nullsNotDistinct: false });
    expect(accounts.foreignKeys[0]).toMatchObject({ name: 'accounts_parent_id_fkey', onDelete: 'set null' });
    expect(accounts.checks.map((c) => c.name)).toEqual(['accounts_small_check', 'accounts_balance_positive']);
    expect(accounts.indexes.map((i) => i.name)).toContain('accounts_handle_idx');
    const id = accounts.columns.find((c) => c.name === 'id')!;
    expect(id).toMatchObject({ type: 'integer', serial: true, nullable: false, default: null });
  });

  it('describes composite keys and multi-column foreign keys', () => {
    const memberships = ir.tables[2]!;
    expect(memberships.primaryKey).toEqual({ name: 'memberships_pkey', columns: ['account_id', 'group_code'] });
    expect(memberships.uniques[0]).toEqual({
      name: 'memberships_role_key',
      columns: ['account_id', 'role'],
      nullsNotDistinct: true,
    });
    expect(ir.tables[3]!.foreignKeys[0]).toEqual({
      name: 'grants_membership_fkey',
      columns: ['account_id', 'group_code'],
      references: { table: 'memberships', columns: ['account_id', 'group_code'] },
      onDelete: 'cascade',
      onUpdate: 'no action',
    });
  });
});

describe('renderCreateSql', () => {
  const ddl = renderCreateSql(ir);

  it('orders enums, tables, indexes, then foreign keys', () => {
    const at = (s: string) => ddl.indexOf(s);
    expect(at('CREATE TYPE subscription_tier')).toBeLessThan(at('CREATE TABLE accounts'));
    expect(at('CREATE TABLE grants')).toBeLessThan(at('CREATE INDEX accounts_handle_idx'));
    // Foreign keys last: one may reference columns made unique only by a unique index.
    expect(at('CREATE INDEX accounts_created_brin')).toBeLessThan(at('ADD CONSTRAINT accounts_parent_id_fkey'));
  });

  it('renders every column and index feature', () => {
    expect(ddl).toContain(`CREATE TYPE "Mood" AS ENUM ('happy', 'it''s ok')`);
    expect(ddl).toContain('id serial NOT NULL');
    expect(ddl).toContain('seq integer GENERATED ALWAYS AS IDENTITY');
    expect(ddl).toContain("tier subscription_tier NOT NULL DEFAULT 'free'::subscription_tier");
    expect(ddl).toContain(`prefs jsonb NOT NULL DEFAULT '{"theme":"dark"}'::jsonb`);
    expect(ddl).toContain("tags text[] NOT NULL DEFAULT '{}'::text[]");
    expect(ddl).toContain('token uuid NOT NULL DEFAULT gen_random_uuid()');
    expect(ddl).toContain('"order" integer');
    expect(ddl).toContain('CONSTRAINT memberships_role_key UNIQUE NULLS NOT DISTINCT (account_id, role)');
    expect(ddl).toContain('CREATE INDEX accounts_lower_handle_idx ON accounts ((lower(handle)))');
    expect(ddl).toContain('CREATE INDEX accounts_active_created_idx ON accounts (active, created_at DESC NULLS LAST)');
    expect(ddl).toContain('CREATE INDEX accounts_prefs_gin ON accounts USING gin (prefs)');
    expect(ddl).toContain('CREATE UNIQUE INDEX accounts_handle_live_key ON accounts (handle) WHERE active');
    expect(ddl).toContain('CREATE INDEX accounts_tier_cover_idx ON accounts (tier) INCLUDE (email)');
    expect(ddl).toContain('ON DELETE CASCADE ON UPDATE CASCADE');
    expect(ddl).toContain("CREATE INDEX accounts_handle_fts ON accounts USING gist ((to_tsvector('simple', handle)))");
    expect(ddl).toContain('CREATE INDEX accounts_created_brin ON accounts USING brin (created_at)');
  });
});

describe('schema errors name the problem', () => {
  const expectSchemaError = (fn: () => unknown, message: RegExp) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(FerryError);
      expect((err as FerryError).code).toBe('E_SCHEMA');
      expect((err as Error).message).toMatch(message);
      return;
    }
    throw new Error('expected a schema error');
  };

  it('two primary keys', () => {
    const t = table('t', { a: serial().primaryKey(), b: integer().notNull() }, (c) => [primaryKey(c.a, c.b)]);
    expectSchemaError(() => t.toIR(), /more than one primary key/);
  });

  it('a column of another table in the extras', () => {
    const other = table('other', { x: integer() });
    const t = table('t', { a: integer() }, () => [index().on(other.columns.x)]);
    expectSchemaError(() => t.toIR(), /not a column of t/);
  });

  it('an identifier longer than 63 bytes', () => {
    expectSchemaError(() => table('x'.repeat(64), { a: integer() }), /63/);
  });

  it('a foreign key to a table outside the schema', () => {
    const outside = table('outside', { id: serial().primaryKey() });
    const t = table('t', { o: integer().references(() => outside.columns.id) });
    expectSchemaError(() => defineSchema({ t }).toIR(), /not exported by the schema module/);
  });

  it('two tables with one name', () => {
    expectSchemaError(() => defineSchema([table('t', { a: text() }), table('t', { b: text() })]), /Two tables/);
  });
});
