/**
 * GET api/imports (runs from the import checkpoint table) and the rejects of
 * an import's latest run: filtered by table, reason (a case-insensitive
 * substring) and SQLSTATE, keyset-paged by (ordinal, row), or all of them
 * as NDJSON. Read only from the tables src/import/state.ts writes; a
 * database without them has no imports.
 */
import type { ServerResponse } from 'node:http';
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { FerryError } from '../errors.js';
import { REJECTS_TABLE, type RunStats, STATE_TABLE } from '../import/state.js';
import { maskRecord, sensitiveColumns } from '../schema/sensitive.js';
import type { ImportsResponse, RejectsResponse } from './api.js';
import type { StudioContext } from './context.js';
import { E_STUDIO_NOT_FOUND } from './errors.js';
import { badRequest } from './http.js';
import { existing } from './meta.js';

type Reject = RejectsResponse['rejects'][number];

export async function importRuns(ctx: StudioContext): Promise<ImportsResponse> {
  if (!(await existing(ctx, [STATE_TABLE])).has(STATE_TABLE)) return { runs: [] };
  const { rows } = await sql<{
    name: string;
    run_id: string;
    status: string;
    position: number | string;
    stats: RunStats;
    updated_at: Date | null;
  }>`select name, run_id, status, position, stats, updated_at from ${sql.table(STATE_TABLE)} order by updated_at desc, name`.execute(
    ctx.handle.db,
  );
  return {
    runs: rows.map((r) => ({
      name: r.name,
      runId: r.run_id,
      status: r.status,
      position: Number(r.position),
      records: r.stats.records ?? 0,
      rejectedRecords: r.stats.rejectedRecords ?? 0,
      rejects: r.stats.rejects ?? 0,
      tables: Object.fromEntries(
        Object.entries(r.stats.tables ?? {}).map(([table, s]) => [
          table,
          {
            inserted: s.inserted,
            updated: s.updated,
            unchanged: s.unchanged,
            duplicates: s.duplicates,
            rejected: s.rejected,
            ...(s.stale ? { stale: s.stale } : {}),
          },
        ]),
      ),
      updatedAt: r.updated_at ? r.updated_at.toISOString() : null,
    })),
  };
}

interface RejectQuery {
  runId: string;
  where: RawBuilder<unknown>[];
}

/** The latest run of `name` and the filters of `params` as predicates. */
async function rejectQuery(ctx: StudioContext, name: string, params: URLSearchParams): Promise<RejectQuery> {
  const found = await existing(ctx, [STATE_TABLE, REJECTS_TABLE]);
  const state = found.has(STATE_TABLE)
    ? (
        await sql<{ run_id: string }>`select run_id from ${sql.table(STATE_TABLE)} where name = ${name}`.execute(
          ctx.handle.db,
        )
      ).rows[0]
    : undefined;
  if (!state || !found.has(REJECTS_TABLE)) {
    throw new FerryError(E_STUDIO_NOT_FOUND, `There is no import named "${name}" in this database (see api/imports).`);
  }
  const where: RawBuilder<unknown>[] = [sql`name = ${name}`, sql`run_id = ${state.run_id}`];
  const table = params.get('table');
  if (table) where.push(sql`table_name = ${table}`);
  const sqlstate = params.get('sqlstate');
  if (sqlstate) where.push(sql`sqlstate = ${sqlstate}`);
  const reason = params.get('reason');
  if (reason) where.push(sql`reason ilike ${`%${reason.replace(/[\\%_]/g, (m) => `\\${m}`)}%`}`);
  return { runId: state.run_id, where };
}

function decodeAfter(after: string | null): [number, number] | null {
  if (!after) return null;
  try {
    const v = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && v.every(Number.isSafeInteger)) return v as [number, number];
  } catch {
    // fall through
  }
  throw badRequest('The rejects cursor does not decode: start again from the first page.');
}

/** One page of rejects after `after` (ordinal, row index with -1 for the whole record). */
async function page(
  db: Kysely<any>,
  q: RejectQuery,
  after: [number, number] | null,
  limit: number,
): Promise<Record<string, unknown>[]> {
  const where = [...q.where];
  if (after) where.push(sql`(ordinal, coalesce(row_index, -1)) > (${after[0]}::int8, ${after[1]}::int4)`);
  const { rows } = await sql<Record<string, unknown>>`
    select ordinal, coalesce(row_index, -1) as row_key, location, table_name, column_name, reason, sqlstate, record
    from ${sql.table(REJECTS_TABLE)} where ${sql.join(where, sql` and `)}
    order by ordinal, coalesce(row_index, -1) limit ${sql.lit(limit)}`.execute(db);
  return rows;
}

function toReject(ctx: StudioContext, r: Record<string, unknown>): Reject {
  let location: Record<string, unknown> = {};
  try {
    location = JSON.parse(String(r.location)) as Record<string, unknown>;
  } catch {
    location = { at: r.location };
  }
  const { source, ...rest } = location;
  const table = (r.table_name as string | null) ?? null;
  return {
    ordinal: Number(r.ordinal),
    source: typeof source === 'string' ? source : null,
    location:
      Object.keys(rest).length === 0
        ? null
        : Object.entries(rest)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(' '),
    table,
    column: (r.column_name as string | null) ?? null,
    reason: String(r.reason),
    sqlstate: (r.sqlstate as string | null) ?? null,
    data: maskData(ctx, table, r.record as string | null),
  };
}

/**
 * The record or row as stored (the importer masked it already; this masks
 * again by field name, in case the schema marked a column sensitive since):
 * fields named like a sensitive column of the reject's table, or of any
 * table when the reject names none.
 */
function maskData(ctx: StudioContext, table: string | null, record: string | null): unknown {
  if (record === null) return null;
  let data: unknown;
  try {
    data = JSON.parse(record);
  } catch {
    return record; // cut at 2,000 characters by the importer: shown as text
  }
  const tables =
    table !== null ? [ctx.schemaTable('public', table)].filter((t) => t !== undefined) : (ctx.schema?.tables ?? []);
  const names = new Set(tables.flatMap((t) => [...sensitiveColumns(t)]));
  return maskRecord(data, names, new Set());
}

export async function rejects(ctx: StudioContext, name: string, params: URLSearchParams): Promise<RejectsResponse> {
  const q = await rejectQuery(ctx, name, params);
  const limitText = params.get('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw badRequest(`limit must be a whole number from 1 to 1000 (got ${limitText}).`);
  const rows = await page(ctx.handle.db, q, decodeAfter(params.get('after')), limit + 1);
  const shown = rows.slice(0, limit);
  const last = shown.at(-1);
  const facets = await sql<{ kind: string; value: string | null; n: number | string }>`
    select 'table' as kind, table_name as value, count(*) as n from ${sql.table(REJECTS_TABLE)}
      where name = ${name} and run_id = ${q.runId} group by table_name
    union all
    select 'sqlstate', sqlstate, count(*) from ${sql.table(REJECTS_TABLE)}
      where name = ${name} and run_id = ${q.runId} group by sqlstate`.execute(ctx.handle.db);
  const tables: Record<string, number> = {};
  const sqlstates: Record<string, number> = {};
  for (const f of facets.rows) {
    if (f.value === null) continue;
    (f.kind === 'table' ? tables : sqlstates)[f.value] = Number(f.n);
  }
  return {
    rejects: shown.map((r) => toReject(ctx, r)),
    next:
      rows.length > limit && last
        ? Buffer.from(JSON.stringify([Number(last.ordinal), Number(last.row_key)])).toString('base64url')
        : null,
    facets: { tables, sqlstates },
  };
}

/** All matching rejects as NDJSON, read a page at a time (memory stays bounded whatever their number). */
export async function rejectsNdjson(
  ctx: StudioContext,
  res: ServerResponse,
  name: string,
  params: URLSearchParams,
): Promise<void> {
  const q = await rejectQuery(ctx, name, params);
  const file = `${name.replace(/[^A-Za-z0-9._-]/g, '_')}-rejects.ndjson`;
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${file}"`);
  res.setHeader('Cache-Control', 'no-store');
  let after: [number, number] | null = null;
  for (;;) {
    const rows = await page(ctx.handle.db, q, after, 1000);
    if (rows.length > 0) {
      const text = rows.map((r) => `${JSON.stringify(toReject(ctx, r))}\n`).join('');
      if (!res.write(text)) await new Promise((resolve) => res.once('drain', resolve));
      const last = rows.at(-1)!;
      after = [Number(last.ordinal), Number(last.row_key)];
    }
    if (rows.length < 1000) break;
  }
  res.end();
}
