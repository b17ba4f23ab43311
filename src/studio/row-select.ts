/**
 * How Studio reads a row, for the grid and for what a write returns: every
 * column as a cell (a sensitive column only as "set or not", so its value
 * never leaves the database; a bytea only as its size), the row's key, and
 * its version: `md5(to_jsonb(r)::text)`, a hash of the whole stored row
 * computed by Postgres, so an update can check it in its own WHERE.
 */
import { type RawBuilder, sql } from 'kysely';
import type { Cell, Row, RowKey } from './api.js';
import type { CatalogTable } from './catalog.js';
import { MASKED, toCell } from './cells.js';
import { col } from './filters.js';
import { badRequest } from './http.js';

export const VERSION = '__ferry_version';
/** `md5` of jsonb's canonical text: the same row hashes the same on both backends, whatever the column order of reads. */
export const versionSql = sql`md5(to_jsonb(r)::text)`;

/** The select list of a row of `table` (aliased `r`). */
export function rowColumns(table: CatalogTable): RawBuilder<unknown>[] {
  const out = table.columns.map((c) => {
    if (c.sensitive) return sql`(${col(c.name)} is not null) as ${sql.id(c.name)}`;
    if (c.kind === 'bytea') return sql`octet_length(${col(c.name)}) as ${sql.id(c.name)}`;
    return sql`${col(c.name)}`;
  });
  out.push(sql`${versionSql} as ${sql.id(VERSION)}`);
  return out;
}

/** A row read with `rowColumns` as the API's Row. */
export function toRow(table: CatalogTable, raw: Record<string, unknown>): Row {
  const cells: Record<string, Cell> = {};
  for (const c of table.columns) {
    const v = raw[c.name];
    if (c.sensitive) cells[c.name] = v === true ? MASKED : null;
    else if (c.kind === 'bytea') cells[c.name] = v === null || v === undefined ? null : { $bytea: Number(v) };
    else cells[c.name] = toCell(v, c.kind);
  }
  let key: RowKey | null = null;
  if (table.primaryKey.length > 0) {
    key = {};
    for (const name of table.primaryKey) {
      const c = table.columns.find((x) => x.name === name)!;
      key[name] = toCell(raw[name], c.kind);
    }
  }
  return { cells, key, version: String(raw[VERSION]) };
}

/**
 * `where` for the row of `key` (exactly the primary key's columns), values
 * cast to each column's type.
 */
export function keyPredicate(table: CatalogTable, key: unknown): RawBuilder<unknown> {
  if (table.primaryKey.length === 0) {
    throw badRequest(`${table.name} has no primary key: its rows cannot be addressed one by one (they are read-only).`);
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) {
    throw badRequest(`The key must be an object of ${table.primaryKey.join(', ')} values.`);
  }
  const k = key as Record<string, unknown>;
  const extra = Object.keys(k).filter((n) => !table.primaryKey.includes(n));
  if (extra.length > 0)
    throw badRequest(
      `The key of ${table.name} is ${table.primaryKey.join(', ')}; ${extra.join(', ')} is not part of it.`,
    );
  return sql.join(
    table.primaryKey.map((name) => {
      const c = table.columns.find((x) => x.name === name)!;
      const v = k[name];
      if (v === undefined || v === null || typeof v === 'object') {
        throw badRequest(`The key of ${table.name} needs a value for ${name}.`);
      }
      return sql`${col(name)} = ${String(v)}::${sql.raw(c.castType)}`;
    }),
    sql` and `,
  );
}

/** `"schema"."table"` of a catalog table. */
export function tableRef(table: CatalogTable): RawBuilder<unknown> {
  const bare =
    table.schema === 'public' && !table.name.includes('.') ? table.name : table.name.slice(table.schema.length + 1);
  return sql`${sql.id(table.schema, bare)}`;
}
