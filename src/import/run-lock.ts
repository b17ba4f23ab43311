/**
 * One run of a given import at a time, per database.
 *
 * Two runs of the same import would write one checkpoint row from two
 * sessions, each resuming from positions the other wrote. So a run first
 * takes a session-level advisory lock keyed on the import's name, polled with
 * `pg_try_advisory_lock` (no transaction stays open while waiting), and holds
 * it on the run's session until the end; if the process dies, the server ends
 * the session and the lock goes with it.
 *
 * A waiter should say whom it waits for. The holder labels its session
 * (`application_name`, visible to every session in pg_stat_activity) with its
 * pid and host while it holds the lock; the waiter finds the holding backend
 * in pg_locks and reads that label. The label goes with the session, so it
 * can never outlive the run the way a row in a table could.
 *
 * On PGlite there is one connection and `session()` already serialises runs
 * in a process (and the data-dir lock keeps other processes out), so the lock
 * is always free there.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RawSession } from '../db/session.js';

export interface ImportLockHolder {
  /** OS process id and host of the ferry run holding the lock, when it labelled its session. */
  pid: number | null;
  host: string | null;
  /** The server process (backend) holding the lock, and where it connected from. */
  backendPid: number;
  clientAddr: string | null;
}

const LABEL = /^ferry import pid=(\d+) host=(.*)$/;
// application_name is cut at 63 bytes by the server (NAMEDATALEN - 1).
const MAX_LABEL = 63;

/** The 64-bit advisory-lock key of an import name. */
export function importLockKey(name: string): bigint {
  return createHash('sha256').update(`ferry import\0${name}`).digest().readBigInt64BE(0);
}

/** `application_name` of a run holding the lock: who it is, for waiters. */
export function holderLabel(pid = process.pid, host = os.hostname()): string {
  return Buffer.from(`ferry import pid=${pid} host=${host}`)
    .subarray(0, MAX_LABEL)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

/**
 * Take the run lock of import `name` on `session`, waiting while another run
 * holds it (`onWait` is told who, once per holder). Returns the release
 * function, to call before the session goes back to the pool.
 */
export async function acquireImportLock(
  session: RawSession,
  name: string,
  options: { onWait?: (holder: ImportLockHolder | null) => void; signal?: AbortSignal; pollMs?: number } = {},
): Promise<() => Promise<void>> {
  const key = String(importLockKey(name));
  let announced: number | null | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const { rows } = await session.query<{ locked: boolean }>('select pg_try_advisory_lock($1::bigint) as locked', [
      key,
    ]);
    if (rows[0]?.locked) break;
    const holder = await lockHolder(session, key).catch(() => null);
    // A new holder (another run got in first) is worth saying again.
    if (announced !== (holder?.backendPid ?? null)) {
      announced = holder?.backendPid ?? null;
      options.onWait?.(holder);
    }
    await sleep(options.pollMs ?? 250 + Math.random() * 250, undefined, { signal: options.signal });
  }
  let previousLabel: string | null = null;
  try {
    const { rows } = await session.query<{ previous: string }>(
      `select current_setting('application_name') as previous, set_config('application_name', $1, false)`,
      [holderLabel()],
    );
    previousLabel = rows[0]?.previous ?? null;
  } catch {
    // Only the waiters' message loses detail.
  }
  return async () => {
    // The session may be dead (then the server dropped the lock already): never mask the run's outcome.
    if (previousLabel !== null) {
      await session.query(`select set_config('application_name', $1, false)`, [previousLabel]).catch(() => undefined);
    }
    await session.query('select pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
  };
}

async function lockHolder(session: RawSession, key: string): Promise<ImportLockHolder | null> {
  const k = BigInt.asUintN(64, BigInt(key));
  const { rows } = await session.query<{ pid: number; application_name: string | null; client_addr: string | null }>(
    `select l.pid, a.application_name, a.client_addr::text as client_addr
       from pg_locks l left join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = $1::bigint::oid and l.objid = $2::bigint::oid
      limit 1`,
    [String(k >> 32n), String(k & 0xffffffffn)],
  );
  const row = rows[0];
  if (!row) return null;
  const label = LABEL.exec(row.application_name ?? '');
  return {
    pid: label ? Number(label[1]) : null,
    host: label ? (label[2] ?? null) : null,
    backendPid: Number(row.pid),
    clientAddr: row.client_addr ?? null,
  };
}

/** `waiting for another run of "chatcore" (pid 4242, host build-7)`. */
export function waitingMessage(name: string, holder: ImportLockHolder | null): string {
  let who = '';
  if (holder?.pid != null) who = ` (pid ${holder.pid}, host ${holder.host})`;
  else if (holder)
    who = ` (server process ${holder.backendPid}${holder.clientAddr ? ` from ${holder.clientAddr}` : ''})`;
  return `waiting for another run of "${name}"${who}`;
}
