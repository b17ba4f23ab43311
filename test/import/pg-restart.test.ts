/**
 * A PostgreSQL restart in the middle of `ferry import` (issue 4): the server
 * is stopped (fast shutdown: every connection is cut) once the import has
 * committed a seeded share of its batches, and started again ~2 s later. The
 * CLI must reconnect by itself, resume from its last checkpoint, exit 0 with
 * `retries >= 1` in its JSON report, and leave exactly what one
 * uninterrupted run leaves.
 *
 * Restarting the server cuts every other test's connections, so this file
 * runs only when asked, alone:
 *
 *   FERRY_TEST_PG_RESTART=1 npx vitest run test/import/pg-restart.test.ts
 *
 * It needs pg_ctlcluster (Debian's postgresql-common) and the right to use it
 * (root or postgres); FERRY_TEST_PG_CLUSTER="<version> <name>" picks the
 * cluster (default: the only version under /etc/postgresql, "main").
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateChatcore, sizeFor } from '../../examples/chatcore/generate.js';
import { type ProvisionedDatabase, provisionDatabase, TEST_BACKENDS, withAdmin } from '../support/backends.js';
import {
  delay,
  diffTable,
  IMPORT_FILE,
  importArgs,
  killAll,
  migrateChatcore,
  report,
  rng,
  snapshot,
  startCli,
  waitFor,
} from './support/crash-harness.js';

const ENABLED = process.env.FERRY_TEST_PG_RESTART === '1' && TEST_BACKENDS.includes('postgres');
const SEED = Number(process.env.FERRY_CRASH_SEED ?? 4_2026);
const MESSAGES = Number(process.env.FERRY_CRASH_MESSAGES ?? 10_000);

function cluster(): [string, string] {
  const given = process.env.FERRY_TEST_PG_CLUSTER?.trim().split(/\s+/);
  if (given?.length === 2) return [given[0]!, given[1]!];
  const versions = readdirSync('/etc/postgresql');
  if (versions.length !== 1) throw new Error(`set FERRY_TEST_PG_CLUSTER: clusters for ${versions.join(', ')}`);
  return [versions[0]!, 'main'];
}

function pgCtl(action: 'stop' | 'start'): void {
  const [version, name] = cluster();
  const mode = action === 'stop' ? ['-m', 'fast'] : [];
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', ...mode, version, name, action], { stdio: 'pipe' });
}

async function serverAnswers(): Promise<boolean> {
  return withAdmin((c) => c.query('select 1')).then(
    () => true,
    () => false,
  );
}

describe.skipIf(!ENABLED)('ferry import across a PostgreSQL restart [postgres]', () => {
  let scratch: string;
  let dataFile: string;
  let ref: ProvisionedDatabase;
  let target: ProvisionedDatabase;
  const importedAfter = new Date(Date.now() - 10 * 60_000);

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'ferry-pg-restart-'));
    dataFile = (await generateChatcore({ dir: path.join(scratch, 'legacy'), ...sizeFor(MESSAGES), seed: 11 })).file;
    ref = await provisionDatabase('postgres');
    target = await provisionDatabase('postgres');
    await migrateChatcore(ref.url);
    await migrateChatcore(target.url);
  });

  afterEach(() => killAll());
  afterAll(async () => {
    killAll();
    // Never leave the server down for whatever runs next.
    if (!(await serverAnswers())) {
      try {
        pgCtl('start');
      } catch {
        // already starting
      }
      for (let i = 0; i < 30 && !(await serverAnswers()); i++) await delay(1_000);
    }
    await ref?.cleanup();
    await target?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('reconnects, resumes from its checkpoint and completes: same data as an uninterrupted run', {
    timeout: 180_000,
  }, async () => {
    const env = { CHATCORE_DATA: dataFile, FERRY_DEBUG: '1' };
    const refFile = path.join(scratch, 'reference.rejects.ndjson');
    const refExit = await startCli(importArgs(ref.url, refFile), env).done;
    expect(refExit.code, refExit.stderr).toBe(0);
    const refReport = report(refExit);
    const total: number = refReport.records;
    const refSnap = await snapshot(ref.url, importedAfter);

    const random = rng(SEED);
    const stopAt = Math.round((0.2 + 0.3 * random()) * total);
    const file = path.join(scratch, 'restarted.rejects.ndjson');
    const child = startCli(importArgs(target.url, file), env);
    const reached = await waitFor(child, () => (child.committed() ?? -1) >= stopAt);
    expect(reached, `the import ended before record ${stopAt}`).toBe('ready');
    const seen = child.committed()!; // the bar shows committed records

    const downAt = performance.now();
    const runningAtStop = !child.exited();
    pgCtl('stop');
    const stoppedMs = performance.now() - downAt;
    await delay(2_000);
    pgCtl('start');
    const upMs = performance.now() - downAt;

    const exit = await child.done;
    expect(runningAtStop, 'the import was still running when the server was stopped').toBe(true);
    expect(exit.code, exit.stderr + exit.stdout).toBe(0);
    const last = report(exit);
    expect(last).toMatchObject({
      ok: true,
      records: total,
      rejects: refReport.rejects,
      rejectedRecords: refReport.rejectedRecords,
    });
    expect(last.retries).toBeGreaterThanOrEqual(1);
    // It resumed mid-import: from a checkpoint at or after what it had committed before the stop.
    expect(last.resumedFrom).toBeGreaterThanOrEqual(seen);
    expect(last.resumedFrom).toBeLessThan(total);
    // The statistics survive the reconnect: committed batches are not counted twice.
    expect(last.tables).toEqual(refReport.tables);
    expect(readFileSync(file, 'utf8')).toBe(readFileSync(refFile, 'utf8'));

    const snap = await snapshot(target.url, importedAfter);
    for (const [table, s] of Object.entries(snap.tables)) {
      expect(s.distinctKeys, `${table}: duplicate keys`).toBe(s.rows);
      if (s.md5 !== refSnap.tables[table]!.md5 || s.rows !== refSnap.tables[table]!.rows) {
        const diff = await diffTable(ref.url, target.url, table, importedAfter);
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

    const verify = await startCli(['verify', IMPORT_FILE, '--url', target.url, '--json'], env).done;
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(report(verify).ok).toBe(true);

    console.log(
      `[pg-restart] seed ${SEED}, ${total} records: server stopped after record ${seen}/${total} committed ` +
        `(target ${stopAt}), stop took ${Math.round(stoppedMs)} ms, back after ${Math.round(upMs)} ms; ` +
        `the import reconnected (${last.retries} retr${last.retries === 1 ? 'y' : 'ies'}), resumed from record ` +
        `${last.resumedFrom}, exit 0; data equal to the uninterrupted run; verify ok`,
    );
  });
});
