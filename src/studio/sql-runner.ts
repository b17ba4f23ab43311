/**
 * POST api/sql: one statement, by default in a READ ONLY transaction with
 * Studio's statement timeout, always rolled back; with write mode, the
 * token and `write: true`, in a read-write one that commits. Results are
 * read through a cursor (at most `maxRows` + 1 rows leave the server), as
 * the server's text converted by type, with `.sensitive()` columns masked
 * (by source column on PostgreSQL, by name on both backends).
 *
 * PGlite ignores `statement_timeout` (WASM Postgres has no timer
 * interrupts): there a long statement runs to its end, holding the one
 * connection. Nothing Studio can do short of killing the process.
 */
import type { IncomingMessage } from 'node:http';

import type { RawSession } from '../db/session.js';
import { parseTimestamp } from '../db/types.js';
import { FerryError } from '../errors.js';
import { splitStatements } from '../migrate/sql-split.js';
import { sensitiveColumns } from '../schema/sensitive.js';
import type { Cell, SqlRequest, SqlResponse } from './api.js';
import { MASKED } from './cells.js';
import type { StudioContext } from './context.js';
import { E_STUDIO_SQL } from './errors.js';
import { checkWrite } from './guard.js';
import { badRequest } from './http.js';

const DEFAULT_MAX_ROWS = 1000;
const MOST_ROWS = 10_000;
/** Statements that would end or escape Studio's transaction, or reach the server's files and programs. */
const NEVER = new Set([
  'begin',
  'start',
  'commit',
  'end',
  'rollback',
  'abort',
  'savepoint',
  'release',
  'prepare',
  'copy',
]);
/**
 * Statements that change the connection's session for whoever uses it next:
 * the runner borrows a pooled connection the app may share (a committed
 * `SET ROLE` would outlive the statement).
 */
const SESSION = new Set(['set', 'reset', 'discard', 'listen', 'unlisten', 'load']);
/** Statements a cursor can read (capped at the server); others run as they are. */
const CURSOR = new Set(['select', 'with', 'values', 'table']);
const DML = new Set(['insert', 'update', 'delete', 'merge']);

function parseRequest(body: unknown): Required<Omit<SqlRequest, 'maxRows'>> & { maxRows: number } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.sql !== 'string' || b.sql.trim() === '') throw badRequest('The body needs "sql": the statement to run.');
  const maxRows = b.maxRows === undefined ? DEFAULT_MAX_ROWS : Number(b.maxRows);
  if (!Number.isInteger(maxRows) || maxRows < 1 || maxRows > MOST_ROWS) {
    throw badRequest(`maxRows must be a whole number from 1 to ${MOST_ROWS} (got ${String(b.maxRows)}).`);
  }
  return { sql: b.sql, explain: b.explain === true, analyze: b.analyze === true, write: b.write === true, maxRows };
}

export async function runSql(ctx: StudioContext, req: IncomingMessage, body: unknown): Promise<SqlResponse> {
  const r = parseRequest(body);
  if (r.write) checkWrite(ctx, req, 'Running SQL that writes');
  if (r.analyze) checkWrite(ctx, req, 'EXPLAIN ANALYZE (it executes the statement)');
  const statements = splitStatements(r.sql);
  if (statements.length !== 1) {
    throw badRequest(
      `The SQL runner runs one statement at a time; this has ${statements.length}. Run them one by one.`,
    );
  }
  const statement = statements[0]!.text;
  const keyword =
    /^[\s(]*([a-z]+)/i.exec(statement.replace(/^(\s*(--[^\n]*\n|\/\*[\s\S]*?\*\/))+/, ''))?.[1]?.toLowerCase() ?? '';
  if (SESSION.has(keyword)) {
    throw badRequest(
      `${keyword.toUpperCase()} is not run by Studio: it would change the session of a pooled connection the app may share. Use SHOW to read a setting.`,
    );
  }
  if (NEVER.has(keyword)) {
    throw badRequest(
      keyword === 'copy'
        ? 'COPY is not run by Studio (it reads and writes files and programs on the database server); use `ferry export`.'
        : `${keyword.toUpperCase()} is not run by Studio: each statement gets its own transaction, which Studio begins and ends.`,
    );
  }
  const started = performance.now();
  const text = r.explain ? `explain (${r.analyze ? 'analyze, ' : ''}format json) ${statement}` : statement;
  try {
    const result = await ctx.handle.session((session) => runIn(ctx, session, text, r, keyword));
    const ms = Math.round((performance.now() - started) * 10) / 10;
    if (r.write) ctx.catalog.invalidate();
    ctx.history.add({ sql: statement, at: new Date().toISOString(), ms, ok: true, rowCount: result.rowCount });
    return { ...result, ms };
  } catch (err) {
    const ms = Math.round((performance.now() - started) * 10) / 10;
    const failure = sqlError(ctx, err, r.write);
    ctx.history.add({ sql: statement, at: new Date().toISOString(), ms, ok: false, error: failure.message });
    throw failure;
  }
}

async function runIn(
  ctx: StudioContext,
  session: RawSession,
  text: string,
  r: ReturnType<typeof parseRequest>,
  keyword: string,
): Promise<Omit<SqlResponse, 'ms'>> {
  await session.query(
    `begin${r.write ? '' : '; set transaction read only'}; select set_config('statement_timeout', '${ctx.statementTimeoutMs}', true)`,
  );
  let done = false;
  try {
    let out: Omit<SqlResponse, 'ms'>;
    if (r.explain) {
      const res = await session.queryText(text);
      const plan = res.rows[0]?.[0];
      out = { columns: [], rows: [], rowCount: null, truncated: false, plan: plan ? JSON.parse(plan) : null };
    } else if (r.write && DML.has(keyword)) {
      const res = await session.query<Record<string, unknown>>(text);
      const names = res.rows[0] ? Object.keys(res.rows[0]) : [];
      out = {
        columns: names.map((name) => ({ name, type: '' })),
        rows: res.rows.slice(0, r.maxRows).map((row) => names.map((n) => plainCell(row[n]))),
        rowCount: res.rowCount,
        truncated: res.rows.length > r.maxRows,
      };
    } else if (!r.write && CURSOR.has(keyword)) {
      await session.query(`declare studio_sql no scroll cursor for ${text}`);
      const res = await session.queryText(`fetch forward ${r.maxRows + 1} from studio_sql`);
      out = await toResponse(ctx, session, res, r.maxRows, null);
    } else {
      const res = await session.queryText(text);
      out = await toResponse(ctx, session, res, r.maxRows, res.rows.length);
    }
    await session.query(r.write ? 'commit' : 'rollback');
    done = true;
    return out;
  } finally {
    if (!done) await session.query('rollback').catch(() => {});
  }
}

async function toResponse(
  ctx: StudioContext,
  session: RawSession,
  res: Awaited<ReturnType<RawSession['queryText']>>,
  maxRows: number,
  rowCount: number | null,
): Promise<Omit<SqlResponse, 'ms'>> {
  const oids = [...new Set(res.types)];
  const typeNames = new Map<number, string>();
  if (oids.length > 0) {
    const { rows } = await session.query<{ oid: number; name: string }>(
      'select oid::int8 as oid, format_type(oid, null) as name from pg_type where oid = any($1::oid[])',
      [oids],
    );
    for (const row of rows) typeNames.set(Number(row.oid), row.name);
  }
  const masked = await maskedColumns(ctx, session, res);
  const truncated = res.rows.length > maxRows;
  const rows = res.rows
    .slice(0, maxRows)
    .map((row) => row.map((v, i) => (masked[i] && v !== null ? MASKED : textCell(v, res.types[i]!))));
  return {
    columns: res.columns.map((name, i) => ({ name, type: typeNames.get(res.types[i]!) ?? String(res.types[i]) })),
    rows,
    rowCount: truncated ? null : (rowCount ?? rows.length),
    truncated,
  };
}

/** Which result columns to mask: named like a sensitive column, or (PostgreSQL) read from one. */
async function maskedColumns(
  ctx: StudioContext,
  session: RawSession,
  res: Awaited<ReturnType<RawSession['queryText']>>,
): Promise<boolean[]> {
  const sensitive = new Map<string, ReadonlySet<string>>();
  for (const table of ctx.schema?.tables ?? []) {
    const names = sensitiveColumns(table);
    if (names.size > 0) sensitive.set(table.name, names);
  }
  if (sensitive.size === 0) return res.columns.map(() => false);
  const allNames = new Set([...sensitive.values()].flatMap((s) => [...s]));
  const bySource = new Set<string>();
  const sources = res.sources.filter((s) => s.table !== 0);
  if (sources.length > 0) {
    const { rows } = await session.query<{ relid: number; attnum: number; rel: string; att: string }>(
      `select a.attrelid::int8 as relid, a.attnum::int4 as attnum, c.relname::text as rel, a.attname::text as att
       from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = 'public' and a.attrelid = any($1::oid[])`,
      [[...new Set(sources.map((s) => s.table))]],
    );
    for (const row of rows) if (sensitive.get(row.rel)?.has(row.att)) bySource.add(`${row.relid}:${row.attnum}`);
  }
  return res.columns.map(
    (name, i) => allNames.has(name) || bySource.has(`${res.sources[i]!.table}:${res.sources[i]!.column}`),
  );
}

/** A value as the server's text, as a Cell of its type (see api.ts's Cell). */
function textCell(text: string | null, oid: number): Cell {
  if (text === null) return null;
  switch (oid) {
    case 16:
      return text === 't';
    case 21:
    case 23:
    case 26:
    case 700:
    case 701: {
      const n = Number(text);
      return Number.isFinite(n) ? n : text;
    }
    case 114:
    case 3802:
      return { $json: JSON.parse(text) };
    case 17:
      return { $bytea: text.startsWith('\\x') ? (text.length - 2) / 2 : text.length };
    case 1114:
    case 1184: {
      const d = parseTimestamp(text);
      return d instanceof Date ? d.toISOString() : text;
    }
    default:
      return text;
  }
}

function plainCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return { $bytea: v.byteLength };
  return { $json: v };
}

/** The statement's failure as a clear E_STUDIO_SQL: the timeout and read-only refusals say what to do. */
function sqlError(ctx: StudioContext, err: unknown, write: boolean): FerryError {
  if (err instanceof FerryError) return err;
  const e = err as { code?: string; message?: string; position?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  let message = `${e?.message ?? String(err)}${code ? ` [SQLSTATE ${code}]` : ''}`;
  if (code === '57014') {
    message = `The statement ran past Studio's statement timeout of ${ctx.statementTimeoutMs} ms (statementTimeout) and was cancelled [SQLSTATE 57014]. Narrow it (a WHERE, a LIMIT) or raise the timeout.`;
  } else if (code === '25006' && !write) {
    message = `${message}. Studio's SQL runner is read-only: ${
      ctx.write
        ? 'send write: true (with the token) to run a statement that writes'
        : 'start Studio with --write to run statements that write'
    }.`;
  }
  return new FerryError(E_STUDIO_SQL, message, { cause: err, details: { sqlstate: code } });
}
