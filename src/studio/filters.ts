/**
 * Filters and search of the grid as SQL predicates. Column names are
 * checked against the catalog and quoted; values travel as parameters cast
 * to the column's type (`$1::integer`), so a value is parsed by Postgres as
 * that type or refused with Postgres's own message, and never becomes SQL.
 */
import { type RawBuilder, sql } from 'kysely';
import type { Filter, FilterOp } from './api.js';
import type { CatalogColumn, CatalogTable } from './catalog.js';
import { cellToText, isCell } from './cells.js';
import { badRequest } from './http.js';

const OPS: readonly FilterOp[] = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'contains', 'isNull', 'notNull', 'in'];
const COMPARE: Partial<Record<FilterOp, string>> = { eq: '=', ne: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' };
/** Most values an `in` filter takes (a pasted list of ids, not a table). */
const MAX_IN = 1000;

/** `r."column"`: columns are always qualified with the table's alias `r`. */
export const col = (name: string) => sql`r.${sql.id(name)}`;

/** Find a column of `table` by name, or a 400 naming the columns there are. */
export function columnOf(table: CatalogTable, name: unknown, what: string): CatalogColumn {
  const column = typeof name === 'string' ? table.columns.find((c) => c.name === name) : undefined;
  if (!column) {
    throw badRequest(
      `${what}: ${table.name} has no column ${JSON.stringify(name)}. Columns: ${table.columns.map((c) => c.name).join(', ')}.`,
    );
  }
  return column;
}

/** Parse `?filter=` (already JSON-decoded) into checked filters. */
export function parseFilters(raw: unknown): Filter[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((f, i) => {
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw badRequest(`filter[${i}] is not an object.`);
    const { column, op, value } = f as Record<string, unknown>;
    if (typeof column !== 'string') throw badRequest(`filter[${i}].column must be a column name.`);
    if (typeof op !== 'string' || !OPS.includes(op as FilterOp)) {
      throw badRequest(`filter[${i}].op must be one of ${OPS.join(', ')} (got ${JSON.stringify(op)}).`);
    }
    if (value !== undefined && !isCell(value)) throw badRequest(`filter[${i}].value is not a cell value.`);
    return { column, op: op as FilterOp, ...(value === undefined ? {} : { value: value as Filter['value'] }) };
  });
}

/** One filter as a predicate on `table` (aliased `r`). */
export function filterSql(table: CatalogTable, f: Filter): RawBuilder<unknown> {
  const c = columnOf(table, f.column, 'filter');
  const what = `filter on ${c.name}`;
  if (c.sensitive && f.op !== 'isNull' && f.op !== 'notNull') {
    // Comparing a password hash with guesses is a way to read it: only its absence is no secret.
    throw badRequest(`${c.name} is sensitive: it can only be filtered with isNull or notNull.`);
  }
  const typed = (v: string) => sql`${v}::${sql.raw(c.castType)}`;
  switch (f.op) {
    case 'isNull':
      return sql`${col(c.name)} is null`;
    case 'notNull':
      return sql`${col(c.name)} is not null`;
    case 'contains': {
      const text = cellToText(f.value, c.kind, what);
      if (text === null) throw badRequest(`${what}: contains needs a text to look for.`);
      const pattern = `%${text.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
      return sql`${col(c.name)}::text ilike ${pattern}`;
    }
    case 'in': {
      if (!Array.isArray(f.value) || f.value.length === 0)
        throw badRequest(`${what}: in needs a non-empty array of values.`);
      if (f.value.length > MAX_IN)
        throw badRequest(`${what}: in takes at most ${MAX_IN} values (got ${f.value.length}).`);
      const texts = f.value.map((v) => cellToText(v, c.kind, what));
      const values = texts.filter((t): t is string => t !== null).map(typed);
      const parts: RawBuilder<unknown>[] = [];
      if (values.length > 0) parts.push(sql`${col(c.name)} in (${sql.join(values)})`);
      if (texts.includes(null)) parts.push(sql`${col(c.name)} is null`);
      return sql`(${sql.join(parts, sql` or `)})`;
    }
    default: {
      const text = cellToText(f.value, c.kind, what);
      if (text === null) throw badRequest(`${what}: ${f.op} needs a value (use isNull / notNull for NULL).`);
      return sql`${col(c.name)} ${sql.raw(COMPARE[f.op]!)} ${typed(text)}`;
    }
  }
}

/** Below this many rows (estimated) `q` is a substring ILIKE on each column; above, full-text search. */
const FULL_TEXT_FROM = 10_000;

/**
 * `q` over the searchable (text-like, not sensitive) columns: on a small table
 * a case-insensitive substring match, which is what a person typing expects;
 * on a big one `to_tsvector(...) @@ websearch_to_tsquery(...)` with the
 * `simple` configuration (no stemming: names and codes are searched as typed).
 */
export function searchSql(table: CatalogTable, q: string): RawBuilder<unknown> {
  const columns = table.columns.filter((c) => c.searchable && !c.sensitive);
  if (columns.length === 0) throw badRequest(`${table.name} has no text column to search; use a filter instead.`);
  if ((table.estimatedRows ?? 0) < FULL_TEXT_FROM) {
    const pattern = `%${q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    return sql`(${sql.join(
      columns.map((c) => sql`${col(c.name)}::text ilike ${pattern}`),
      sql` or `,
    )})`;
  }
  const doc = sql.join(
    columns.map((c) => sql`coalesce(${col(c.name)}::text, '')`),
    sql` || ' ' || `,
  );
  return sql`to_tsvector('simple', ${doc}) @@ websearch_to_tsquery('simple', ${q})`;
}
