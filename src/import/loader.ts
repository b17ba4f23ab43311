/**
 * The importer: source records → `map` → checked rows → COPY into session
 * temp tables → one `INSERT … SELECT … ON CONFLICT` per table, parents first,
 * with the checkpoint and the batch's rejects in the same transaction.
 *
 * Why this shape:
 * - COPY into an index-free temp table is the cheapest way to get rows into
 *   the server; the upsert then touches each target index once per batch.
 * - The checkpoint counts records consumed. Committed with the batch, it makes
 *   a crash (or SIGKILL) at any point resumable with nothing lost or doubled.
 * - Natural keys seen earlier in the run are remembered (KeySet), so a
 *   duplicate is merged into the first occurrence whichever batch it is in;
 *   a resumed run re-maps the skipped records to rebuild that memory, so
 *   it ends in exactly the state an uninterrupted run would.
 * - A failing COPY or INSERT is retried in halves inside savepoints until the
 *   bad row is isolated (pgloader's approach); the rest of the batch lands.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DbHandle } from '../db/open.js';
import { isConnectionLoss, type RawSession } from '../db/session.js';
import { type Duration, toMs } from '../duration.js';
import { E_BAD_ARGUMENT, FerryError } from '../errors.js';
import type { Logger } from '../logger.js';
import { quoteIdent } from '../schema/identifiers.js';
import type { DefinedImport } from './define.js';
import { E_IMPORT_CONNECTION, E_IMPORT_DEFINITION, E_IMPORT_MAX_REJECTS, E_IMPORT_SOURCE_CHANGED } from './errors.js';
import { KeySet } from './key-set.js';
import { withImportLogger } from './log.js';
import { type Batch, type Group, prepareBatches } from './prepare.js';
import { checkSources, fingerprintSources, namedSources, type SourceFault } from './records.js';
import { writeRejectsFile } from './rejects-file.js';
import { acquireImportLock, waitingMessage } from './run-lock.js';
import { bisect, copyGroup, copyIntoTarget, createStaging, dbReject } from './staging.js';
import {
  checkpointStatement,
  emptyStats,
  ensureStateTables,
  insertRejects,
  type RejectRow,
  type RunStats,
  readCheckpoint,
  readRejects,
} from './state.js';
import { comparable, planTargets, resolveSchema, type Target } from './targets.js';

export interface ImportOptions {
  db: DbHandle;
  definition: DefinedImport;
  /** Checkpoint name (default: definition.name, else 'import'). */
  name?: string;
  /** Map, check and load everything inside one transaction that is rolled back. */
  dryRun?: boolean;
  /** auto: resume an unfinished run if there is one (default); restart: start over. */
  mode?: 'auto' | 'resume' | 'restart';
  batchSize?: number;
  /** Fail the run once more than this many records/rows are rejected (default: no limit). */
  maxRejects?: number;
  /** Where to write the rejects (NDJSON); null for nowhere. Written only when there are rejects. */
  rejectsFile?: string | null;
  /**
   * Import what can be read of a source that cannot be read to its end (cut
   * short, garbage from some point on), instead of failing with nothing of it
   * committed. The report's and the checkpoint's `partial` say where each such
   * source stopped.
   */
  partial?: boolean;
  /** How long to keep retrying while the database is unreachable (default 60 s; ms, or e.g. '2m'). */
  retryForMs?: Duration;
  onProgress?: (progress: ImportProgress) => void;
  /** Informational messages (resuming, retrying). */
  log?: (message: string) => void;
  /**
   * Another run of the same import (same name, same database) is in progress
   * and this one waits for it to finish: told once per holder, with the
   * message naming it (default: `log`).
   */
  onWait?: (message: string) => void;
  /** A pino-compatible logger (Ferry's one `logger` option): `log`/`onWait` messages as `info`, layer 'import'. */
  logger?: Logger | false;
  signal?: AbortSignal;
}

export interface ImportProgress {
  records: number;
  /** Total records when the sources can tell cheaply, else undefined. */
  totalRecords?: number;
  /** Source bytes read, and the total, when the sources report sizes but not record counts (TinyDB, lowdb). */
  bytesRead?: number;
  totalBytes?: number;
  rejected: number;
  rowsWritten: number;
  elapsedMs: number;
}

export interface ImportReport {
  name: string;
  runId: string;
  dryRun: boolean;
  /** Records skipped because an earlier run had committed them; null when starting fresh. */
  resumedFrom: number | null;
  records: number;
  rejectedRecords: number;
  rejects: number;
  tables: RunStats['tables'];
  /** Record rejects counted under no table: the record named none, and its source's table is not a target. */
  unmapped: number;
  rejectsFile: string | null;
  durationMs: number;
  recordsPerSecond: number;
  retries: number;
  /** `--partial` runs: the sources that could not be read to their end, and where they stopped; else null. */
  partial: SourceFault[] | null;
}

const DEFAULT_BATCH = 5_000;

export async function runImport(importOptions: ImportOptions): Promise<ImportReport> {
  const def = importOptions.definition;
  const name = importOptions.name ?? def.name ?? 'import';
  const options = withImportLogger(importOptions, name);
  if (typeof def.map !== 'function')
    throw new FerryError(E_IMPORT_DEFINITION, `Import "${name}" has no map(record, ctx) function.`);
  const schema = resolveSchema(def.schema);
  const targets = planTargets(schema, def.tables as Record<string, never>);
  const sources = namedSources(def.source);
  const started = performance.now();
  const retryForMs = toMs(options.retryForMs ?? 60_000, 'runImport option retryForMs', E_BAD_ARGUMENT);
  let retries = 0;
  let lastLoss = 0;
  try {
    for (;;) {
      try {
        const result = await options.db.session(async (session) => {
          // A dry run writes no checkpoint and commits nothing: it need not wait for a real run.
          const release = options.dryRun
            ? null
            : await acquireImportLock(session, name, {
                signal: options.signal,
                onWait: (holder) => (options.onWait ?? options.log)?.(waitingMessage(name, holder)),
              });
          try {
            return await runPass({
              ...options,
              faults: options.partial ? [] : undefined,
              name,
              targets,
              sources,
              session,
              started,
            });
          } finally {
            await release?.();
          }
        });
        return { ...result, retries, durationMs: performance.now() - started };
      } catch (err) {
        if (!isConnectionLoss(err)) throw err;
        const now = performance.now();
        if (lastLoss === 0) lastLoss = now;
        if (now - lastLoss > retryForMs) {
          throw new FerryError(
            E_IMPORT_CONNECTION,
            `The database stayed unreachable for ${Math.round(retryForMs / 1000)} s; the import stopped. ` +
              'Everything committed so far is kept: run the same command again to resume.',
            { cause: err },
          );
        }
        retries++;
        options.log?.(`Lost the database connection (${(err as Error).message}); retrying from the last checkpoint.`);
        await sleep(Math.min(5_000, 250 * 2 ** Math.min(retries, 5)));
      }
    }
  } finally {
    await Promise.all(sources.map((s) => s.source.close?.().catch(() => {})));
  }
}

interface PassOptions extends ImportOptions {
  /** Set for `partial` runs: where sources stopped short. */
  faults?: SourceFault[];
  name: string;
  targets: Target[];
  sources: ReturnType<typeof namedSources>;
  session: RawSession;
  started: number;
}

type PassResult = Omit<ImportReport, 'retries' | 'durationMs'>;

async function runPass(o: PassOptions): Promise<PassResult> {
  const { session, targets, name } = o;
  const fingerprint = await fingerprintSources(o.sources);
  if (!o.dryRun) await ensureStateTables(session);
  const previous = o.dryRun ? null : await readCheckpoint(session, name);
  let resumeFrom = 0;
  let runId: string = randomUUID();
  let stats = emptyStats(targets.map((t) => t.name));
  // A run stopped before its first batch committed (a broken source fails
  // there) skipped nothing: with changed files, starting over loses nothing.
  const resumable = previous?.status === 'running' && (previous.position > 0 || previous.fingerprint === fingerprint);
  if (resumable && previous && o.mode !== 'restart') {
    if (previous.fingerprint !== fingerprint) {
      throw new FerryError(
        E_IMPORT_SOURCE_CHANGED,
        `Import "${name}" stopped at record ${previous.position} of an earlier run, but the source files changed since. ` +
          'Resuming would skip the wrong records: rerun with --restart to import everything again (rows already ' +
          'imported are matched by their keys, not duplicated).',
        { details: { name, position: previous.position } },
      );
    }
    resumeFrom = previous.position;
    runId = previous.runId;
    stats = mergeStats(emptyStats(targets.map((t) => t.name)), previous.stats);
    o.log?.(`Resuming import "${name}" after record ${resumeFrom}.`);
  } else if (o.mode === 'resume' && !resumable) {
    o.log?.(`Nothing to resume for "${name}"; starting from the first record.`);
  }

  // Whether every source can be read to its end. A broken source (a file cut
  // in half, garbage) must fail the run with nothing of it committed, while a
  // sound one still commits batch by batch (resumable, bounded memory). The
  // check is a structure-only pass over the file (TinyDB/lowdb: about a third
  // of the time reading and JSON.parse-ing it takes; ndjson: its last line;
  // CSV: its quotes). It runs alongside the first batches, which this process
  // mostly spends waiting on the database; until it is known good, batches
  // stay in one open transaction, so a fault rolls all of them back. On the
  // chatcore demo data (300k messages, 89 MB TinyDB file) the check takes
  // 0.9 s of CPU; the import's wall time stayed within run-to-run noise
  // (32.7-35.5 s with it, 33.6-36.6 s without). Staging everything and
  // committing at the end was the alternative: it gives up resumability and
  // holds the whole source in one transaction on every run, not just at start.
  const verdict = watch(o.partial ? Promise.resolve() : checkSources(o.sources, o.signal));

  await createStaging(session, targets);
  for (const t of targets) appendOnly.add(t);
  if (o.dryRun) await session.query('begin');
  else {
    await session.query('begin');
    const [sql, params] = checkpointStatement({
      name,
      runId,
      status: 'running',
      position: resumeFrom,
      fingerprint,
      stats,
    });
    await session.query(sql, params);
    await session.query(`delete from ferry_import_rejects where name = $1 and run_id <> $2`, [name, runId]);
    await session.query('commit');
  }

  const batchSize = Math.max(1, o.batchSize ?? o.definition.batchSize ?? DEFAULT_BATCH);
  const keySets = new Map(targets.map((t) => [t.name, new KeySet()]));
  const totalRecords = await estimateTotal(o.sources, 'records');
  const totalBytes = totalRecords === undefined ? await estimateTotal(o.sources, 'bytes') : undefined;
  let rejectCount = countRejects(stats);
  let rowsWritten = 0;
  const dryRejects: RejectRow[] = [];

  const batches = prepareBatches(o, targets, keySets, resumeFrom, batchSize);
  // Prepare batch N+1 while batch N is in the database.
  let next = prefetch(batches);
  /** A transaction is open: batches wait in it until the sources' check passed. */
  let open = false;
  try {
    for (;;) {
      const step = await next;
      if (step.done) break;
      next = prefetch(batches);
      const batch = step.value;
      if (!o.dryRun && !open) {
        await session.query('begin');
        open = true;
      }
      const dbRejects = await writeBatch(session, batch, stats);
      const rejects = [...batch.rejects, ...dbRejects];
      stats.records = batch.position;
      stats.rejectedRecords += new Set(rejects.map((r) => r.ordinal)).size;
      stats.rejects += rejects.length;
      for (const [table, n] of batch.duplicates) (stats.tables[table] as { duplicates: number }).duplicates += n;
      for (const r of rejects) {
        if (r.table && stats.tables[r.table]) (stats.tables[r.table] as { rejected: number }).rejected++;
        else stats.unmapped++;
      }
      if (o.dryRun) dryRejects.push(...rejects);
      else {
        await insertRejects(session, name, runId, rejects);
        const [sql, params] = checkpointStatement({
          name,
          runId,
          status: 'running',
          position: batch.position,
          fingerprint,
          stats,
        });
        await session.query(sql, params);
        if (verdict.settled) {
          await verdict.promise; // throws when a source is broken: everything since the last commit rolls back
          await session.query('commit');
          open = false;
        }
      }
      rejectCount += rejects.length;
      rowsWritten += [...batch.groups.values()].reduce(
        (n, g) => n + [...g.values()].reduce((m, x) => m + x.lines.length, 0),
        0,
      );
      o.onProgress?.({
        records: batch.position,
        totalRecords,
        ...(totalBytes !== undefined && batch.sourceBytes > 0 ? { bytesRead: batch.sourceBytes, totalBytes } : {}),
        rejected: rejectCount,
        rowsWritten,
        elapsedMs: performance.now() - o.started,
      });
      if (o.maxRejects !== undefined && rejectCount > o.maxRejects) {
        if (open) {
          // Keep what the message says was imported (the sources' check must still pass).
          await verdict.promise;
          await session.query('commit');
          open = false;
        }
        const file = await finishRejects(o, session, runId, dryRejects);
        throw new FerryError(
          E_IMPORT_MAX_REJECTS,
          `${rejectCount} rejects exceed --max-rejects ${o.maxRejects}; the import stopped after record ${batch.position}` +
            `${file ? ` (rejects: ${file})` : ''}. Fix the source or the mapping, then rerun (it resumes).`,
          { details: { rejects: rejectCount, position: batch.position } },
        );
      }
    }
    await verdict.promise;
  } catch (err) {
    // Stop the producer and leave the transaction; the checkpoint holds what committed.
    await batches.return(undefined as never).catch(() => {});
    if (!isConnectionLoss(err)) await session.query('rollback').catch(() => {});
    throw err;
  }

  const partial = o.faults && o.faults.length > 0 ? o.faults : null;
  if (partial) stats.partial = partial;
  if (o.dryRun) await session.query('rollback');
  else {
    const [sql, params] = checkpointStatement({
      name,
      runId,
      status: partial ? 'partial' : 'done',
      position: stats.records,
      fingerprint,
      stats,
    });
    await session.query(sql, params);
    if (open) await session.query('commit');
  }
  const rejectsFile = await finishRejects(o, session, runId, dryRejects);
  const durationMs = performance.now() - o.started;
  return {
    name,
    runId,
    dryRun: o.dryRun === true,
    resumedFrom: resumeFrom > 0 ? resumeFrom : null,
    records: stats.records,
    rejectedRecords: stats.rejectedRecords,
    rejects: rejectCount,
    tables: stats.tables,
    unmapped: stats.unmapped,
    rejectsFile,
    recordsPerSecond: (stats.records - resumeFrom) / Math.max(durationMs / 1000, 1e-9),
    partial,
  };
}

/** A promise, and whether it has settled (read synchronously between batches). */
function watch(promise: Promise<void>): { promise: Promise<void>; settled: boolean } {
  const w = { promise, settled: false };
  promise.then(
    () => {
      w.settled = true;
    },
    () => {
      w.settled = true;
    },
  );
  return w;
}

/** Start preparing the next batch now; mark its failure handled until it is awaited. */
function prefetch(batches: AsyncGenerator<Batch>): Promise<IteratorResult<Batch>> {
  const next = batches.next();
  next.catch(() => {});
  return next;
}

async function finishRejects(o: PassOptions, session: RawSession, runId: string, dryRejects: RejectRow[]) {
  if (!o.rejectsFile) return null;
  const rejects = o.dryRun ? dryRejects : await readRejects(session, o.name, runId);
  if (rejects.length === 0) return null;
  await writeRejectsFile(o.rejectsFile, rejects);
  return o.rejectsFile;
}

function countRejects(stats: RunStats): number {
  return stats.rejects;
}

function mergeStats(base: RunStats, saved: RunStats): RunStats {
  for (const [table, s] of Object.entries(saved.tables ?? {})) base.tables[table] = { ...base.tables[table], ...s };
  return {
    ...base,
    records: saved.records ?? 0,
    rejectedRecords: saved.rejectedRecords ?? 0,
    rejects: saved.rejects ?? 0,
    unmapped: saved.unmapped ?? 0,
    tables: base.tables,
  };
}

/** Sum of the sources' estimates of `what`, or undefined when any source cannot tell. */
async function estimateTotal(
  sources: ReturnType<typeof namedSources>,
  what: 'records' | 'bytes',
): Promise<number | undefined> {
  let total = 0;
  for (const { source } of sources) {
    const e = await source.estimate?.().catch(() => undefined);
    const n = e?.[what];
    if (n === undefined) return undefined;
    total += n;
  }
  return total;
}

// ---------------------------------------------------------------- writing

/** COPY + upsert every group of the batch (parents first); returns rows the database rejected. */
async function writeBatch(session: RawSession, batch: Batch, stats: RunStats): Promise<RejectRow[]> {
  const rejects: RejectRow[] = [];
  const ordered = [...batch.groups.entries()].sort((a, b) => a[0].order - b[0].order);
  for (const [target, groups] of ordered) {
    await session.query(`truncate ${target.staging}`);
    let offset = 0;
    for (const group of groups.values()) {
      const t = stats.tables[target.name] as RunStats['tables'][string];
      if (await copiedIntoTarget(session, target, group)) {
        t.inserted += group.lines.length;
        continue;
      }
      const first = offset;
      offset += group.lines.length;
      const copied = await copyGroup(session, target, group, first, rejects);
      if (copied === 0) continue;
      const counts = await upsertRange(session, target, group, first, offset - 1, rejects);
      const unchanged = copied - counts.inserted - counts.updated - counts.conflicts;
      t.inserted += counts.inserted;
      t.updated += counts.updated;
      t.unchanged += unchanged;
      // Only new keys this time: try the plain INSERT again next batch.
      if (counts.updated === 0 && unchanged === 0 && counts.existing === 0) appendOnly.add(target);
    }
  }
  return rejects;
}

/**
 * While a table gets only new keys and has shown no orphans, a group is
 * COPied straight into it, as `psql \copy` would: no staging table, no second
 * pass over the rows (for large JSON values, no second write of their TOAST).
 * Any failure rolls back to the savepoint and the group takes the staged path,
 * which isolates the bad rows; so the outcome is the same either way.
 */
async function copiedIntoTarget(session: RawSession, target: Target, group: Group): Promise<boolean> {
  if (!appendOnly.has(target) || orphanTables.has(target) || (directFailures.get(target) ?? 0) >= MAX_DIRECT_FAILURES)
    return false;
  await session.query('savepoint ferry_direct');
  try {
    await copyIntoTarget(session, target, group);
    await session.query('release savepoint ferry_direct');
    return true;
  } catch (err) {
    if (isConnectionLoss(err)) throw err;
    await session.query('rollback to savepoint ferry_direct; release savepoint ferry_direct');
    if ((err as { code?: string })?.code === UNIQUE_VIOLATION) appendOnly.delete(target);
    else directFailures.set(target, (directFailures.get(target) ?? 0) + 1);
    return false;
  }
}

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
}

async function upsertRange(
  session: RawSession,
  target: Target,
  group: Group,
  lo: number,
  hi: number,
  rejects: RejectRow[],
): Promise<Counts> {
  const total: Counts = { inserted: 0, updated: 0, conflicts: 0, existing: 0 };
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
        if (isConnectionLoss(err)) throw err;
        await session.query('rollback to savepoint ferry_plain; release savepoint ferry_plain');
        if ((err as { code?: string })?.code === UNIQUE_VIOLATION) appendOnly.delete(target);
      }
    }
    const { rows } = await session.query<{ inserted: string | number; updated: string | number }>(sql, params(a, b));
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

const FOREIGN_KEY_VIOLATION = '23503';
const UNIQUE_VIOLATION = '23505';

/**
 * Targets whose last batch held only new keys: the next one tries a plain
 * INSERT first. Every target starts here; the first batch that meets an
 * existing key (a rerun, an incremental import) takes it out.
 */
const appendOnly = new WeakSet<Target>();

interface ForeignKey {
  name: string;
  parent: string;
  /** The parent's name as Postgres prints it in the violation's detail. */
  parentName: string;
  columns: string[];
  refColumns: string[];
  /** Column names as printed in the detail (unquoted). */
  names: string[];
}

const foreignKeysOf = new WeakMap<Target, Promise<ForeignKey[]>>();
/** Targets that had orphans in this process: later batches look for them first. */
const orphanTables = new WeakSet<Target>();

/** A staged row whose foreign key has no parent, with the error the database would raise for it. */
interface Orphan {
  n: number;
  error: { code: string; message: string; detail: string };
}

/**
 * The staged rows in [lo, hi] whose (immediate) foreign key to another
 * table has no parent row; such a row fails in any statement it is part of.
 * The first missing parent in constraint order is named, as Postgres does.
 */
async function orphans(
  session: RawSession,
  target: Target,
  columns: string[],
  lo: number,
  hi: number,
): Promise<Orphan[]> {
  let fks = foreignKeysOf.get(target);
  if (!fks) {
    fks = session
      .query<{ name: string; parent: string; parent_name: string; refcols: string[]; names: string[] }>(
        `select c.conname as name, format('%s', c.confrelid::regclass) as parent, p.relname as parent_name,
                array(select quote_ident(a.attname) from unnest(c.confkey) with ordinality k(n, i)
                        join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i) as refcols,
                array(select a.attname::text from unnest(c.conkey) with ordinality k(n, i)
                        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i) as names
           from pg_constraint c join pg_class p on p.oid = c.confrelid
          where c.contype = 'f' and c.conrelid = to_regclass($1) and c.confrelid <> c.conrelid and not c.condeferrable
          order by c.oid`,
        [quoteIdent(target.name)],
      )
      .then(({ rows }) =>
        rows.map((r) => ({
          name: r.name,
          parent: r.parent,
          parentName: r.parent_name,
          columns: r.names.map(quoteIdent),
          refColumns: r.refcols,
          names: r.names,
        })),
      );
    foreignKeysOf.set(target, fks);
  }
  const staged = new Set(columns.map(quoteIdent));
  const checked = (await fks).filter((fk) => fk.columns.every((c) => staged.has(c)));
  if (checked.length === 0) return [];
  const selects = checked.map((fk, i) => {
    const present = fk.columns.map((c) => `s.${c} is not null`).join(' and ');
    const match = fk.columns.map((c, j) => `p.${fk.refColumns[j]} = s.${c}`).join(' and ');
    const values = fk.columns.map((c) => `s.${c}::text`).join(', ');
    return (
      `select s._ferry_n as n, ${i} as fk, concat_ws(', ', ${values}) as vals from ${target.staging} s ` +
      `where s._ferry_n between $1 and $2 and ${present} and not exists (select 1 from ${fk.parent} p where ${match})`
    );
  });
  const { rows } = await session.query<{ n: number; fk: number; vals: string }>(
    `select distinct on (n) n, fk, vals from (${selects.join(' union all ')}) o order by n, fk`,
    [lo, hi],
  );
  return rows.map((r) => {
    const fk = checked[Number(r.fk)] as ForeignKey;
    return {
      n: Number(r.n),
      error: {
        code: FOREIGN_KEY_VIOLATION,
        message: `insert or update on table "${target.name}" violates foreign key constraint "${fk.name}"`,
        detail: `Key (${fk.names.join(', ')})=(${r.vals}) is not present in table "${fk.parentName}".`,
      },
    };
  });
}

/** Staged rows $1..$2 but those in $3 (an int array literal: the rejected orphans). */
const STAGED_RANGE = '_ferry_n between $1 and $2 and not (_ferry_n = any($3::int[]))';

function plainInsertSql(target: Target, columns: string[]): string {
  const cols = columns.map(quoteIdent).join(', ');
  return `insert into ${quoteIdent(target.name)} (${cols}) select ${cols} from ${target.staging} where ${STAGED_RANGE}`;
}

function upsertSql(target: Target, columns: string[]): string {
  const cols = columns.map(quoteIdent).join(', ');
  const key = target.key.map(quoteIdent).join(', ');
  const select = `select ${cols} from ${target.staging} where ${STAGED_RANGE}`;
  const insert = `insert into ${quoteIdent(target.name)} as t (${cols}) ${select}`;
  const updatable = columns.filter((c) => !target.key.includes(c) && !target.insertOnly.has(c));
  let conflict: string;
  if (target.onConflict !== 'update' || updatable.length === 0) {
    conflict = `on conflict (${key}) do nothing`;
  } else {
    const touch = Object.values(target.table.columns)
      .filter((c) => c.def.onUpdateNow && !columns.includes(c.name))
      .map((c) => `${quoteIdent(c.name)} = now()`);
    const set = [...updatable.map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`), ...touch].join(', ');
    const mine = updatable.map((c) => comparable(target, c, 't')).join(', ');
    const theirs = updatable.map((c) => comparable(target, c, 'excluded')).join(', ');
    conflict = `on conflict (${key}) do update set ${set} where (${mine}) is distinct from (${theirs})`;
  }
  return (
    `with w as (${insert} ${conflict} returning (xmax = 0) as fresh) ` +
    `select count(*) filter (where fresh) as inserted, count(*) filter (where not fresh) as updated from w`
  );
}

/** Staged rows whose key exists in the target with different content (onConflict: 'error'). */
function conflictCheckSql(target: Target, columns: string[]): string {
  const on = target.key.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' and ');
  const compared = columns.filter((c) => !target.key.includes(c) && !target.insertOnly.has(c));
  const differs =
    compared.length === 0
      ? 'false'
      : `(${compared.map((c) => comparable(target, c, 't')).join(', ')}) is distinct from ` +
        `(${compared.map((c) => comparable(target, c, 's')).join(', ')})`;
  return (
    `select s._ferry_n as n from ${target.staging} s join ${quoteIdent(target.name)} t on ${on} ` +
    `where s.${STAGED_RANGE} and ${differs} order by s._ferry_n`
  );
}
