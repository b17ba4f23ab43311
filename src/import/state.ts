/**
 * Import bookkeeping in the target database: one checkpoint row per import
 * and the rejects of its latest run. Both are written in the same transaction
 * as the batch they describe, so after a crash they agree with the data.
 * Tables are named `ferry_*`, which migrations ignore.
 */
import type { RawSession } from '../db/session.js';
import type { SourceFault } from './records.js';

export const STATE_TABLE = 'ferry_import_state';
export const REJECTS_TABLE = 'ferry_import_rejects';

export interface TableStats {
  inserted: number;
  updated: number;
  unchanged: number;
  /** Rows kept because the stored row was as new or newer (onConflict `if-newer`); 0 for other tables. */
  stale: number;
  duplicates: number;
  rejected: number;
}

export interface RunStats {
  records: number;
  /** Records with at least one reject. */
  rejectedRecords: number;
  /** Reject entries (a record can have several: one per bad row). */
  rejects: number;
  tables: Record<string, TableStats>;
  /** Record-level rejects that belong to no target table (the source's table is not one, and map named none). */
  unmapped: number;
  /** A `--partial` run: the sources that could not be read to their end, and where they stopped. */
  partial?: SourceFault[];
}

export interface Checkpoint {
  name: string;
  runId: string;
  /** `partial`: finished, but a source could not be read to its end (`--partial`); see `stats.partial`. */
  status: 'running' | 'done' | 'partial';
  position: number;
  fingerprint: string;
  stats: RunStats;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface RejectRow {
  ordinal: number;
  /** Which row of the record (0-based, in emit order), or null for the whole record. */
  rowIndex: number | null;
  location: Record<string, unknown>;
  table: string | null;
  column: string | null;
  reason: string;
  sqlstate: string | null;
  /**
   * JSON, at most 2,000 characters: the source record for a record or row
   * refused before the database; for a row the database refused, the row as
   * sent (column → text), which is what it refused.
   */
  record: string | null;
}

export async function ensureStateTables(session: RawSession): Promise<void> {
  await session.query(`
    create table if not exists ${STATE_TABLE} (
      name text primary key,
      run_id text not null,
      status text not null,
      position bigint not null default 0,
      fingerprint text not null,
      stats jsonb not null,
      started_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      finished_at timestamptz
    );
    create table if not exists ${REJECTS_TABLE} (
      name text not null,
      run_id text not null,
      ordinal bigint not null,
      row_index integer,
      location text not null,
      table_name text,
      column_name text,
      reason text not null,
      sqlstate text,
      record text,
      created_at timestamptz not null default now()
    );
    create index if not exists ${REJECTS_TABLE}_run_idx on ${REJECTS_TABLE} (name, run_id, ordinal)`);
}

export async function readCheckpoint(session: RawSession, name: string): Promise<Checkpoint | null> {
  const exists = await session.query<{ ok: boolean }>(`select to_regclass($1) is not null as ok`, [STATE_TABLE]);
  if (!exists.rows[0]?.ok) return null;
  const { rows } = await session.query<Record<string, unknown>>(`select * from ${STATE_TABLE} where name = $1`, [name]);
  const row = rows[0];
  if (!row) return null;
  return {
    name,
    runId: row.run_id as string,
    status: row.status as Checkpoint['status'],
    position: Number(row.position),
    fingerprint: row.fingerprint as string,
    stats: row.stats as RunStats,
    startedAt: row.started_at as Date,
    finishedAt: (row.finished_at as Date | null) ?? null,
  };
}

/** Statement and parameters that record a checkpoint; run inside the batch's transaction. */
export function checkpointStatement(cp: Omit<Checkpoint, 'startedAt' | 'finishedAt'>): [string, unknown[]] {
  return [
    `insert into ${STATE_TABLE} as s (name, run_id, status, position, fingerprint, stats, started_at, updated_at, finished_at)
     values ($1, $2, $3, $4, $5, $6::jsonb, now(), now(), case when $3 = 'done' then now() end)
     on conflict (name) do update set
       run_id = excluded.run_id, status = excluded.status, position = excluded.position,
       fingerprint = excluded.fingerprint, stats = excluded.stats, updated_at = now(),
       started_at = case when s.run_id = excluded.run_id then s.started_at else now() end,
       finished_at = excluded.finished_at`,
    [cp.name, cp.runId, cp.status, cp.position, cp.fingerprint, JSON.stringify(cp.stats)],
  ];
}

/** Insert rejects with one multi-row statement (bounded by the batch's rejects). */
export async function insertRejects(session: RawSession, name: string, runId: string, rejects: RejectRow[]) {
  const CHUNK = 500;
  for (let i = 0; i < rejects.length; i += CHUNK) {
    const part = rejects.slice(i, i + CHUNK);
    const params: unknown[] = [];
    const tuples = part.map((r) => {
      const base = params.length;
      params.push(name, runId, r.ordinal, r.rowIndex, JSON.stringify(r.location), r.table, r.column);
      params.push(r.reason, r.sqlstate, r.record);
      return `(${Array.from({ length: 10 }, (_, k) => `$${base + k + 1}`).join(', ')})`;
    });
    await session.query(
      `insert into ${REJECTS_TABLE} (name, run_id, ordinal, row_index, location, table_name, column_name, reason, sqlstate, record)
       values ${tuples.join(', ')}`,
      params,
    );
  }
}

export async function readRejects(session: RawSession, name: string, runId: string): Promise<RejectRow[]> {
  const { rows } = await session.query<Record<string, unknown>>(
    `select * from ${REJECTS_TABLE} where name = $1 and run_id = $2 order by ordinal, row_index nulls first`,
    [name, runId],
  );
  return rows.map((r) => ({
    ordinal: Number(r.ordinal),
    rowIndex: r.row_index === null ? null : Number(r.row_index),
    location: JSON.parse(r.location as string),
    table: (r.table_name as string | null) ?? null,
    column: (r.column_name as string | null) ?? null,
    reason: r.reason as string,
    sqlstate: (r.sqlstate as string | null) ?? null,
    record: (r.record as string | null) ?? null,
  }));
}

export function emptyStats(tables: string[]): RunStats {
  return {
    records: 0,
    rejectedRecords: 0,
    rejects: 0,
    unmapped: 0,
    tables: Object.fromEntries(
      tables.map((t) => [t, { inserted: 0, updated: 0, unchanged: 0, stale: 0, duplicates: 0, rejected: 0 }]),
    ),
  };
}
