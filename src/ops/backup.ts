/**
 * `backup()`: a directory `<out>/<timestamp>-<db>/` holding
 *
 *   database.dump           Postgres: `pg_dump -Fc` (restores with pg_restore)
 *   pglite-datadir.tar.gz   PGlite: the data dir (restores into PGlite only)
 *   portable/…              both: Ferry's portable dump (see portable.ts),
 *                           which restores into either backend
 *   manifest.json           every file's size and sha256, the server version,
 *                           the last applied migration, each table's row
 *                           count and content checksum
 *
 * Written under a hidden temporary name and renamed once the manifest is
 * written, so a failed backup leaves nothing that looks complete (and is
 * removed). On Postgres, pg_dump, the portable dump and the checksums all
 * read one exported snapshot, so they describe the same data.
 *
 * The portable dump is written on Postgres too (rather than converting the
 * -Fc file at restore time): restoring a server's data into PGlite then
 * needs no pg_restore of a matching version on the laptop, and it is
 * checked by the same manifest. It costs backup time; bench/backup.bench.ts
 * measures how much against plain `pg_dump -Fc`.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connectionStringOf, type DbHandle, dumpDataDirOf } from '../db/open.js';
import type { RawSession } from '../db/session.js';
import { FerryError } from '../errors.js';
import { E_BACKUP_TOOL } from './errors.js';
import {
  type BackupFile,
  type BackupManifest,
  describeFile,
  MANIFEST_FILE,
  STABLE_TEXT_SETTINGS,
  type TableStats,
  tableStats,
  writeManifest,
} from './manifest.js';
import { checkToolVersion, findPgTool, libpqTarget, runTool } from './pg-tools.js';
import { readSchema, unportableObjects, writePortableDump } from './portable.js';

export const PG_DUMP_FILE = 'database.dump';
export const PGLITE_DATADIR_FILE = 'pglite-datadir.tar.gz';
const PARTIAL_PREFIX = '.partial-';

export interface BackupOptions {
  db: DbHandle;
  /** Folder the backup directory is created in (created if missing). */
  out: string;
  /** Keep only the newest `keep` complete backups in `out` (this one included); older ones are deleted. */
  keep?: number;
  /** Folder holding pg_dump (default: the PATH of `env`). */
  binDir?: string;
  /** Environment for finding and running pg_dump (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Called as each step starts ('pg_dump', 'portable dump', 'checksums'...). */
  onStep?: (step: string) => void;
  /** Clock, for the directory name (default now). */
  now?: Date;
}

interface BackupContents {
  notPortable: string[];
  portable: string[];
  tables: TableStats[];
  lastMigration: string | null;
}

export interface BackupResult {
  /** The backup directory. */
  dir: string;
  manifest: BackupManifest;
  /** Backup directories deleted by `keep`. */
  pruned: string[];
  durationMs: number;
}

/**
 * Back up the database behind `db` into a new directory under `out`.
 *
 *   const { dir, manifest } = await backup({ db, out: './backups', keep: 7 });
 */
export async function backup(options: BackupOptions): Promise<BackupResult> {
  const started = performance.now();
  const { db } = options;
  const env = options.env ?? process.env;
  const now = options.now ?? new Date();
  const step = options.onStep ?? (() => {});
  const facts = await db.session(async (s) => {
    const { rows } = await s.query<{ db: string; v: string; n: number | string }>(
      "select current_database() as db, current_setting('server_version') as v, current_setting('server_version_num')::int as n",
    );
    return rows[0] as (typeof rows)[number];
  });
  const serverVersionNum = Number(facts.n);
  const serverMajor = Math.floor(serverVersionNum / 10000);
  // Found before anything is written: a missing or too old pg_dump leaves no trace.
  const pgDump =
    db.backend === 'postgres' ? await findPgTool('pg_dump', serverMajor, { env, binDir: options.binDir }) : null;
  if (pgDump) checkToolVersion(pgDump, facts.v, serverMajor);

  const out = path.resolve(options.out);
  await mkdir(out, { recursive: true });
  const name = `${timestamp(now)}-${safeName(facts.db)}`;
  const tmp = path.join(out, `${PARTIAL_PREFIX}${name}-${process.pid}`);
  const final = path.join(out, name);
  await mkdir(tmp);
  try {
    step('schema');
    const schema = await readSchema(db.db);
    const files: BackupFile[] = [];
    const dumpDataDir = pgDump ? undefined : dumpDataDirOf(db);
    if (!pgDump && !dumpDataDir) throw new FerryError(E_BACKUP_TOOL, `Cannot read the data dir of ${db.redactedUrl}.`);
    const contents = await db.session(async (s) => {
      await s.query('begin isolation level repeatable read read only');
      let read: BackupContents;
      try {
        await s.query(STABLE_TEXT_SETTINGS);
        let dumping: Promise<unknown> | undefined;
        if (pgDump) {
          // pg_dump reads this transaction's snapshot, so the dump, the portable dump and the checksums agree.
          // It runs on its own connection while this one reads the same snapshot, so pg_dump's time
          // hides under the portable dump's and the checksums' (bench/backup.bench.ts).
          const { rows } = await s.query<{ id: string }>('select pg_export_snapshot() as id');
          step('pg_dump');
          dumping = runPgDump(db, pgDump.path, tmp, (rows[0] as { id: string }).id, env);
          // Awaited below; until then a failure must not surface as an unhandled rejection.
          dumping.catch(() => {});
        }
        try {
          const notPortable = await unportableObjects(s);
          let portable: string[] = [];
          if (notPortable.length === 0) {
            step('portable dump');
            portable = await writePortableDump(s, schema, tmp);
          }
          step('checksums');
          read = { notPortable, portable, tables: await tableStats(s), lastMigration: await lastMigrationOf(s) };
        } finally {
          // The snapshot (this transaction) must outlive pg_dump's use of it, failed or not.
          await dumping?.catch(() => {});
        }
        await dumping;
      } finally {
        await s.query('rollback').catch(() => {});
      }
      // PGlite: still holding its only connection, so the files are what was just read.
      if (dumpDataDir) {
        step('data dir');
        await writeFile(path.join(tmp, PGLITE_DATADIR_FILE), Buffer.from(await (await dumpDataDir()).arrayBuffer()));
      }
      return read;
    });
    files.push(
      pgDump
        ? await describeFile(tmp, PG_DUMP_FILE, 'pg_dump')
        : await describeFile(tmp, PGLITE_DATADIR_FILE, 'pglite-datadir'),
    );
    for (const f of contents.portable) files.push(await describeFile(tmp, f, 'portable'));
    const manifest: BackupManifest = {
      format: 'ferry-backup',
      version: 1,
      createdAt: now.toISOString(),
      database: facts.db,
      source: { backend: db.backend, url: db.redactedUrl, serverVersion: facts.v, serverVersionNum },
      lastMigration: contents.lastMigration,
      files,
      tables: contents.tables,
      notPortable: contents.notPortable,
    };
    await writeManifest(tmp, manifest);
    await rename(tmp, final);
    const pruned = options.keep === undefined ? [] : await prune(out, options.keep);
    return { dir: final, manifest, pruned, durationMs: performance.now() - started };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
}

async function runPgDump(db: DbHandle, pgDump: string, dir: string, snapshot: string, env: NodeJS.ProcessEnv) {
  const connectionString = connectionStringOf(db);
  if (!connectionString) throw new FerryError(E_BACKUP_TOOL, `Cannot run pg_dump on ${db.redactedUrl}: no URL known.`);
  const target = libpqTarget(connectionString, env);
  await runTool(
    pgDump,
    ['-Fc', '--no-owner', '--no-privileges', `--snapshot=${snapshot}`, '-f', path.join(dir, PG_DUMP_FILE), target.url],
    { env: target.env, secretsOf: connectionString },
  );
}

async function lastMigrationOf(s: RawSession): Promise<string | null> {
  const { rows } = await s.query<{ present: boolean }>("select to_regclass('ferry_migrations') is not null as present");
  if (!rows[0]?.present) return null;
  const last = await s.query<{ id: string | null }>('select max(id) as id from ferry_migrations');
  return last.rows[0]?.id ?? null;
}

/** `20261203T134501123Z` (UTC, to the millisecond), which sorts as time does. */
function timestamp(d: Date): string {
  return d.toISOString().replace(/[-:.]/g, '');
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_') || 'db';
}

/**
 * Delete all but the newest `keep` complete backups of `out` (directories
 * with a manifest.json, named by backup()); partial ones and anything else
 * are left alone. Returns the deleted paths.
 */
export async function prune(out: string, keep: number): Promise<string[]> {
  if (!Number.isInteger(keep) || keep < 1) {
    throw new FerryError('E_BAD_ARGUMENT', `keep must be a whole number of at least 1, got ${keep}.`);
  }
  const entries = await readdir(out, { withFileTypes: true });
  const complete: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || !/^\d{8}T\d{9}Z-/.test(e.name)) continue;
    const has = await readdir(path.join(out, e.name)).then(
      (names) => names.includes(MANIFEST_FILE),
      () => false,
    );
    if (has) complete.push(e.name);
  }
  complete.sort();
  const old = complete.slice(0, Math.max(0, complete.length - keep)).map((n) => path.join(out, n));
  for (const dir of old) await rm(dir, { recursive: true, force: true });
  return old;
}
