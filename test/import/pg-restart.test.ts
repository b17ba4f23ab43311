/**
 * A PostgreSQL restart in the middle of `ferry import` (issue 4): the server
 * is stopped (fast shutdown: every connection is cut) once the import has
 * committed a seeded share of its batches, and started again ~2 s later. The
 * CLI must reconnect by itself, resume from its last checkpoint, exit 0 with
 * `retries >= 1` in its JSON report, and leave exactly what one
 * uninterrupted run leaves. A second case cuts only the import's own
 * connection (pg_terminate_backend) and expects the same.
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
import { sql } from 'kysely';
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
  type Snapshot,
  snapshot,
  startCli,
  waitFor,
  withDb,
} from './support/crash-harness.js';

const ON_POSTGRES = TEST_BACKENDS.includes('postgres');
// Restarting the server cuts every other test's connections: opt-in, run alone.
const RESTART_ENABLED = process.env.FERRY_TEST_PG_RESTART === '1';
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

describe.skipIf(!ON_POSTGRES)('ferry import across a lost PostgreSQL connection [postgres]', () => {
  let scratch: string;
  let dataFile: string;
  const dbs: ProvisionedDatabase[] = [];
  const importedAfter = new Date(Date.now() - 10 * 60_000);
  const env = () => ({ CHATCORE_DATA: dataFile, FERRY_DEBUG: '1' });
  let reference: Promise<{ url: string; report: any; snap: Snapshot; rejects: string }> | undefined;

  const freshDb = async () => {
    const db = await provisionDatabase('postgres');
    dbs.push(db);
    await migrateChatcore(db.url);
    return db.url;
  };

  /** One uninterrupted run, shared by the tests. */
  const referenceRun = () =>
    (reference ??= (async () => {
      const url = await freshDb();
      const rejects = path.join(scratch, 'reference.rejects.ndjson');
      const exit = await startCli(importArgs(url, rejects), env()).done;
      expect(exit.code, exit.stderr).toBe(0);
      return { url, report: report(exit), snap: await snapshot(url, importedAfter), rejects };
    })());

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'ferry-pg-restart-'));
    dataFile = (await generateChatcore({ dir: path.join(scratch, 'legacy'), ...sizeFor(MESSAGES), seed: 11 })).file;
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
    for (const db of dbs) await db.cleanup().catch(() => {});
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /**
   * Start the import, call `interrupt` once a seeded share of the records is committed, and
   * check that the same process completes: exit 0, retries >= 1, resumed mid-import, the data,
   * rejects and statistics of the uninterrupted run, and `ferry verify` passes.
   */
  async function interruptedImport(name: string, salt: number, interrupt: (url: string) => Promise<string>) {
    const ref = await referenceRun();
    const total: number = ref.report.records;
    const url = await freshDb();
    const random = rng(SEED + salt);
    const stopAt = Math.round((0.2 + 0.3 * random()) * total);
    const file = path.join(scratch, `${name}.rejects.ndjson`);
    const child = startCli(importArgs(url, file), env());
    const reached = await waitFor(child, () => (child.committed() ?? -1) >= stopAt);
    expect(reached, `the import ended before record ${stopAt}`).toBe('ready');
    const seen = child.committed()!; // the bar shows committed records
    const runningAtInterrupt = !child.exited();
    const what = await interrupt(url);

    const exit = await child.done;
    expect(runningAtInterrupt, 'the import was still running when it was interrupted').toBe(true);
    expect(exit.code, exit.stderr + exit.stdout).toBe(0);
    const last = report(exit);
    expect(last).toMatchObject({
      ok: true,
      records: total,
      rejects: ref.report.rejects,
      rejectedRecords: ref.report.rejectedRecords,
    });
    expect(last.retries).toBeGreaterThanOrEqual(1);
    // It resumed mid-import: from a checkpoint at or after what it had committed before.
    expect(last.resumedFrom).toBeGreaterThanOrEqual(seen);
    expect(last.resumedFrom).toBeLessThan(total);
    // The statistics survive the reconnect: committed batches are not counted twice.
    expect(last.tables).toEqual(ref.report.tables);
    expect(readFileSync(file, 'utf8')).toBe(readFileSync(ref.rejects, 'utf8'));

    const snap = await snapshot(url, importedAfter);
    for (const [table, s] of Object.entries(snap.tables)) {
      expect(s.distinctKeys, `${table}: duplicate keys`).toBe(s.rows);
      if (s.md5 !== ref.snap.tables[table]!.md5 || s.rows !== ref.snap.tables[table]!.rows) {
        const diff = await diffTable(ref.url, url, table, importedAfter);
        expect({ table, ...s, ...diff }).toEqual({
          table,
          ...ref.snap.tables[table],
          missing: [],
          extra: [],
          different: [],
        });
      }
    }
    expect(snap.rejects).toEqual(ref.snap.rejects);

    const verify = await startCli(['verify', IMPORT_FILE, '--url', url, '--json'], env()).done;
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(report(verify).ok).toBe(true);

    console.log(
      `[pg-restart] seed ${SEED + salt}, ${total} records: ${what} after record ${seen}/${total} committed ` +
        `(target ${stopAt}); the import reconnected (${last.retries} retr${last.retries === 1 ? 'y' : 'ies'}), ` +
        `resumed from record ${last.resumedFrom}, exit 0; data equal to the uninterrupted run; verify ok`,
    );
  }

  it.skipIf(!RESTART_ENABLED)(
    'survives a server restart: reconnects, resumes from its checkpoint, completes (FERRY_TEST_PG_RESTART=1)',
    { timeout: 180_000 },
    () =>
      interruptedImport('restart', 0, async () => {
        const downAt = performance.now();
        pgCtl('stop');
        const stoppedMs = performance.now() - downAt;
        await delay(2_000);
        pgCtl('start');
        return `server stopped (fast, ${Math.round(stoppedMs)} ms) and started again ${Math.round(performance.now() - downAt)} ms later`;
      }),
  );

  // Not disruptive (only the import's own connections are cut), so it runs in the main suite.
  it('survives its backend being terminated (pg_terminate_backend)', { timeout: 180_000 }, () =>
    interruptedImport('terminate', 1, async (url) => {
      const n = await withDb(url, async (handle) => {
        const { rows } = await sql<{ n: number }>`select count(pg_terminate_backend(pid))::int as n
          from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`.execute(handle.db);
        return rows[0]?.n ?? 0;
      });
      return `${n} backend(s) of the import terminated`;
    }),
  );
});
