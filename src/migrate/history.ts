/**
 * The migration runner's history table: one row per applied migration, read
 * without the lock (status, history) and written only under it (runner.ts).
 * `tableSql` is the quoted `"schema"."table"` the runner validated.
 */
import { type Kysely, sql } from 'kysely';
import type { MigrationFile } from './files.js';

export interface AppliedMigration {
  id: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number;
  appliedBy: string;
}

export interface HistoryRow {
  id: string;
  checksum: string;
  applied_at: Date;
  duration_ms: number;
  applied_by: string;
}

export function toApplied(r: HistoryRow): AppliedMigration {
  return {
    id: r.id,
    checksum: r.checksum,
    appliedAt: r.applied_at,
    durationMs: r.duration_ms,
    appliedBy: r.applied_by,
  };
}

export async function readHistory(db: Kysely<any>, tableSql: string): Promise<AppliedMigration[]> {
  const exists = await sql<{
    present: boolean;
  }>`select to_regclass(${tableSql}) is not null as present`.execute(db);
  if (!exists.rows[0]?.present) return [];
  const { rows } = await sql<HistoryRow>`
    select id, checksum, applied_at, duration_ms, applied_by
    from ${sql.raw(tableSql)} order by id`.execute(db);
  return rows.map(toApplied);
}

export async function ensureTable(conn: Kysely<any>, tableSql: string): Promise<void> {
  // Under the lock, so concurrent first runs cannot race on the catalog.
  await sql
    .raw(
      `create table if not exists ${tableSql} (
        id text primary key,
        checksum text not null,
        applied_at timestamptz not null default now(),
        duration_ms integer not null,
        applied_by text not null
      )`,
    )
    .execute(conn);
}

export function insertHistory(
  conn: Kysely<any>,
  tableSql: string,
  f: MigrationFile,
  durationMs: number,
  appliedBy: string,
) {
  return sql`insert into ${sql.raw(tableSql)} (id, checksum, duration_ms, applied_by)
    values (${f.id}, ${f.checksum}, ${Math.round(durationMs)}, ${appliedBy})`.execute(conn);
}

export function deleteHistory(conn: Kysely<any>, tableSql: string, f: MigrationFile) {
  return sql`delete from ${sql.raw(tableSql)} where id = ${f.id}`.execute(conn);
}
