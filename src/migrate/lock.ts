/**
 * The migration runner's lock: a session-level advisory lock, polled with
 * `pg_try_advisory_lock` (never a blocking call, never inside a transaction)
 * on one dedicated connection that then does all of the run's work, so the
 * lock survives each migration's COMMIT and dies with the session (see the
 * header of runner.ts). Behind PgBouncer that connection is a direct one.
 */
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { sessionDbFor } from '../db/open.js';
import { FerryError } from '../errors.js';
import { E_MIGRATION_LOCK_TIMEOUT } from './errors.js';

/** Which lock a run takes, and how long it waits for it. */
export interface RunLock {
  /** From lockKeyFor(table). */
  key: bigint;
  /** The history table, for messages. */
  table: string;
  lockTimeoutMs: number;
}

/**
 * Take the lock on a dedicated connection, run `fn` there, unlock. Behind
 * PgBouncer in transaction mode a session lock would stay on whichever server
 * connection took it (and the unlock could go to another), so the connection
 * is one of the handle's direct URL (see db/open.ts `sessionDbFor`).
 */
export async function withLock<T>(db: Kysely<any>, lock: RunLock, fn: (conn: Kysely<any>) => Promise<T>): Promise<T> {
  const sessionDb = await sessionDbFor(db, `The migration lock (on ${lock.table})`);
  return sessionDb.connection().execute(async (conn) => {
    await acquireLock(conn, lock);
    let restoreCheck: string | null = null;
    try {
      restoreCheck = await watchClient(conn);
      return await fn(conn);
    } finally {
      // The session may be dead (then the server has dropped the lock already): never mask the real outcome.
      if (restoreCheck !== null) {
        await sql`select set_config('client_connection_check_interval', ${restoreCheck}, false)`
          .execute(conn)
          .catch(() => {});
      }
      await sql`select pg_advisory_unlock(${String(lock.key)}::bigint)`.execute(conn).catch(() => {});
    }
  });
}

async function acquireLock(conn: Kysely<any>, lock: RunLock): Promise<void> {
  const key = String(lock.key);
  const started = Date.now();
  const deadline = started + lock.lockTimeoutMs;
  for (;;) {
    // Autocommit, non-blocking: no transaction stays open while we wait.
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${key}::bigint) as locked`.execute(
      conn,
    );
    if (rows[0]?.locked) return;
    const now = Date.now();
    if (now >= deadline) break;
    const pause = Math.min(100 + Math.random() * 150, deadline - now);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  const holder = await lockHolder(conn, lock.key).catch(() => null);
  const who = holder
    ? ` It is held by server process ${holder.pid}` +
      (holder.application_name ? ` (application_name ${holder.application_name})` : '') +
      (holder.client_addr ? ` from ${holder.client_addr}` : '') +
      (holder.backend_start ? `, connected since ${new Date(holder.backend_start).toISOString()}` : '') +
      '.'
    : '';
  throw new FerryError(
    E_MIGRATION_LOCK_TIMEOUT,
    `Another migration run held the lock on ${lock.table} for more than ${lock.lockTimeoutMs} ms; nothing was run.` +
      `${who} Wait for it to finish, or raise lockTimeoutMs.`,
    {
      details: { table: lock.table, lockKey: key, waitedMs: Date.now() - started, holderPid: holder?.pid ?? null },
    },
  );
}

async function lockHolder(
  conn: Kysely<any>,
  lockKey: bigint,
): Promise<{
  pid: number;
  application_name: string | null;
  client_addr: string | null;
  backend_start: Date | null;
} | null> {
  const k = BigInt.asUintN(64, lockKey);
  const hi = String(k >> 32n);
  const lo = String(k & 0xffffffffn);
  const { rows } = await sql<{
    pid: number;
    application_name: string | null;
    client_addr: string | null;
    backend_start: Date | null;
  }>`select l.pid, a.application_name, a.client_addr::text as client_addr, a.backend_start
     from pg_locks l left join pg_stat_activity a on a.pid = l.pid
     where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
       and l.classid = ${hi}::bigint::oid and l.objid = ${lo}::bigint::oid and l.objsubid = 1
     limit 1`.execute(conn);
  return rows[0] ?? null;
}

/**
 * PostgreSQL 14+: have the backend check every second that we are still
 * connected while a long statement runs, so a killed runner's lock is freed
 * within about a second instead of when the statement ends. Returns the value
 * to restore, or null when the server lacks the setting (or the platform
 * refuses it).
 */
async function watchClient(conn: Kysely<any>): Promise<string | null> {
  try {
    const { rows } = await sql<{ v: string | null }>`
      select current_setting('client_connection_check_interval', true) as v`.execute(conn);
    const previous = rows[0]?.v;
    if (previous === null || previous === undefined) return null;
    await sql`select set_config('client_connection_check_interval', '1000', false)`.execute(conn);
    return previous;
  } catch {
    return null;
  }
}

/** A stable signed 64-bit key from the table name (same for every process and version of Ferry). */
export function lockKeyFor(table: string): bigint {
  const digest = createHash('sha256').update(`ferry:migrate:${table}`).digest();
  return digest.readBigInt64BE(0);
}
