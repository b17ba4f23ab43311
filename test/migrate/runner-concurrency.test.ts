/**
 * Several OS processes migrating one PostgreSQL database at once, and a
 * runner killed mid-migration. PostgreSQL only: PGlite is one process's
 * embedded database, so there is nothing to race.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import type { RunResult } from '../../src/migrate/runner.js';
import { lockKeyFor, Migrator } from '../../src/migrate/runner.js';
import { type ProvisionedDatabase, provisionDatabase, queryOnce, TEST_BACKENDS } from '../support/backends.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./runner-child.ts', import.meta.url));

interface ChildReport {
  pid: number;
  result?: RunResult;
  error?: { code?: string; message?: string };
}

interface Child {
  proc: ChildProcess;
  ready: Promise<void>;
  /** Resolves with the exit code and the report line (if any). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; report: ChildReport | null; stderr: string }>;
}

const children: ChildProcess[] = [];

function startChild(url: string, dir: string, lockTimeoutMs = 60_000): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, url, dir, String(lockTimeoutMs)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(proc);
  let out = '';
  let stderr = '';
  let markReady: () => void;
  let failReady: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  proc.stdout!.on('data', (chunk) => {
    out += chunk;
    if (/^ready \d+$/m.test(out)) markReady();
  });
  proc.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const done = new Promise<Awaited<Child['done']>>((resolve) => {
    proc.on('exit', (code, signal) => {
      failReady(new Error(`child exited (${code ?? signal}) before it was ready: ${stderr}`));
      const line = out.split('\n').find((l) => l.startsWith('{'));
      resolve({ code, signal, report: line ? (JSON.parse(line) as ChildReport) : null, stderr });
    });
  });
  return { proc, ready, done };
}

function put(dir: string, id: string, up: string): void {
  mkdirSync(path.join(dir, id), { recursive: true });
  writeFileSync(path.join(dir, id, 'up.sql'), up);
}

describe.skipIf(!TEST_BACKENDS.includes('postgres'))('migrate runner, several processes [postgres]', () => {
  const dbs: ProvisionedDatabase[] = [];
  const dirs: string[] = [];
  let handle: DbHandle | undefined;

  const fresh = async () => {
    const db = await provisionDatabase('postgres');
    dbs.push(db);
    const dir = mkdtempSync(path.join(tmpdir(), 'ferry-runner-conc-'));
    dirs.push(dir);
    return { url: db.url, dir };
  };

  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await handle?.close();
    handle = undefined;
  });

  afterAll(async () => {
    for (const db of dbs) await db.cleanup().catch(() => {});
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('five processes run up at once: each migration is applied exactly once', { timeout: 60_000 }, async () => {
    const { url, dir } = await fresh();
    const ids = [
      '20240101000000_create_log',
      '20240102000000_create_widgets',
      '20240103000000_widgets_name_idx',
      '20240104000000_add_color',
      '20240105000000_seed',
    ];
    put(
      dir,
      ids[0]!,
      'create table applied_log (migration text not null, pid int not null default pg_backend_pid(), at timestamptz not null default clock_timestamp());\n' +
        "insert into applied_log (migration) values ('create_log');\n",
    );
    put(
      dir,
      ids[1]!,
      'create table widgets (id serial primary key, name text not null);\n' +
        "insert into widgets (name) select 'w' || g from generate_series(1, 5000) g;\n" +
        'select pg_sleep(0.3);\n' + // widen the window in which the others wait
        "insert into applied_log (migration) values ('create_widgets');\n",
    );
    put(dir, ids[2]!, '-- ferry:no-transaction\ncreate index concurrently widgets_name on widgets (name);\n');
    put(
      dir,
      ids[3]!,
      "alter table widgets add column color text not null default 'red';\n" +
        "insert into applied_log (migration) values ('add_color');\n",
    );
    put(
      dir,
      ids[4]!,
      "insert into widgets (name) values ('seed');\ninsert into applied_log (migration) values ('seed');\n",
    );

    const kids = Array.from({ length: 5 }, () => startChild(url, dir));
    await Promise.all(kids.map((k) => k.ready));
    const started = performance.now();
    for (const k of kids) k.proc.stdin!.write('go\n');
    const outcomes = await Promise.all(kids.map((k) => k.done));
    const wallMs = performance.now() - started;

    for (const o of outcomes) {
      expect(o.stderr).toBe('');
      expect(o.report?.error).toBeUndefined();
      expect(o.code).toBe(0);
    }
    const applied = outcomes.flatMap((o) => o.report!.result!.results.filter((r) => r.status === 'applied'));
    expect(applied.map((r) => r.id).sort()).toEqual(ids);
    const busy = outcomes.filter((o) => o.report!.result!.results.length > 0).length;
    console.log(
      `[runner] 5 processes, ${ids.length} migrations (one CONCURRENTLY): done in ${Math.round(wallMs)} ms; ` +
        `${busy} process(es) applied something, the others found nothing pending after waiting for the lock`,
    );

    const history = await queryOnce<{ id: string; applied_by: string }>(
      url,
      'select id, applied_by from ferry_migrations order by id',
    );
    expect(history.map((h) => h.id)).toEqual(ids);
    const log = await queryOnce<{ migration: string }>(url, 'select migration from applied_log order by at');
    expect(log.map((l) => l.migration)).toEqual(['create_log', 'create_widgets', 'add_color', 'seed']);
    const index = await queryOnce<{ valid: boolean }>(
      url,
      "select indisvalid as valid from pg_index where indexrelid = 'widgets_name'::regclass",
    );
    expect(index).toEqual([{ valid: true }]);
    // Nobody left the lock behind (in this test's database: other test files hold advisory locks of their own).
    const locks = await queryOnce(
      url,
      "select 1 from pg_locks l join pg_database d on d.oid = l.database where l.locktype = 'advisory' and d.datname = current_database()",
    );
    expect(locks).toEqual([]);
  });

  it('a runner killed mid-migration leaves no history row and frees the lock', { timeout: 60_000 }, async () => {
    const { url, dir } = await fresh();
    put(
      dir,
      '20240101000000_create_log',
      'create table applied_log (migration text not null);\n' + "insert into applied_log values ('create_log');\n",
    );
    put(
      dir,
      '20240102000000_slow',
      "insert into applied_log values ('slow');\nselect pg_sleep(5);\ninsert into applied_log values ('slow_end');\n",
    );
    put(dir, '20240103000000_after', "insert into applied_log values ('after');\n");

    const kid = startChild(url, dir);
    await kid.ready;
    kid.proc.stdin!.write('go\n');
    // Wait until it is inside the slow statement.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const rows = await queryOnce(
        url,
        "select pid from pg_stat_activity where datname = current_database() and state = 'active' and query like 'select pg_sleep(5)%'",
      );
      if (rows.length > 0) break;
      if (Date.now() > deadline) throw new Error('the child never reached the slow migration');
      await new Promise((r) => setTimeout(r, 50));
    }
    kid.proc.kill('SIGKILL');
    const killed = await kid.done;
    expect(killed.signal).toBe('SIGKILL');
    const killedAt = performance.now();

    // The slow migration's transaction never committed.
    expect(
      (await queryOnce<{ id: string }>(url, 'select id from ferry_migrations order by id')).map((r) => r.id),
    ).toEqual(['20240101000000_create_log']);

    // The orphaned backend notices the dead client (client_connection_check_interval = 1 s) and ends,
    // dropping the session lock, well before its 5 s sleep would have finished.
    const key = String(lockKeyFor('ferry_migrations'));
    const watcher = new pg.Client({ connectionString: url });
    await watcher.connect();
    let freedAfterMs: number;
    try {
      for (;;) {
        const { rows } = await watcher.query('select pg_try_advisory_lock($1::bigint) as ok', [key]);
        if (rows[0].ok) {
          freedAfterMs = performance.now() - killedAt;
          await watcher.query('select pg_advisory_unlock($1::bigint)', [key]);
          break;
        }
        if (performance.now() - killedAt > 15_000) throw new Error('the lock was never freed');
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await watcher.end();
    }
    console.log(`[runner] killed during pg_sleep(5): the lock was free ${Math.round(freedAfterMs)} ms after SIGKILL`);
    expect(freedAfterMs).toBeLessThan(3_500);

    handle = await openDatabase({ url });
    const migrator = new Migrator(handle.db, { dir, lockTimeoutMs: 20_000 });
    const run = await migrator.up();
    expect(run.ok).toBe(true);
    expect(run.results.map((r) => [r.id, r.status])).toEqual([
      ['20240102000000_slow', 'applied'],
      ['20240103000000_after', 'applied'],
    ]);
    const log = await queryOnce<{ migration: string }>(url, 'select migration from applied_log');
    expect(log.map((l) => l.migration).sort()).toEqual(['after', 'create_log', 'slow', 'slow_end']);
    expect((await migrator.history()).map((h) => h.id)).toEqual([
      '20240101000000_create_log',
      '20240102000000_slow',
      '20240103000000_after',
    ]);
  });
});
