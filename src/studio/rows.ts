/**
 * GET api/tables/:table/rows (keyset pages), .../row (one by key) and
 * .../children (who references a row, counts capped). Reads run in a
 * transaction with Studio's statement timeout, so a filter that scans a
 * huge table stops instead of holding a connection.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { FerryError } from '../errors.js';
import type { ChildrenResponse, Filter, RowResponse, RowsResponse } from './api.js';
import type { CatalogTable } from './catalog.js';
import { inlineParams } from './cells.js';
import type { StudioContext } from './context.js';
import { E_STUDIO_NOT_FOUND } from './errors.js';
import { col, columnOf, filterSql, parseFilters, searchSql } from './filters.js';
import { badRequest, jsonParam } from './http.js';
import { after, decodeCursor, encodeCursor, orderBy, reversed, type SortKey } from './keyset.js';
import { keyPredicate, rowColumns, tableRef, toRow } from './row-select.js';
import { studioTable } from './tables.js';

/** `fn` in a transaction whose statements stop after the context's statement timeout. */
export function withTimeout<T>(ctx: StudioContext, fn: (db: Kysely<any>) => Promise<T>): Promise<T> {
  return ctx.handle.db.transaction().execute(async (trx) => {
    await sql`select set_config('statement_timeout', ${String(ctx.statementTimeoutMs)}, true)`.execute(trx);
    return fn(trx);
  });
}

/**
 * The sort keys: the sort column (if any), then what makes the order total,
 * all in the one direction `dir`. So the order with `dir` flipped is this one
 * exactly reversed (ASC puts NULLs last, DESC first), and "Last page" is the
 * flipped order's first page, whatever the sort.
 */
function sortKeys(table: CatalogTable, sort: string | null, dir: 'asc' | 'desc'): SortKey[] {
  const keys: SortKey[] = [];
  if (sort !== null) {
    const c = columnOf(table, sort, 'sort');
    if (c.sensitive)
      throw badRequest(`${c.name} is sensitive: Studio does not sort by it (the order would reveal it).`);
    if (!c.sortable) throw badRequest(`${c.name} (${c.type}) has no order; sort by another column.`);
    keys.push({ expr: col(c.name), cast: c.castType, direction: dir, nullable: c.nullable, label: c.name });
  }
  if (table.primaryKey.length > 0) {
    for (const name of table.primaryKey) {
      if (name === sort) continue;
      const c = table.columns.find((x) => x.name === name)!;
      keys.push({
        expr: col(name),
        cast: c.castType,
        direction: dir,
        nullable: false,
        label: name,
      });
    }
  } else if (table.kind === 'table' || table.kind === 'materialized-view') {
    keys.push({ expr: sql`r.ctid`, cast: 'tid', direction: dir, nullable: false, label: 'ctid' });
  } else if (table.kind === 'partitioned') {
    // A partitioned table's ctids repeat across partitions: the partition first.
    keys.push({ expr: sql`r.tableoid`, cast: 'oid', direction: dir, nullable: false, label: 'tableoid' });
    keys.push({ expr: sql`r.ctid`, cast: 'tid', direction: dir, nullable: false, label: 'ctid' });
  } else {
    // A view has neither: every column, as text (rows equal in every column are interchangeable).
    for (const c of table.columns) {
      if (c.name === sort) continue;
      keys.push({ expr: sql`${col(c.name)}::text`, cast: 'text', direction: dir, nullable: true, label: c.name });
    }
  }
  return keys;
}

export async function listRows(ctx: StudioContext, name: string, params: URLSearchParams): Promise<RowsResponse> {
  const table = await studioTable(ctx, name);
  const limitText = params.get('limit');
  const limit = limitText === null ? 50 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500)
    throw badRequest(`limit must be a whole number from 1 to 500 (got ${limitText}).`);
  const dirText = params.get('dir') ?? 'asc';
  if (dirText !== 'asc' && dirText !== 'desc') throw badRequest(`dir must be asc or desc (got ${dirText}).`);
  const keys = sortKeys(table, params.get('sort') || null, dirText);
  const afterCursor = params.get('after');
  const beforeCursor = params.get('before');
  if (afterCursor && beforeCursor) throw badRequest('Give after or before, not both.');
  const filters: Filter[] = parseFilters(jsonParam(params, 'filter'));
  const q = params.get('q')?.trim() ?? '';
  const where: RawBuilder<unknown>[] = filters.map((f) => filterSql(table, f));
  if (q !== '') where.push(searchSql(table, q));
  const backwards = !!beforeCursor;
  const readKeys = backwards ? reversed(keys) : keys;
  const cursor = afterCursor || beforeCursor;
  if (cursor) where.push(after(readKeys, decodeCursor(table.name, keys, cursor)));
  const keyTexts = keys.map((k, i) => sql`(${k.expr})::text as ${sql.id(`__ferry_k${i}`)}`);
  const query = sql<
    Record<string, unknown>
  >`select ${sql.join([...rowColumns(table), ...keyTexts])} from ${tableRef(table)} as r${
    where.length > 0 ? sql` where ${sql.join(where, sql` and `)}` : sql``
  } order by ${orderBy(readKeys)} limit ${sql.lit(limit + 1)}`;
  const compiled = query.compile(ctx.handle.db);
  const { rows } = await withTimeout(ctx, (db) => query.execute(db));
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  if (backwards) page.reverse();
  const cursorOf = (r: Record<string, unknown> | undefined) =>
    r
      ? encodeCursor(
          table.name,
          keys,
          keys.map((_, i) => (r[`__ferry_k${i}`] as string | null) ?? null),
        )
      : null;
  // Forwards: more rows → a next page; a cursor given → rows before it. Backwards: the mirror.
  const next = backwards ? cursorOf(page.at(-1)) : more ? cursorOf(page.at(-1)) : null;
  const prev = backwards ? (more ? cursorOf(page[0]) : null) : cursor ? cursorOf(page[0]) : null;
  return {
    columns: table.columns.map((c) => c.name),
    rows: page.map((r) => toRow(table, r)),
    next,
    prev,
    estimatedTotal: filters.length === 0 && q === '' ? table.estimatedRows : null,
    sql: inlineParams(compiled.sql, compiled.parameters),
  };
}

export async function readRow(ctx: StudioContext, name: string, params: URLSearchParams): Promise<RowResponse> {
  const table = await studioTable(ctx, name);
  const key = jsonParam(params, 'key');
  const { rows } = await withTimeout(ctx, (db) =>
    sql<
      Record<string, unknown>
    >`select ${sql.join(rowColumns(table))} from ${tableRef(table)} as r where ${keyPredicate(table, key)}`.execute(db),
  );
  if (!rows[0])
    throw new FerryError(E_STUDIO_NOT_FOUND, `${table.name} has no row with key ${JSON.stringify(key)} (deleted?).`);
  return { row: toRow(table, rows[0]) };
}

/** Children are counted up to this many per foreign key: a count never scans a big table. */
const CHILD_CAP = 1000;

export async function listChildren(
  ctx: StudioContext,
  name: string,
  params: URLSearchParams,
): Promise<ChildrenResponse> {
  const table = await studioTable(ctx, name);
  const key = jsonParam(params, 'key');
  const predicate = keyPredicate(table, key);
  // Read the catalog first: on PGlite the transaction below holds the only connection.
  const childTables = await Promise.all(table.referencedBy.map((fk) => studioTable(ctx, fk.table)));
  return withTimeout(ctx, async (db) => {
    const refColumns = [...new Set(table.referencedBy.flatMap((fk) => fk.refColumns))];
    let parent: Record<string, string | null> | undefined;
    if (refColumns.length > 0) {
      const { rows } = await sql<Record<string, string | null>>`select ${sql.join(
        refColumns.map((c) => sql`${col(c)}::text as ${sql.id(c)}`),
      )} from ${tableRef(table)} as r where ${predicate}`.execute(db);
      parent = rows[0];
    } else {
      const { rows } = await sql`select 1 from ${tableRef(table)} as r where ${predicate}`.execute(db);
      if (rows.length > 0) parent = {};
    }
    if (!parent)
      throw new FerryError(E_STUDIO_NOT_FOUND, `${table.name} has no row with key ${JSON.stringify(key)} (deleted?).`);
    const children: ChildrenResponse['children'] = [];
    for (const [i, fk] of table.referencedBy.entries()) {
      const child = childTables[i]!;
      const values = fk.refColumns.map((c) => parent![c] ?? null);
      const filter: Filter[] = fk.columns.map((c, i) => ({ column: c, op: 'eq', value: values[i] ?? null }));
      let count = 0;
      if (values.every((v) => v !== null)) {
        const match = sql.join(
          fk.columns.map((c, i) => {
            const cc = columnOf(child, c, 'foreign key');
            return sql`${col(c)} = ${values[i]!}::${sql.raw(cc.castType)}`;
          }),
          sql` and `,
        );
        const { rows } = await sql<{
          n: number | string;
        }>`select count(*) as n from (select 1 from ${tableRef(child)} as r where ${match} limit ${sql.lit(CHILD_CAP + 1)}) s`.execute(
          db,
        );
        count = Number(rows[0]?.n ?? 0);
      }
      children.push({ foreignKey: fk, count, cap: CHILD_CAP, filter });
    }
    return { children };
  });
}
