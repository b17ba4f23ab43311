/**
 * A backup's `manifest.json`: what the backup holds (every file with its size
 * and sha256), where it came from (backend, server version, last applied
 * migration) and what the data was (per-table row counts and content
 * checksums). Restore checks the files against it before touching the
 * target, and `verify` recomputes the counts and checksums on the target.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RawSession } from '../db/session.js';
import { FerryError } from '../errors.js';
import { checksumSql } from '../import/checksum.js';
import { quoteIdent } from '../schema/identifiers.js';
import { E_BACKUP_CORRUPT, E_BACKUP_VERIFY } from './errors.js';

export const MANIFEST_FILE = 'manifest.json';

/** What a file of a backup is. */
export type BackupFileKind = 'pg_dump' | 'pglite-datadir' | 'portable';

export interface BackupFile {
  /** Path inside the backup directory, with `/`. */
  name: string;
  kind: BackupFileKind;
  bytes: number;
  sha256: string;
}

export interface TableStats {
  table: string;
  rows: number;
  /** md5 of the row count and the sum of a 64-bit hash of each row's text form (see `tableStats`). */
  checksum: string;
}

export interface BackupManifest {
  format: 'ferry-backup';
  version: 1;
  /** ISO time the backup started. */
  createdAt: string;
  /** `current_database()` of the source. */
  database: string;
  source: {
    backend: 'postgres' | 'pglite';
    /** Redacted. */
    url: string;
    serverVersion: string;
    serverVersionNum: number;
  };
  /** Id of the newest row of `ferry_migrations`, or null. */
  lastMigration: string | null;
  files: BackupFile[];
  tables: TableStats[];
  /**
   * Objects of the source the portable dump cannot carry (views, functions,
   * triggers...). When not empty, no portable dump was written: the backup
   * restores only onto its own backend.
   */
  notPortable: string[];
}

/** sha256 (hex) and size of a file, streamed. */
export async function hashFile(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

export async function describeFile(dir: string, name: string, kind: BackupFileKind): Promise<BackupFile> {
  return { name, kind, ...(await hashFile(path.join(dir, name))) };
}

export async function writeManifest(dir: string, manifest: BackupManifest): Promise<void> {
  await writeFile(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Read `dir/manifest.json`; E_BACKUP_CORRUPT when it is missing or not a Ferry manifest. */
export async function readManifest(dir: string): Promise<BackupManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let parsed: Partial<BackupManifest>;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<BackupManifest>;
  } catch (err) {
    throw new FerryError(
      E_BACKUP_CORRUPT,
      `Cannot read the backup manifest ${file}: ${(err as Error).message}. Point restore at a backup directory ` +
        'written by `ferry backup` (it holds manifest.json); an incomplete backup has no manifest.',
      { cause: err, details: { file } },
    );
  }
  if (parsed.format !== 'ferry-backup' || parsed.version !== 1 || !Array.isArray(parsed.files)) {
    throw new FerryError(
      E_BACKUP_CORRUPT,
      `${file} is not a Ferry backup manifest (format "ferry-backup", version 1).`,
      { details: { file } },
    );
  }
  return parsed as BackupManifest;
}

/**
 * Every file of the manifest, checked for size then sha256: E_BACKUP_CORRUPT
 * naming the first that differs, expected vs actual. Run before anything is
 * restored, so a truncated or damaged backup never reaches the target.
 */
export async function checkFiles(dir: string, manifest: BackupManifest): Promise<void> {
  for (const f of manifest.files) {
    const file = path.join(dir, f.name);
    const size = await stat(file).then(
      (s) => s.size,
      () => null,
    );
    if (size === null) {
      throw new FerryError(E_BACKUP_CORRUPT, `Backup file ${file} listed in the manifest is missing.`, {
        details: { file },
      });
    }
    if (size !== f.bytes) {
      throw new FerryError(
        E_BACKUP_CORRUPT,
        `Backup file ${file} is ${size} bytes; the manifest says ${f.bytes} (truncated or replaced). Nothing was restored: use another backup.`,
        { details: { file, expectedBytes: f.bytes, actualBytes: size } },
      );
    }
    const { sha256 } = await hashFile(file);
    if (sha256 !== f.sha256) {
      throw new FerryError(
        E_BACKUP_CORRUPT,
        `Backup file ${file} has sha256 ${sha256}; the manifest says ${f.sha256} (the file is damaged). Nothing was restored: use another backup.`,
        { details: { file, expectedSha256: f.sha256, actualSha256: sha256 } },
      );
    }
  }
}

/**
 * Settings under which a row's text form is the same on every server and
 * every client: dates, times and intervals in one style, timestamptz in UTC,
 * floats shortest-exact, bytea as hex. `set local`: inside a transaction only.
 */
export const STABLE_TEXT_SETTINGS = [
  "set local timezone = 'UTC'",
  "set local datestyle = 'ISO, MDY'",
  "set local intervalstyle = 'postgres'",
  'set local extra_float_digits = 1',
  "set local bytea_output = 'hex'",
].join('; ');

/** The ordinary tables of the current schema, by name. */
export async function listTables(session: RawSession): Promise<string[]> {
  const { rows } = await session.query<{ name: string }>(
    `select c.relname as name from pg_class c
      where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p')
      order by c.relname collate "C"`,
  );
  return rows.map((r) => r.name);
}

/**
 * Row count and content checksum of every table of the current schema, in
 * the caller's transaction (which must have run STABLE_TEXT_SETTINGS).
 *
 * The row hash is `hashtextextended(t::text, 0)`, the hash of the row's text
 * form, rather than verify's `hash_record_extended` of the values: some
 * types hash by OID (an enum's value is its pg_enum OID, different in every
 * database), so the same data restored elsewhere would hash differently.
 * The text form is what COPY and pg_dump carry, and is the same on
 * PostgreSQL 15 and PGlite's 18 under the settings above.
 *
 *   select count(*), md5(count(*) || ':' || coalesce(sum(hashtextextended(t::text, 0)), 0)) from "users" t
 */
export async function tableStats(session: RawSession, tables?: readonly string[]): Promise<TableStats[]> {
  const out: TableStats[] = [];
  for (const table of tables ?? (await listTables(session))) {
    const { rows } = await session.query<{ rows: string | number; checksum: string }>(
      `select count(*) as rows, ${checksumSql('hashtextextended(t::text, 0)')} as checksum from ${quoteIdent(table)} t`,
    );
    const r = rows[0] as (typeof rows)[number];
    out.push({ table, rows: Number(r.rows), checksum: r.checksum });
  }
  return out;
}

export interface TableDifference {
  table: string;
  /** null when the table is missing on that side. */
  expected: { rows: number; checksum: string } | null;
  actual: { rows: number; checksum: string } | null;
}

/** Tables whose count or checksum differ between `expected` and `actual`, or that one side lacks. */
export function compareStats(expected: readonly TableStats[], actual: readonly TableStats[]): TableDifference[] {
  const mine = new Map(actual.map((t) => [t.table, t]));
  const diffs: TableDifference[] = [];
  for (const e of expected) {
    const a = mine.get(e.table);
    mine.delete(e.table);
    if (a && a.rows === e.rows && a.checksum === e.checksum) continue;
    diffs.push({
      table: e.table,
      expected: { rows: e.rows, checksum: e.checksum },
      actual: a ? { rows: a.rows, checksum: a.checksum } : null,
    });
  }
  for (const a of mine.values()) {
    diffs.push({ table: a.table, expected: null, actual: { rows: a.rows, checksum: a.checksum } });
  }
  return diffs;
}

/** E_BACKUP_VERIFY naming the tables that differ and how. */
export function verifyError(where: string, diffs: readonly TableDifference[]): FerryError<'E_BACKUP_VERIFY'> {
  const describe = (d: TableDifference) => {
    if (!d.actual) return `"${d.table}" is missing`;
    if (!d.expected) return `"${d.table}" is not in the backup`;
    if (d.actual.rows !== d.expected.rows) return `"${d.table}" has ${d.actual.rows} rows, expected ${d.expected.rows}`;
    return `"${d.table}" has the expected ${d.actual.rows} rows but different content (checksum ${d.actual.checksum}, expected ${d.expected.checksum})`;
  };
  return new FerryError(
    E_BACKUP_VERIFY,
    `${where} differs from the backup's manifest in ${diffs.length} table(s): ${diffs.map(describe).join('; ')}. ` +
      'Restore again (with --clean) and check that nothing writes to the database meanwhile.',
    { details: { tables: diffs.map((d) => d.table), differences: [...diffs] } },
  );
}
