/**
 * Writing one batch: for each target (parents first), each group is COPied
 * straight into the table while it gets only new keys, else COPied into the
 * staging table and upserted from there, a plain INSERT first while only new
 * keys are expected. Failures are isolated by bisecting in savepoints
 * (staging.ts), orphans are found with one query (orphans.ts).
 *
 * Per-row hot path of the import bench: the functions here are what loader.ts
 * had inline, moved without wrappers.
 */
import { isConnectionLoss, type RawSession } from '../db/session.js';
import { FOREIGN_KEY_VIOLATION, missingParents, orphans, orphanTables, rememberCopied } from './orphans.js';
import { type Batch, type Group, keepRows } from './prepare.js';
import { bisect, copyGroup, copyIntoTarget, dbReject } from './staging.js';
import type { RejectRow, RunStats } from './state.js';
import { inStep, isCanceled } from './statement-timeout.js';
import type { Target } from './targets.js';
import { conflictCheckSql, plainInsertSql, upsertSql } from './upsert-sql.js';

/** COPY + upsert every group of the batch (parents first); returns rows the database rejected. */
export async function writeBatch(session: RawSession, batch: Batch, stats: RunStats): Promise<RejectRow[]> {
  const rejects: RejectRow[] = [];
  const ordered = [...batch.groups.entries()].sort((a, b) => a[0].order - b[0].order);
  for (const [target, groups] of ordered) {
    await inStep(session, `writing a batch into table "${target.name}"`, target.name, () =>
      writeGroups(session, target, groups, stats, rejects),
    );
  }
  return rejects;
}

async function writeGroups(
  session: RawSession,
  target: Target,
  groups: Map<string, Group>,
  stats: RunStats,
  rejects: RejectRow[],
): Promise<void> {
  // The staging table holds rows only after a batch took the staged path:
  // a TRUNCATE per table per batch cost ~4% of the server's CPU on a first
  // import, where every group goes straight into its table.
  if (staged.has(target)) {
    await session.query(`truncate ${target.staging}`);
    staged.delete(target);
  }
  let offset = 0;
  for (const group of groups.values()) {
    const t = stats.tables[target.name] as RunStats['tables'][string];
    const direct = await copiedIntoTarget(session, target, group, rejects);
    if (direct !== null) {
      t.inserted += direct;
      continue;
    }
    const first = offset;
    offset += group.lines.length;
    staged.add(target);
    const copied = await copyGroup(session, target, group, first, rejects);
    if (copied === 0) continue;
    const counts = await upsertRange(session, target, group, first, offset - 1, rejects);
    // `stale` is counted in the statement's snapshot: a row the app wrote during the statement can make
    // it one off, never below zero here.
    const unchanged = Math.max(0, copied - counts.inserted - counts.updated - counts.conflicts - counts.stale);
    t.inserted += counts.inserted;
    t.updated += counts.updated;
    t.unchanged += unchanged;
    t.stale += counts.stale;
    // Only new keys this time: try the plain INSERT again next batch.
    if (counts.updated === 0 && unchanged === 0 && counts.existing === 0 && counts.stale === 0) appendOnly.add(target);
  }
}

/**
 * While a table gets only new keys, a group is COPied straight into it, as
 * `psql \copy` would: no staging table, no second pass over the rows (for
 * large JSON values, no second write of their TOAST). A table that has shown
 * orphans gets its group's foreign keys checked first, with one query
 * (`missingParents`): those rows are rejected and the rest COPied.
 * Any failure rolls back to the savepoint and the group takes the staged
 * path, which isolates the bad rows; so the outcome is the same either way.
 * Returns the rows inserted, or null when the group is to be staged.
 */
async function copiedIntoTarget(
  session: RawSession,
  target: Target,
  group: Group,
  rejects: RejectRow[],
): Promise<number | null> {
  if (!appendOnly.has(target) || (directFailures.get(target) ?? 0) >= MAX_DIRECT_FAILURES) return null;
  // The savepoint and its release travel with the COPY (one round trip)
  // unless the foreign-key query has to run inside the savepoint first.
  const checked = orphanTables.has(target);
  let found: Awaited<ReturnType<typeof missingParents>> = [];
  let rest: Group = group;
  try {
    if (checked) {
      await session.query(SAVEPOINT);
      found = await missingParents(session, target, group);
      const dropped = new Set(found.map((o) => o.n));
      if (found.length > 0) rest = keepRows(group, (n) => !dropped.has(n));
    }
    if (rest.lines.length > 0) {
      await copyIntoTarget(session, target, rest, { before: checked ? undefined : SAVEPOINT, after: RELEASE });
    } else await session.query(RELEASE);
  } catch (err) {
    if (isConnectionLoss(err) || isCanceled(err)) throw err;
    await session.query('rollback to savepoint ferry_direct; release savepoint ferry_direct');
    if ((err as { code?: string })?.code === UNIQUE_VIOLATION) appendOnly.delete(target);
    else directFailures.set(target, (directFailures.get(target) ?? 0) + 1);
    return null;
  }
  rememberCopied(target, rest);
  for (const o of found) rejects.push(dbReject(target, group, o.n, o.error));
  return rest.lines.length;
}

const SAVEPOINT = 'savepoint ferry_direct';
const RELEASE = 'release savepoint ferry_direct';

/** Targets whose staging table may hold rows (of an earlier batch, or of one rolled back). */
const staged = new WeakSet<Target>();

/** Tables whose direct COPY failed this often (bad rows in batch after batch) stay on the staged path. */
const MAX_DIRECT_FAILURES = 3;
const directFailures = new WeakMap<Target, number>();

interface Counts {
  inserted: number;
  updated: number;
  /** Rows not written: rejected, or in conflict with an existing row (onConflict: 'error'). */
  conflicts: number;
  /** Of those, the conflicts with an existing row. */
  existing: number;
  /** Rows not written because the stored row is as new or newer (onConflict if-newer). */
  stale: number;
}

async function upsertRange(
  session: RawSession,
  target: Target,
  group: Group,
  lo: number,
  hi: number,
  rejects: RejectRow[],
): Promise<Counts> {
  const total: Counts = { inserted: 0, updated: 0, conflicts: 0, existing: 0, stale: 0 };
  const sql = upsertSql(target, group.columns);
  const plain = plainInsertSql(target, group.columns);
  const conflictSql = target.onConflict === 'error' ? conflictCheckSql(target, group.columns) : null;
  // Rows already rejected as orphans: every statement below leaves them out.
  const excluded = new Set<number>();
  const params = (a: number, b: number) => [a, b, `{${[...excluded].join(',')}}`];
  const attempt = async (a: number, b: number) => {
    if (a < b && appendOnly.has(target)) {
      // New keys expected: a plain INSERT costs the server about 15% less than
      // the upsert. It fails if any key exists (or any row is bad); the upsert
      // below then does what it always did, so the outcome is the same.
      await session.query('savepoint ferry_plain');
      try {
        const { rowCount } = await session.query(plain, params(a, b));
        await session.query('release savepoint ferry_plain');
        total.inserted += rowCount;
        return b - a + 1;
      } catch (err) {
        if (isConnectionLoss(err) || isCanceled(err)) throw err;
        await session.query('rollback to savepoint ferry_plain; release savepoint ferry_plain');
        if ((err as { code?: string })?.code === UNIQUE_VIOLATION) appendOnly.delete(target);
      }
    }
    const { rows } = await session.query<{
      inserted: string | number;
      updated: string | number;
      stale: string | number;
    }>(sql, params(a, b));
    let conflicts = 0;
    if (conflictSql) {
      const found = await session.query<{ n: number }>(conflictSql, params(a, b));
      for (const { n } of found.rows) {
        conflicts++;
        rejects.push({
          ...dbReject(target, group, n - lo, null),
          reason: `a ${target.name} row with the same key (${target.key.join(', ')}) already exists with different content (onConflict: 'error')`,
          sqlstate: '23505',
        });
      }
    }
    total.inserted += Number(rows[0]?.inserted ?? 0);
    total.updated += Number(rows[0]?.updated ?? 0);
    total.stale += Number(rows[0]?.stale ?? 0);
    total.conflicts += conflicts;
    total.existing += conflicts;
    return b - a + 1;
  };
  const reject = (n: number, err: unknown) => {
    total.conflicts++;
    rejects.push(dbReject(target, group, n - lo, err));
  };
  // Orphans are found with one query and rejected without trying them: a
  // batch with ten of them costs one more statement, not twenty.
  const setApart = async (a: number, b: number): Promise<number> => {
    let added = 0;
    for (const orphan of await orphans(session, target, group.columns, a, b)) {
      if (excluded.has(orphan.n)) continue;
      excluded.add(orphan.n);
      reject(orphan.n, orphan.error);
      added++;
    }
    return added;
  };
  // A table that had orphans in an earlier batch is expected to have more.
  if (orphanTables.has(target)) await setApart(lo, hi);
  await bisect(session, lo, hi, attempt, reject, async (a, b, err) => {
    if ((err as { code?: string })?.code !== FOREIGN_KEY_VIOLATION || (await setApart(a, b)) === 0) return false;
    orphanTables.add(target);
    return true;
  });
  return total;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Targets whose last batch held only new keys: the next one tries a plain
 * INSERT first. Every target starts here; the first batch that meets an
 * existing key (a rerun, an incremental import) takes it out.
 */
export const appendOnly = new WeakSet<Target>();
