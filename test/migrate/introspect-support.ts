/** Shared by the introspection and shadow tests. */
import { sql } from 'kysely';
import type { DbHandle } from '../../src/db/open.js';
import type { SchemaIR } from '../../src/schema/ir.js';

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** `ir` in introspection's order: enums, tables, uniques, foreign keys, checks and indexes by name. */
export function sortedIR(ir: SchemaIR): SchemaIR {
  const copy = structuredClone(ir);
  copy.enums.sort(byName);
  copy.tables.sort(byName);
  for (const t of copy.tables) {
    t.uniques.sort(byName);
    t.foreignKeys.sort(byName);
    t.checks.sort(byName);
    t.indexes.sort(byName);
  }
  return copy;
}

export async function applyAll(handle: DbHandle, statements: readonly string[]): Promise<void> {
  for (const s of statements) await sql.raw(s).execute(handle.db);
}

/**
 * A schema already spelled the way Postgres reports it (expressions as
 * `pg_get_expr` prints them, on 15 and 18 alike), so `createStatements` then
 * `introspect` must give it back exactly. Covers what the fixture schema does
 * not: comments, quoted names, identity BY DEFAULT, smallserial, generated
 * columns, NULLS FIRST, opclasses, a table without a primary key.
 */
export const canonicalIR: SchemaIR = {
  enums: [{ name: 'Colour', values: ['red', 'green', "it's blue"] }],
  tables: [
    {
      name: 'Widgets',
      columns: [
        col('id', 'smallint', { nullable: false, serial: true }),
        col('Name', 'character varying(40)', { nullable: false, comment: 'Display name' }),
        col('colour', '"Colour"', { default: `'red'::"Colour"` }),
        col('qty', 'integer', { nullable: false, default: '0' }),
        col('double_qty', 'integer', { generated: '(qty * 2)' }),
        col('ref', 'bigint', { nullable: false, identity: 'by default' }),
        col('select', 'text', {}),
        col('labels', 'text[]', { default: `'{}'::text[]` }),
      ],
      primaryKey: { name: 'Widgets_pkey', columns: ['id'] },
      uniques: [{ name: 'widgets_ref_key', columns: ['ref'], nullsNotDistinct: false }],
      foreignKeys: [],
      checks: [{ name: 'widgets_qty_check', expression: '(qty >= 0)' }],
      indexes: [
        {
          name: 'widgets_name_pattern_idx',
          unique: false,
          method: 'btree',
          keys: [
            { column: 'Name', expression: null, order: 'asc', nulls: 'first', opclass: 'varchar_pattern_ops' },
            { column: null, expression: 'lower("Name"::text)', order: 'desc', nulls: 'last', opclass: null },
          ],
          include: ['qty'],
          where: '(qty > 0)',
        },
      ],
      comment: "Things we sell; it's a table",
    },
    {
      name: 'log',
      columns: [
        col('widget_id', 'smallint', {}),
        col('at', 'timestamp with time zone', { nullable: false, default: 'now()' }),
      ],
      primaryKey: null,
      uniques: [],
      foreignKeys: [
        {
          name: 'log_widget_fkey',
          columns: ['widget_id'],
          references: { table: 'Widgets', columns: ['id'] },
          onDelete: 'set default',
          onUpdate: 'restrict',
        },
      ],
      checks: [],
      indexes: [],
      comment: null,
    },
  ],
};

function col(
  name: string,
  type: string,
  patch: Partial<SchemaIR['tables'][number]['columns'][number]>,
): SchemaIR['tables'][number]['columns'][number] {
  return {
    name,
    type,
    nullable: true,
    default: null,
    serial: false,
    identity: null,
    generated: null,
    comment: null,
    ...patch,
  };
}
