/**
 * Crash safety of the real CLI (issue 4): `ferry import` of the chatcore
 * example is SIGKILLed at seeded points — inside the very first batch, early,
 * mid-import, late, and in the final phase (after the `done` checkpoint, while
 * the rejects file is written and the database closed) — and rerun each time.
 * The end state must equal a reference database imported in one uninterrupted
 * run: same rows in every table, nothing missing, nothing doubled, same
 * rejects, the same accumulated statistics, and `ferry verify` passes.
 *
 * On PGlite every kill also leaves a stale data-directory lock and an
 * unclean data directory (WAL recovery) for the next run to cope with.
 *
 * Replay a failure with FERRY_CRASH_SEED=<seed printed in the log>;
 * FERRY_CRASH_MESSAGES sets the dataset size (default 10 000 messages, ~10 700 records).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { generateChatcore, sizeFor } from '../../examples/chatcore/generate.js';
import { lockFileFor } from '../../src/db/data-dir-lock.js';
import { describeEachBackend, type ProvisionedDatabase, provisionDatabase } from '../support/backends.js';
import {
  diffTable,
  IMPORT_FILE,
  type ImportState,
  importArgs,
  killAll,
  killWhen,
  migrateChatcore,
  readState,
  readStateAfterCrash,
  report,
  rng,
  type Snapshot,
  snapshot,
  startCli,
  waitForOrphans,
  watchStart,
  withDb,
} from './support/crash-harness.js';

const SEED = Number(process.env.FERRY_CRASH_SEED ?? 4_2026);
const MESSAGES = Number(process.env.FERRY_CRASH_MESSAGES ?? 10_000);
const BATCH = 500;

type KillPoint =
  | { label: 'first batch'; kind: 'start'; delayMs: number }
  | { label: 'early' | 'mid' | 'late'; kind: 'records'; records: number }
  | { label: 'final phase'; kind: 'final' };

interface Hit {
  label: string;
  run: number;
  /** Checkpoint before and after the kill. */
  from: number;
  to: number;
  status: string;
  /** Records the progress bar had shown committed when the kill was sent. */
  seen: number | null;
  /** Wall time of the killed run, and of reading its checkpoint afterwards. */
  runMs: number;
  inspectMs: number;
}

describeEachBackend('ferry import under SIGKILL', (t) => {
  let scratch: string;
  let dataFile: string;
  let ref: ProvisionedDatabase;
  // Timestamps at or after this come from a now() default, not from the legacy data.
  const importedAfter = new Date(Date.now() - 10 * 60_000);

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'ferry-crash-'));
    const generated = await generateChatcore({ dir: path.join(scratch, 'legacy'), ...sizeFor(MESSAGES), seed: 11 });
    dataFile = generated.file;
    ref = await provisionDatabase(t.backend);
    await migrateChatcore(ref.url);
    await migrateChatcore(t.url());
  });

  afterEach(() => killAll());
  afterAll(async () => {
    killAll();
    await ref?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('killed at random points and rerun, it ends exactly where one uninterrupted run ends', {
    timeout: 300_000,
  }, async () => {
    const url = t.url();
    // No heap-cap relaunch (bin/heap-cap.mjs): the SIGKILL must land on the importing process itself,
    // at the moment chosen, not a moment later through the wrapper (test/cli/heap-cap.test.ts covers that).
    const env = { CHATCORE_DATA: dataFile, FERRY_DEBUG: '1', FERRY_MAX_HEAP_MB: '0' };
    const rejectsFile = (name: string) => path.join(scratch, `${name}.rejects.ndjson`);
    const started = performance.now();

    // The reference: one uninterrupted run into its own database. Watch it to learn how long
    // the first batch takes here (from the run's start signal to its first commit).
    const refWatch = await watchStart(ref.url);
    const refChild = startCli(importArgs(ref.url, rejectsFile('reference')), env);
    let begunAt = 0;
    let firstCommitAt = 0;
    await killWhen(refChild, async () => {
      if (begunAt === 0 && (await refWatch.begun())) begunAt = performance.now();
      if (firstCommitAt === 0 && refChild.committed() !== null) firstCommitAt = performance.now();
      return false;
    });
    await refWatch.close();
    const refExit = await refChild.done;
    expect(refExit.code, refExit.stderr).toBe(0);
    expect(begunAt, 'the start signal was seen in the reference run').toBeGreaterThan(0);
    const firstBatchMs = Math.max(20, (firstCommitAt || performance.now()) - begunAt);
    const refReport = report(refExit);
    expect(refReport.ok).toBe(true);
    const total: number = refReport.records;
    const refState = await withDb(ref.url, readState);
    expect(refState).toMatchObject({ status: 'done', position: total });
    const refSnap = await snapshot(ref.url, importedAfter);
    const refMs = performance.now() - started;

    const random = rng(SEED);
    const between = (lo: number, hi: number) => lo + random() * (hi - lo);
    const plan: KillPoint[] = [
      // On PGlite the window also holds creating the staging tables: its checkpoint commits around
      // 0.3-0.55 of it (measured), so aim at the second half.
      {
        label: 'first batch',
        kind: 'start',
        delayMs: Math.round((t.backend === 'pglite' ? between(0.5, 0.75) : between(0.15, 0.45)) * firstBatchMs),
      },
      { label: 'early', kind: 'records', records: Math.round(between(0.05, 0.2) * total) },
      { label: 'mid', kind: 'records', records: Math.round(between(0.35, 0.6) * total) },
      { label: 'late', kind: 'records', records: Math.round(between(0.75 * total, total - 3 * BATCH)) },
      { label: 'final phase', kind: 'final' },
    ];

    const hits: Hit[] = [];
    let state: ImportState | null = null;
    let run = 0;
    for (const point of plan) {
      // A kill meant for the first batch that lands before the run's first checkpoint is
      // still a crash worth surviving; try again (a little later) to hit the batch itself.
      // PGlite's kill is timed: later after a kill that came too early, earlier after one too late.
      let scale = 1;
      for (let attempt = 0; ; attempt++) {
        run++;
        const before = state;
        const file = rejectsFile(`run-${run}`);
        const watch = point.kind === 'start' ? await watchStart(url) : undefined;
        const runStarted = performance.now();
        const child = startCli(importArgs(url, file), env);
        let signalAt = 0;
        const ready = async (): Promise<boolean> => {
          switch (point.kind) {
            case 'start':
              if (signalAt === 0 && (await watch!.begun())) signalAt = performance.now();
              if (signalAt === 0) return false;
              // Postgres: the first batch's transaction is open and writing. PGlite (nothing to
              // see from outside): a seeded share of the first batch's length in the reference run,
              // scaled after a miss.
              if (watch!.inBatch) return watch!.inBatch();
              return performance.now() - signalAt >= Math.min(point.delayMs * scale, 0.9 * firstBatchMs);
            case 'records':
              return (child.committed() ?? -1) >= Math.max(point.records, (before?.position ?? 0) + 1);
            case 'final':
              return existsSync(file);
          }
        };
        const outcome = await killWhen(child, ready);
        const seen = child.committed();
        await watch?.close();
        const killedAfterMs = signalAt ? Math.round(performance.now() - signalAt) : null;
        const exit = await child.done;
        expect(outcome, `run ${run} (${point.label}) ended before the kill: ${exit.stderr}${exit.stdout}`).toBe(
          'killed',
        );
        expect(exit.signal).toBe('SIGKILL');
        if (t.backend === 'pglite') {
          // The dead process's lock stays behind: the next run must take it over.
          expect(existsSync(lockFileFor(url.slice('pglite:'.length))), `run ${run} (${point.label}) ${outcome}`).toBe(
            true,
          );
        }
        const runMs = performance.now() - runStarted;
        await waitForOrphans(url);
        state = await readStateAfterCrash(url, scratch);
        const inspectMs = performance.now() - runStarted - runMs;
        const from = before?.position ?? 0;
        hits.push({
          label:
            point.kind === 'start'
              ? `${state ? point.label : 'start-up (before the first checkpoint)'} (${killedAfterMs} ms after the start signal)`
              : point.label,
          run,
          from,
          to: state?.position ?? 0,
          status: state?.status ?? 'none',
          seen,
          runMs,
          inspectMs,
        });
        if (point.kind === 'start') {
          const early = state === null;
          const late = state !== null && state.position > from;
          if ((early || late) && attempt < 3) {
            scale *= early ? 1.15 : 0.7;
            continue;
          }
          // Killed inside the run's first batch: its checkpoint exists, no batch of it committed.
          expect(state).toMatchObject({ status: 'running', position: from });
        } else if (point.kind === 'records') {
          expect(state?.status).toBe('running');
          expect(state!.position).toBeGreaterThan(from);
          expect(state!.position).toBeLessThan(total);
        } else {
          expect(state?.position).toBe(total);
          // The statistics the killed runs committed add up to the uninterrupted run's.
          if (state?.status === 'done') expect(state.stats).toEqual(refState!.stats);
        }
        break;
      }
    }

    // The final run, to completion.
    const lastFile = rejectsFile('last');
    const lastStarted = performance.now();
    const lastExit = await startCli(importArgs(url, lastFile), env).done;
    const lastMs = performance.now() - lastStarted;
    expect(lastExit.code, lastExit.stderr).toBe(0);
    const last = report(lastExit);
    expect(last).toMatchObject({
      ok: true,
      records: total,
      rejects: refReport.rejects,
      rejectedRecords: refReport.rejectedRecords,
    });
    if (state?.status === 'done') {
      // The final-phase kill came after the `done` checkpoint: this run imports everything
      // again, and finds every row already there.
      expect(last.resumedFrom).toBeNull();
      for (const [table, s] of Object.entries<any>(refReport.tables)) {
        expect(last.tables[table], table).toEqual({
          inserted: 0,
          updated: 0,
          unchanged: s.inserted + s.updated + s.unchanged,
          stale: 0, // no if-newer table here: never a stored row newer than the incoming one
          duplicates: s.duplicates,
          rejected: s.rejected,
        });
      }
    } else {
      expect(last.resumedFrom).toBe(total);
      expect(last.tables).toEqual(refReport.tables);
    }
    expect(readFileSync(lastFile, 'utf8')).toBe(readFileSync(rejectsFile('reference'), 'utf8'));

    // Same rows as the reference, table by table.
    const snap = await snapshot(url, importedAfter);
    await expectSameData(ref.url, url, refSnap, snap, importedAfter);

    // And ferry verify agrees.
    const verifyStarted = performance.now();
    const verify = await startCli(['verify', IMPORT_FILE, '--url', url, '--json'], env).done;
    const verifyMs = performance.now() - verifyStarted;
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(report(verify).ok).toBe(true);

    const totalMs = performance.now() - started;
    console.log(
      `[crash ${t.backend}] seed ${SEED}, ${total} records (batch ${BATCH}), reference run ${Math.round(refMs)} ms ` +
        `(first batch ~${Math.round(firstBatchMs)} ms); ` +
        `kills: ${hits
          .map(
            (h) =>
              `${h.label} @${h.from}→${h.to}/${total} ${h.status}${h.seen === null ? '' : ` (bar ${h.seen})`} [${Math.round(h.runMs)}+${Math.round(h.inspectMs)} ms]`,
          )
          .join(
            '; ',
          )}; final run ${last.resumedFrom === null ? 'fresh (all unchanged)' : `resumed @${last.resumedFrom}`} ` +
        `${Math.round(lastMs)} ms, verify ${Math.round(verifyMs)} ms; ` +
        `tables equal: ${Object.entries(snap.tables)
          .map(([k, v]) => `${k} ${v.rows}`)
          .join(', ')}; total ${Math.round(totalMs)} ms`,
    );
  });
});

async function expectSameData(refUrl: string, url: string, refSnap: Snapshot, snap: Snapshot, importedAfter: Date) {
  for (const [table, s] of Object.entries(snap.tables)) {
    expect(s.distinctKeys, `${table}: duplicate keys`).toBe(s.rows);
    if (s.md5 !== refSnap.tables[table]!.md5 || s.rows !== refSnap.tables[table]!.rows) {
      const diff = await diffTable(refUrl, url, table, importedAfter);
      expect({ table, ...s, ...diff }).toEqual({
        table,
        ...refSnap.tables[table],
        missing: [],
        extra: [],
        different: [],
      });
    }
  }
  expect(snap.rejects).toEqual(refSnap.rejects);
}
