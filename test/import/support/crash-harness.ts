/**
 * Shared by the crash tests (crash.test.ts, pg-restart.test.ts): run the real
 * `ferry import` CLI as a child process on the chatcore example, watch how
 * far it got, kill it, and compare databases.
 *
 * Watching a child without touching it:
 * - committed progress: the child is started with `fake-tty.mjs` preloaded,
 *   so the CLI draws its progress bar (records committed so far, redrawn
 *   after a batch commits, at most every 100 ms) into the stderr pipe;
 * - "the import has begun": on Postgres the checkpoint row is rewritten at the
 *   start of every run (polled); on PGlite, whose data directory only the
 *   child may open, the session temp tables' files (`base/<db>/t<n>_<relfilenode>`)
 *   appear in the data directory right before that checkpoint is written;
 * - the final phase: the run's rejects file is written after the `done`
 *   checkpoint committed, before the report is printed and the database closed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { type DbHandle, openDatabase } from '../../../src/db/open.js';
import { Migrator } from '../../../src/migrate/runner.js';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const BIN = path.join(ROOT, 'bin/ferry.mjs');
export const IMPORT_FILE = path.join(ROOT, 'examples/chatcore/import.ts');
export const MIGRATIONS = path.join(ROOT, 'examples/chatcore/migrations');
const FAKE_TTY = fileURLToPath(new URL('./fake-tty.mjs', import.meta.url));

export const IMPORT_NAME = 'chatcore';

/** Tables the chatcore import writes, each with its natural key (ordering and uniqueness). */
export const TABLE_KEYS: Record<string, string[]> = {
  users: ['username'],
  conversations: ['id'],
  messages: ['conversation_id', 'content_hash'],
  sessions: ['access_jti'],
  documents: ['id'],
  refresh_tokens: ['token_hash'], // not imported: must stay empty
};

/** `ctx.unusablePassword()` output: random by design (insert-only), compared as a class. */
const UNUSABLE_PASSWORD = '$scrypt$ln=10,r=8,p=1$%';

// ---------------------------------------------------------------- seeded randomness

/** mulberry32: a small seeded PRNG, so the kill points of a run can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- databases

export async function withDb<T>(url: string, fn: (handle: DbHandle) => Promise<T>): Promise<T> {
  const handle = await openDatabase({ url });
  try {
    return await fn(handle);
  } finally {
    await handle.close();
  }
}

export async function migrateChatcore(url: string): Promise<void> {
  await withDb(url, async (handle) => {
    const run = await new Migrator(handle.db, { dir: MIGRATIONS }).up();
    if (!run.ok) throw new Error(`chatcore migrations failed: ${JSON.stringify(run)}`);
  });
}

export interface ImportState {
  runId: string;
  status: 'running' | 'done';
  position: number;
  updatedAt: string;
  stats: unknown;
}

export async function readState(handle: DbHandle): Promise<ImportState | null> {
  const exists = await sql<{ ok: boolean }>`select to_regclass('ferry_import_state') is not null as ok`.execute(
    handle.db,
  );
  if (!exists.rows[0]?.ok) return null;
  const { rows } = await sql<{
    run_id: string;
    status: 'running' | 'done';
    position: string | number;
    updated_at: string;
    stats: unknown;
  }>`select run_id, status, position, updated_at::text as updated_at, stats
       from ferry_import_state where name = ${IMPORT_NAME}`.execute(handle.db);
  const row = rows[0];
  return row
    ? {
        runId: row.run_id,
        status: row.status,
        position: Number(row.position),
        updatedAt: row.updated_at,
        stats: row.stats,
      }
    : null;
}

/**
 * The checkpoint as the database holds it after a crash. A PGlite data
 * directory is copied and the copy opened (recovering it), so the original is
 * left exactly as the killed process left it for the next CLI run to recover.
 */
export async function readStateAfterCrash(url: string, scratch: string): Promise<ImportState | null> {
  if (!url.startsWith('pglite:')) return withDb(url, readState);
  const copy = path.join(scratch, `inspect-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  await cp(url.slice('pglite:'.length), copy, { recursive: true });
  try {
    return await withDb(`pglite:${copy}`, readState);
  } finally {
    await rm(copy, { recursive: true, force: true });
    await rm(`${copy}.lock`, { force: true });
  }
}

/** Postgres: wait until no other session is connected to this database (the killed client's backend ended). */
export async function waitForOrphans(url: string, timeoutMs = 20_000): Promise<void> {
  if (url.startsWith('pglite:')) return;
  await withDb(url, async (handle) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()`.execute(handle.db);
      if (rows[0]?.n === 0) return;
      if (Date.now() > deadline)
        throw new Error(`sessions of a killed import still open on ${url} after ${timeoutMs} ms`);
      await delay(25);
    }
  });
}

export interface TableSnapshot {
  rows: number;
  distinctKeys: number;
  md5: string | null;
}

export interface Snapshot {
  tables: Record<string, TableSnapshot>;
  /** The latest run's rejects as the database holds them (run id and timestamps left out). */
  rejects: { rows: number; md5: string | null };
}

/**
 * Per table: row count, distinct natural keys, and an md5 of every row in key
 * order. Left out, because they differ between two correct imports:
 * serial ids (sequence values are consumed by rolled-back batches and by
 * ON CONFLICT), timestamps that came from a `now()` default (>= `importedAfter`),
 * and unusable random password hashes (compared as "unusable").
 */
export async function snapshot(url: string, importedAfter: Date): Promise<Snapshot> {
  return withDb(url, async (handle) => {
    const tables: Record<string, TableSnapshot> = {};
    for (const [table, key] of Object.entries(TABLE_KEYS)) {
      const expr = await rowExpression(handle, table, importedAfter);
      const keyList = key.map((k) => `"${k}"`).join(', ');
      const { rows } = await sql<{ rows: number; distinct_keys: number; md5: string | null }>`
        select count(*)::int as rows,
               count(distinct (${sql.raw(keyList)}, 0))::int as distinct_keys,
               md5(string_agg(${sql.raw(expr)}, E'\n' order by ${sql.raw(keyList)})) as md5
          from ${sql.table(table)} t`.execute(handle.db);
      const r = rows[0]!;
      tables[table] = { rows: r.rows, distinctKeys: r.distinct_keys, md5: r.md5 };
    }
    const { rows } = await sql<{ rows: number; md5: string | null }>`
      select count(*)::int as rows,
             md5(string_agg(row(ordinal, row_index, location, table_name, column_name, reason, sqlstate, record)::text,
                            E'\n' order by ordinal, row_index nulls first, reason)) as md5
        from ferry_import_rejects
       where name = ${IMPORT_NAME}
         and run_id = (select run_id from ferry_import_state where name = ${IMPORT_NAME})`.execute(handle.db);
    return { tables, rejects: rows[0]! };
  });
}

/** `row(...)::text` over the comparable columns of `table`. */
async function rowExpression(handle: DbHandle, table: string, importedAfter: Date): Promise<string> {
  const { rows } = await sql<{ name: string; type: string; serial: boolean }>`
    select column_name as name, data_type as type, coalesce(column_default like 'nextval(%', false) as serial
      from information_schema.columns
     where table_schema = current_schema() and table_name = ${table}
     order by ordinal_position`.execute(handle.db);
  const cutoff = `'${importedAfter.toISOString()}'::timestamptz`;
  const parts = rows
    .filter((c) => !c.serial)
    .map((c) => {
      const col = `t."${c.name}"`;
      if (table === 'users' && c.name === 'password_hash')
        return `case when ${col} like '${UNUSABLE_PASSWORD}' then 'unusable' else ${col} end`;
      if (c.type === 'timestamp with time zone')
        return `case when ${col} >= ${cutoff} then 'now()' else ${col}::text end`;
      return `${col}::text`;
    });
  return `row(${parts.join(', ')})::text`;
}

/** Keys present in one database and not the other, and keys whose rows differ (first few), for a failure message. */
export async function diffTable(refUrl: string, url: string, table: string, importedAfter: Date) {
  const rowsOf = (u: string) =>
    withDb(u, async (handle) => {
      const expr = await rowExpression(handle, table, importedAfter);
      const key = TABLE_KEYS[table]!.map((k) => `t."${k}"::text`).join(` || '|' || `);
      const { rows } = await sql<{ k: string; v: string }>`
        select ${sql.raw(key)} as k, md5(${sql.raw(expr)}) as v from ${sql.table(table)} t`.execute(handle.db);
      return new Map(rows.map((r) => [r.k, r.v]));
    });
  const [a, b] = [await rowsOf(refUrl), await rowsOf(url)];
  const missing = [...a.keys()].filter((k) => !b.has(k));
  const extra = [...b.keys()].filter((k) => !a.has(k));
  const different = [...a.keys()].filter((k) => b.has(k) && a.get(k) !== b.get(k));
  return { missing: missing.slice(0, 5), extra: extra.slice(0, 5), different: different.slice(0, 5) };
}

// ---------------------------------------------------------------- the CLI as a child

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliChild {
  proc: ChildProcess;
  /** Records committed so far as the progress bar last showed them; null before the first batch commits. */
  committed(): number | null;
  exited(): boolean;
  done: Promise<Exit>;
}

const live = new Set<ChildProcess>();

/** SIGKILL every child still running (afterEach/afterAll). */
export function killAll(): void {
  for (const proc of live) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  live.clear();
}

export function startCli(args: string[], env: Record<string, string>): CliChild {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.DATABASE_URL;
  delete childEnv.NODE_OPTIONS; // vitest's worker options are not the CLI's
  const proc = spawn(process.execPath, ['--import', pathToImportSpecifier(FAKE_TTY), BIN, ...args], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let stdout = '';
  let stderr = '';
  let committed: number | null = null;
  let exited = false;
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const m of chunk.matchAll(/([\d,]+) records {2}/g)) committed = Number(m[1]!.replaceAll(',', ''));
  });
  const done = new Promise<Exit>((resolve) => {
    proc.on('close', (code, signal) => {
      exited = true;
      live.delete(proc);
      resolve({ code, signal, stdout, stderr: withoutBar(stderr) });
    });
  });
  return { proc, committed: () => committed, exited: () => exited, done };
}

/** stderr without the progress bar's redraws (`\r ESC[2K <n> records  <rates>  <n> rejected[  ETA m:ss]`). */
function withoutBar(text: string): string {
  const clear = `${String.fromCharCode(27)}[2K`;
  return text
    .split(`\r${clear}`)
    .map((part) => part.replace(/^[\d,]+ records {2}[^\n]*? rejected( {2}ETA [\d:]+)?/, ''))
    .join('');
}

function pathToImportSpecifier(file: string): string {
  return pathToFileURL(file).href;
}

export function importArgs(url: string, rejectsFile: string, extra: string[] = []): string[] {
  return ['import', IMPORT_FILE, '--url', url, '--batch-size', '500', '--json', '--rejects', rejectsFile, ...extra];
}

/** Parse the JSON report an `--json` run printed. */
export function report<T = any>(exit: Exit): T {
  const start = exit.stdout.indexOf('{');
  if (start < 0) throw new Error(`no JSON report on stdout (exit ${exit.code ?? exit.signal}): ${exit.stderr}`);
  return JSON.parse(exit.stdout.slice(start)) as T;
}

/** Poll `ready()` every few ms until it says so ('ready') or the child ends ('exited'). */
export async function waitFor(child: CliChild, ready: () => boolean | Promise<boolean>, pollMs = 5) {
  while (!child.exited()) {
    if (await ready()) return child.exited() ? ('exited' as const) : ('ready' as const);
    await delay(pollMs);
  }
  return 'exited' as const;
}

/** Wait for `ready()`, then SIGKILL the child. Returns 'killed', or 'exited' when it finished on its own first. */
export async function killWhen(child: CliChild, ready: () => boolean | Promise<boolean>, pollMs = 5) {
  const outcome = await waitFor(child, ready, pollMs);
  if (outcome === 'ready') child.proc.kill('SIGKILL');
  await child.done;
  return outcome === 'ready' ? ('killed' as const) : outcome;
}

/** Temp-relation files (`t<backend>_<relfilenode>`) under a PGlite data directory. */
function pgliteTempFiles(dataDir: string): Set<string> {
  const found = new Set<string>();
  const base = path.join(dataDir, 'base');
  if (!existsSync(base)) return found;
  for (const db of readdirSync(base)) {
    try {
      for (const f of readdirSync(path.join(base, db))) if (/^t\d+_\d+$/.test(f)) found.add(`${db}/${f}`);
    } catch {
      // a directory being created or removed
    }
  }
  return found;
}

export interface StartWatch {
  /** Whether the run being watched has begun its import (see the file comment); cheap to poll. */
  begun(): Promise<boolean>;
  /**
   * Postgres only (null on PGlite): after `begun()`, whether a batch transaction is open
   * and has written something (its backend holds a transaction id).
   */
  inBatch: (() => Promise<boolean>) | null;
  close(): Promise<void>;
}

/**
 * Call before starting the child. Postgres: the checkpoint row is (re)written
 * — the statement right before the first batch. PGlite: a temp file that was
 * not there before appears (the staging tables; the checkpoint follows; a
 * killed run leaves its temp files behind, hence "new").
 */
export async function watchStart(url: string): Promise<StartWatch> {
  if (url.startsWith('pglite:')) {
    const dir = url.slice('pglite:'.length);
    const before = pgliteTempFiles(dir);
    return {
      async begun() {
        for (const f of pgliteTempFiles(dir)) if (!before.has(f)) return true;
        return false;
      },
      inBatch: null,
      async close() {},
    };
  }
  const handle = await openDatabase({ url });
  const before = await readState(handle);
  return {
    async begun() {
      const now = await readState(handle).catch(() => null);
      return now !== null && (before === null || now.updatedAt !== before.updatedAt || now.runId !== before.runId);
    },
    async inBatch() {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and backend_xid is not null`.execute(handle.db);
      return (rows[0]?.n ?? 0) > 0;
    },
    close: () => handle.close(),
  };
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
