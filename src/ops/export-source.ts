/**
 * What an export reads: a table (with `where` and `columns`) or any SELECT,
 * turned into one `SELECT … FROM … WHERE …` and, for a table, its primary key
 * (the PGlite CSV export pages on it, see export.ts).
 *
 * `where` and `query` are SQL the user wrote against their own database, so
 * they are not parsed or filtered here: they run inside a READ ONLY
 * transaction (a write fails there), and the server's error, if any, is
 * passed on with the statement that failed.
 */
import type { RawSession } from '../db/session.js';
import { E_UNKNOWN_COLUMN, FerryError } from '../errors.js';
import { quoteIdent } from '../schema/identifiers.js';
import { closeNames } from '../schema/validate.js';
import { E_EXPORT_OPTIONS, E_EXPORT_TABLE } from './export-errors.js';

export interface ExportSource {
  /** A table or view, optionally schema-qualified (`public.prices`); unquoted names fold to lower case as in SQL. */
  table?: string;
  /** Any SELECT (or VALUES, TABLE …) instead of a table: `select id, total from orders where paid`. */
  query?: string;
  /** A SQL condition, e.g. `created_at >= '2026-01-01' and status <> 'draft'`. */
  where?: string;
  /** Only these columns, in this order (default: all, in table order). */
  columns?: readonly string[];
}

export interface KeyColumn {
  /** Quoted for SQL. */
  readonly sql: string;
  /** As `format_type` prints it, e.g. `bigint`, `character varying(40)`. */
  readonly type: string;
}

export interface ResolvedSource {
  /** `table "public.prices"` or `the query`, for messages. */
  readonly label: string;
  /** The rows to export, unordered: `SELECT <list> FROM <from> [WHERE (<where>)]`. */
  readonly select: string;
  /** For a table with a primary key: its columns (quoted) and the pieces the keyset pages are built from. */
  readonly keyed: { from: string; list: string; where: string | null; key: readonly KeyColumn[] } | null;
}

const RELATION_SQL = `select c.oid, n.nspname as schema, c.relname as name
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.oid = to_regclass($1) and c.relkind in ('r', 'p', 'v', 'm', 'f')`;

const CANDIDATES_SQL = `select n.nspname as schema, c.relname as name
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f') and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'`;

const COLUMNS_SQL = `select a.attname as name from pg_catalog.pg_attribute a
where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped order by a.attnum`;

/** Primary-key columns in key order, each with its type (the keyset literals are cast to it). */
const PRIMARY_KEY_SQL = `select a.attname as name, pg_catalog.format_type(a.atttypid, a.atttypmod) as type
from pg_catalog.pg_index i join pg_catalog.pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
where i.indrelid = $1 and i.indisprimary
order by array_position(i.indkey::int2[], a.attnum)`;

/** Check the options and look the table up; runs on the export's own session. */
export async function resolveSource(session: RawSession, source: ExportSource): Promise<ResolvedSource> {
  const table = source.table?.trim() || undefined;
  const query = source.query?.trim().replace(/;\s*$/, '') || undefined;
  if ((table === undefined) === (query === undefined)) {
    throw new FerryError(
      E_EXPORT_OPTIONS,
      table === undefined
        ? 'Nothing to export: name a table (`ferry export prices`) or pass a query (`--query "select …"`).'
        : `Export either table "${table}" or the query, not both: put the table in the query's FROM instead.`,
    );
  }
  const where = source.where?.trim() || null;
  const columns = source.columns?.map((c) => c.trim()).filter((c) => c !== '');
  if (columns !== undefined && columns.length === 0 && source.columns !== undefined && source.columns.length > 0) {
    throw new FerryError(E_EXPORT_OPTIONS, 'The column list is empty: name columns separated by commas (`id,name`).');
  }
  const whereSql = where === null ? '' : ` where (${where})`;
  if (query !== undefined) {
    const list = columns?.length ? columns.map(quoteIdent).join(', ') : '*';
    return { label: 'the query', select: `select ${list} from (${query}) as export_query${whereSql}`, keyed: null };
  }
  // to_regclass is null for a missing table and throws for a name that is not one ("a b", 'x"').
  const found = await session.query<{ oid: number; schema: string; name: string }>(RELATION_SQL, [table]).then(
    (r) => r.rows[0],
    () => undefined,
  );
  if (!found) throw await unknownTable(session, table as string);
  const from = `${quoteIdent(found.schema)}.${quoteIdent(found.name)}`;
  const label = `table "${found.schema}.${found.name}"`;
  const all = (await session.query<{ name: string }>(COLUMNS_SQL, [found.oid])).rows.map((r) => r.name);
  for (const column of columns ?? []) {
    if (!all.includes(column)) {
      const close = closeNames(column, all);
      throw new FerryError(
        E_UNKNOWN_COLUMN,
        `${label} has no column "${column}"${close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : ''}; its columns: ${all.join(', ')}.`,
        { details: { table: `${found.schema}.${found.name}`, column } },
      );
    }
  }
  const list = (columns?.length ? columns : all).map(quoteIdent).join(', ');
  const key = (await session.query<{ name: string; type: string }>(PRIMARY_KEY_SQL, [found.oid])).rows.map((r) => ({
    sql: quoteIdent(r.name),
    type: r.type,
  }));
  return {
    label,
    select: `select ${list} from ${from}${whereSql}`,
    keyed: key.length > 0 ? { from, list, where, key } : null,
  };
}

async function unknownTable(session: RawSession, table: string): Promise<FerryError> {
  const rows = (await session.query<{ schema: string; name: string }>(CANDIDATES_SQL)).rows;
  const names = rows.map((r) => (r.schema === 'public' ? r.name : `${r.schema}.${r.name}`));
  const close = closeNames(table.replace(/^public\./, ''), names);
  const hint = close.length
    ? `Did you mean ${close.map((c) => `"${c}"`).join(', ')}?`
    : names.length
      ? `Tables: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}.`
      : 'The database has no tables: run `ferry migrate up` first?';
  return new FerryError(E_EXPORT_TABLE, `Cannot export table "${table}": there is no such table or view. ${hint}`, {
    details: { table, candidates: close },
  });
}
