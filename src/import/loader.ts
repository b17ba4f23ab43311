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
 *
 * This file holds the run (lock, reconnects) and the pass (checkpoint,
 * batches, rejects); writing a batch is write.ts, with orphans.ts and
 * upsert-sql.ts.
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
import { type Batch, prefetch, prepareBatches } from './prepare.js';
import { checkSources, fingerprintSources, namedSources, type SourceFault } from './records.js';
import { writeRejectsFile } from './rejects-file.js';
import { acquireImportLock, waitingMessage } from './run-lock.js';
import { createStaging } from './staging.js';
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
import { applyStatementTimeout, asStepTimeout, statementTimeoutMs } from './statement-timeout.js';
import { planTargets, resolveSchema, type Target } from './targets.js';
import { type ImportWorker, workerBatches } from './worker-batches.js';
import { appendOnly, writeBatch } from './write.js';

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
  /**
   * `statement_timeout` for the import's statements (default 10 minutes; ms
   * or e.g. '30m'; 0 = none), instead of the pool's (30 s by default). Each
   * statement works on one batch, so it bounds a stuck or runaway one, not
   * the run. On timeout the run stops with E_IMPORT_TIMEOUT naming the step
   * (and table); what committed is kept and the next run resumes. Not
   * enforced on PGlite.
   */
  statementTimeout?: Duration;
  /**
   * Prepare batches (read, parse, `map`, check, encode) in a worker thread
   * while this thread writes: the import file that exports `definition`,
   * which the worker loads itself. `ferry import` passes the file it was
   * given. Off (everything on this thread) when not set.
   */
  worker?: ImportWorker;
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
  /**
   * Memory the run held to recognise duplicate keys exactly: about 10 bytes
   * per distinct key (key-set.ts), the one part of an import's memory that
   * grows with the source (10 MB at a million keys). null when batches were
   * prepared in a worker thread, which held it.
   */
  keyMemoryBytes: number | null;
}

const DEFAULT_BATCH = 5_000;
/** Batches prepared while one is written (each at most BATCH_BYTES of COPY text, see prepare.ts). */
const PREPARED_AHEAD = 2;

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
  const statementTimeout = statementTimeoutMs('import', options.statementTimeout);
  let retries = 0;
  let lastLoss = 0;
  try {
    for (;;) {
      try {
        const result = await options.db.session(async (session) => {
          const restoreTimeout = await applyStatementTimeout(session, 'import', statementTimeout);
          try {
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
          } finally {
            await restoreTimeout().catch(() => {});
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
  try {
    return await pass(o);
  } catch (err) {
    // Batches name their table themselves (writeBatch); anything else is the run's bookkeeping.
    throw asStepTimeout(o.session, err, 'the import’s bookkeeping (checkpoint, rejects, staging tables)', null);
  }
}

async function pass(o: PassOptions): Promise<PassResult> {
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

  const batches = o.worker
    ? workerBatches({
        worker: o.worker,
        targets,
        fingerprint,
        resumeFrom,
        batchSize,
        faults: o.faults,
        signal: o.signal,
      })
    : prepareBatches(o, targets, keySets, resumeFrom, batchSize);
  // Prepare batches N+1 and N+2 while batch N is in the database: with one
  // batch ahead, Node sat idle ~20% of an import whenever a batch took the
  // database longer than the next took Node, though Node is the slower side.
  const ahead = Array.from({ length: PREPARED_AHEAD }, () => prefetch(batches));
  /** A transaction is open: batches wait in it until the sources' check passed. */
  let open = false;
  try {
    for (;;) {
      const step = await (ahead.shift() as Promise<IteratorResult<Batch>>);
      if (step.done) break;
      ahead.push(prefetch(batches));
      const batch = step.value;
      if (!o.dryRun && !open) {
        await session.query(BEGIN_BATCH);
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
          await commitDurably(session);
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
    // Outside a transaction the statement commits durably (the session's default).
    if (open) await commitDurably(session);
    await analyzeWritten(session, targets, stats);
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
    keyMemoryBytes: o.worker ? null : [...keySets.values()].reduce((n, k) => n + k.bytes, 0),
  };
}

/**
 * A batch's transaction does not wait for its WAL to reach the disk
 * (`synchronous_commit = off`, for that transaction only): a server crash may
 * lose the last few batches committed (up to 3 × wal_writer_delay, 600 ms by
 * default), data and checkpoint together, and the resumed run writes them
 * again; nothing is ever half there. Waiting for the flush at each of a run's
 * hundreds of commits left Node and the server both idle: `psql \copy` flushes
 * once per table. The run's last commit (and the one --max-rejects stops at)
 * is durable, and flushes every earlier one with it.
 */
const BEGIN_BATCH = 'begin; set local synchronous_commit = off';

/** Commit the open transaction, waiting for its WAL (and so every earlier batch's) to be flushed. */
async function commitDurably(session: RawSession): Promise<void> {
  await session.query('set local synchronous_commit = on');
  await session.query('commit');
}

/**
 * ANALYZE the tables this run wrote rows to, once it is done. Without it the
 * planner knows nothing of what just arrived until autovacuum gets to it, and
 * on PGlite never (it has no autovacuum): the app's first queries are planned
 * blind, and `pg_class.reltuples` (what Studio and `ferry db` show as row
 * estimates) stays unset. ANALYZE samples at most 300 × the statistics target
 * rows (30,000 by default) whatever the table's size: chatcore's five tables at
 * 1M messages took 0.28 s on Postgres, against the import's 24-29 s. It takes no lock that blocks
 * reads or writes. A failure (e.g. the role may not analyze the table) is no
 * reason to fail an import that committed: autovacuum will do it.
 */
async function analyzeWritten(session: RawSession, targets: Target[], stats: RunStats): Promise<void> {
  const written = targets.filter((t) => {
    const s = stats.tables[t.name];
    return s !== undefined && s.inserted + s.updated > 0;
  });
  if (written.length === 0) return;
  await session.query(`analyze ${written.map((t) => quoteIdent(t.name)).join(', ')}`).catch(() => {});
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
