/**
 * `restore()`: load a backup written by `backup()` into a database.
 *
 * Every file is checked against the manifest (size, then sha256) before the
 * target is opened, so a truncated or damaged backup changes nothing. Then,
 * by what the backup holds and what the target is:
 *
 *   target Postgres, backup from Postgres  pg_restore of database.dump
 *   target PGlite on disk, from PGlite     the data-dir tarball, loaded into
 *                                          the (emptied) data dir
 *   anything else                          the portable dump (portable.ts),
 *                                          in one transaction
 *
 * A target that already holds tables is refused unless `clean`, which drops
 * the current schema (everything in it) and creates it again. With
 * `verify`, the manifest's row counts and checksums are recomputed on the
 * target afterwards: E_BACKUP_VERIFY names the tables that differ.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import {
  connectionStringOf,
  type DbHandle,
  type OpenOptions,
  openDatabase,
  resolveDatabaseTarget,
} from '../db/open.js';
import { needsInitdb } from '../db/pglite-initdb.js';
import type { RawSession } from '../db/session.js';
import { FerryError } from '../errors.js';
import { quoteIdent } from '../schema/identifiers.js';
import { PG_DUMP_FILE, PGLITE_DATADIR_FILE } from './backup.js';
import { E_BACKUP_TARGET_NOT_EMPTY, E_BACKUP_UNSUPPORTED } from './errors.js';
import {
  type BackupManifest,
  checkFiles,
  compareStats,
  readManifest,
  STABLE_TEXT_SETTINGS,
  type TableDifference,
  tableStats,
  verifyError,
} from './manifest.js';
import { findPgTool, libpqTarget, runTool } from './pg-tools.js';
import { loadPortableDump } from './portable.js';

export type RestoreMethod = 'pg_restore' | 'pglite-datadir' | 'portable';

export interface RestoreOptions {
  /** The backup directory (holding manifest.json). */
  backup: string;
  /** The database to restore into, as `openDatabase` takes it (`url`, `dataDir`, `env`, `cwd`...). */
  target?: OpenOptions;
  /** Replace whatever the target holds (drops its current schema first). */
  clean?: boolean;
  /** Recompute counts and checksums on the target afterwards; E_BACKUP_VERIFY on any difference. */
  verify?: boolean;
  /** Folder holding pg_restore (default: the PATH of `env`). */
  binDir?: string;
  /** Environment for finding and running pg_restore (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  onStep?: (step: string) => void;
}

export interface RestoreResult {
  method: RestoreMethod;
  /** Redacted URL of the target. */
  target: string;
  manifest: BackupManifest;
  /** Whether counts and checksums were recomputed (and matched: a difference throws). */
  verified: boolean;
  durationMs: number;
}

/**
 *   await restore({ backup: './backups/20261203T134501123Z-app', target: { url }, verify: true });
 */
export async function restore(options: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const step = options.onStep ?? (() => {});
  const env = options.env ?? process.env;
  const dir = path.resolve(options.backup);
  step('checking files');
  const manifest = await readManifest(dir);
  await checkFiles(dir, manifest);
  const has = (kind: string) => manifest.files.some((f) => f.kind === kind);
  const target = resolveDatabaseTarget({ env, ...options.target });
  let method: RestoreMethod;
  if (target.backend === 'postgres' && has('pg_dump')) method = 'pg_restore';
  else if (target.backend === 'pglite' && target.dataDir !== null && has('pglite-datadir')) method = 'pglite-datadir';
  else if (has('portable')) method = 'portable';
  else {
    throw new FerryError(
      E_BACKUP_UNSUPPORTED,
      `The backup ${dir} (from ${manifest.source.backend}) cannot be restored into ${target.redacted}: it has no portable dump, ` +
        `because the source held objects the portable dump cannot carry: ${manifest.notPortable.join(', ')}. ` +
        `Restore it into ${manifest.source.backend === 'pglite' ? 'a PGlite data dir' : 'PostgreSQL'}, or drop those objects (recreate them by hand) and back up again.`,
      { details: { notPortable: manifest.notPortable } },
    );
  }
  let db: DbHandle | undefined;
  try {
    if (method === 'pglite-datadir') db = await restoreDataDir(dir, target.redacted, options, step);
    else {
      db = await openDatabase({ env, ...options.target });
      if (method === 'pg_restore') await restorePgDump(db, dir, options, env, step);
      else {
        const opened = db;
        step('loading the portable dump');
        await opened.session((s) => inTransaction(s, () => loadPortable(s, opened, dir, options.clean === true)));
      }
    }
    if (options.verify) {
      step('verifying');
      const diffs = await verifyAgainst(db, manifest);
      if (diffs.length > 0) throw verifyError(`The restored database ${db.redactedUrl}`, diffs);
    }
    return {
      method,
      target: db.redactedUrl,
      manifest,
      verified: options.verify === true,
      durationMs: performance.now() - started,
    };
  } finally {
    await db?.close();
  }
}

/**
 * The tables whose count or checksum on `db` differ from the manifest's
 * (empty when all agree), read in one snapshot.
 */
export function verifyAgainst(db: DbHandle, manifest: BackupManifest): Promise<TableDifference[]> {
  return db.session(async (s) => {
    await s.query('begin isolation level repeatable read read only');
    try {
      await s.query(STABLE_TEXT_SETTINGS);
      return compareStats(manifest.tables, await tableStats(s));
    } finally {
      await s.query('rollback').catch(() => {});
    }
  });
}

async function inTransaction<T>(s: RawSession, fn: () => Promise<T>): Promise<T> {
  await s.query('begin');
  try {
    const result = await fn();
    await s.query('commit');
    return result;
  } catch (err) {
    await s.query('rollback').catch(() => {});
    throw err;
  }
}

async function loadPortable(s: RawSession, db: DbHandle, dir: string, clean: boolean): Promise<void> {
  await emptyTarget(s, db.redactedUrl, clean);
  await s.query(STABLE_TEXT_SETTINGS);
  await loadPortableDump(s, dir);
}

/**
 * Refuse a target holding any relation outside the system schemas, unless
 * `clean`: then drop the current schema with everything in it and create it
 * again (owned as PostgreSQL 15+ creates `public`).
 */
async function emptyTarget(s: RawSession, where: string, clean: boolean): Promise<void> {
  const { rows } = await s.query<{ name: string }>(
    `select n.nspname || '.' || c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
      order by (c.relkind <> 'r'), 1 limit 10`,
  );
  if (rows.length === 0) return;
  if (!clean) {
    const tables = rows.map((r) => r.name);
    throw new FerryError(
      E_BACKUP_TARGET_NOT_EMPTY,
      `The target database ${where} is not empty (it holds ${tables.join(', ')}${tables.length === 10 ? ', …' : ''}). ` +
        'Restore into an empty database, or pass --clean (clean: true) to drop its current schema first.',
      { details: { tables } },
    );
  }
  const schema = await s.query<{ name: string }>('select current_schema() as name');
  const name = quoteIdent((schema.rows[0] as { name: string }).name);
  await s.query(`drop schema ${name} cascade`);
  await s.query(
    name === 'public'
      ? 'create schema public authorization pg_database_owner; grant usage on schema public to public'
      : `create schema ${name}`,
  );
}

async function restorePgDump(
  db: DbHandle,
  dir: string,
  options: RestoreOptions,
  env: NodeJS.ProcessEnv,
  step: (s: string) => void,
): Promise<void> {
  const version = await db.session((s) =>
    s.query<{ n: string | number }>("select current_setting('server_version_num') as n"),
  );
  const major = Math.floor(Number(version.rows[0]?.n) / 10000);
  const pgRestore = await findPgTool('pg_restore', major, { env, binDir: options.binDir });
  // Emptied (or refused) in its own transaction: pg_restore runs on its own connection.
  await db.session((s) => inTransaction(s, () => emptyTarget(s, db.redactedUrl, options.clean === true)));
  const connectionString = connectionStringOf(db) as string;
  const target = libpqTarget(connectionString, env);
  step('pg_restore');
  await runTool(
    pgRestore.path,
    [
      '--no-owner',
      '--no-privileges',
      '--single-transaction',
      '--exit-on-error',
      '-d',
      target.url,
      path.join(dir, PG_DUMP_FILE),
    ],
    { env: target.env, secretsOf: connectionString },
  );
}

/**
 * Load the data-dir tarball into the target's data dir: a dir that already
 * holds a database is opened and checked for tables first (refused unless
 * `clean`), then emptied; PGlite starts from the tarball.
 */
async function restoreDataDir(
  dir: string,
  where: string,
  options: RestoreOptions,
  step: (s: string) => void,
): Promise<DbHandle> {
  const dataDir = (resolveDatabaseTarget({ env: options.env, ...options.target }) as { dataDir: string }).dataDir;
  const entries = await readdir(dataDir).catch(() => [] as string[]);
  if (entries.length > 0 && needsInitdb(dataDir)) {
    // Not a database Ferry made: never delete someone's folder.
    throw new FerryError(
      E_BACKUP_TARGET_NOT_EMPTY,
      `The target data dir ${dataDir} holds files but no database (${entries.slice(0, 5).join(', ')}). ` +
        'Restore into a new or empty folder.',
      { details: { tables: [] } },
    );
  }
  if (entries.length > 0) {
    const current = await openDatabase({ env: options.env, ...options.target });
    try {
      await current.session((s) => inTransaction(s, () => emptyTarget(s, where, options.clean === true)));
    } finally {
      await current.close();
    }
    await rm(dataDir, { recursive: true, force: true });
  }
  await mkdir(dataDir, { recursive: true });
  step('loading the data dir');
  const tarball = await readFile(path.join(dir, PGLITE_DATADIR_FILE));
  return openDatabase({ env: options.env, ...options.target, loadDataDir: new Blob([tarball]) });
}
