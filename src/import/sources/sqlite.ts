/**
 * `sqlite(file, { table } | { query })`: rows of a SQLite database, read
 * through a readonly connection (the source file is never modified) and
 * streamed with `.iterate()`.
 */
import type Database from 'better-sqlite3';
import { E_CLOSED, FerryError } from '../../errors.js';
import { requireOptional } from '../../optional-dependency.js';
import type { Source, SourceLocation, SourceOptions, SourceRecord } from '../source.js';
import { assertFile, optionsError, resolveFile } from './common.js';
import { E_SOURCE_OPTIONS, E_SOURCE_READ } from './errors.js';

export type SqliteOptions = SourceOptions &
  (
    | { /** Every row of this table, in rowid (or primary key) order. */ table: string; query?: undefined }
    | {
        /** Any SELECT; put an ORDER BY in it, since the order must be the same on every run. */
        query: string;
        params?: readonly unknown[] | Record<string, unknown>;
        table?: undefined;
      }
  );

type Row = Record<string, unknown>;
const ROWID = '__ferry_rowid';

export function sqlite(file: string, options: SqliteOptions): Source<Row> {
  const f = resolveFile(file, options, 'sqlite');
  const hasTable = typeof options?.table === 'string' && options.table !== '';
  const hasQuery = typeof options?.query === 'string' && options.query.trim() !== '';
  if (hasTable === hasQuery) {
    throw optionsError(
      `sqlite(${file}): pass exactly one of { table: 'users' } or { query: 'SELECT … ORDER BY …' }, got ${
        hasTable ? 'both' : 'neither'
      }.`,
    );
  }
  // An optional peer (a native addon): only apps that read SQLite install it.
  const Sqlite = requireOptional<typeof Database>('better-sqlite3');
  const label = hasTable ? `sqlite(${file}#${options.table})` : `sqlite(${file})`;
  // Open connections and the row iterator each is busy with (close() must end it first).
  const open = new Map<Database.Database, IterableIterator<Row> | null>();

  const connect = async (): Promise<Database.Database> => {
    await assertFile(f, label);
    try {
      const db = new Sqlite(f.abs, { readonly: true, fileMustExist: true });
      // Fails here, not mid-iteration, when the file is not a database.
      db.prepare('SELECT count(*) FROM sqlite_schema').get();
      open.set(db, null);
      return db;
    } catch (err) {
      throw new FerryError(
        E_SOURCE_READ,
        `${label}: cannot open ${f.abs} as a SQLite database: ${(err as Error).message}.`,
        { cause: err, details: { file: f.abs } },
      );
    }
  };

  const prepare = (db: Database.Database): { stmt: Database.Statement; withRowid: boolean } => {
    if (!hasTable) {
      try {
        const stmt = db.prepare(options.query!);
        if (!stmt.reader) throw new Error('it returns no rows (use a SELECT)');
        return { stmt, withRowid: false };
      } catch (err) {
        throw new FerryError(E_SOURCE_OPTIONS, `${label}: bad query: ${(err as Error).message}.`, { cause: err });
      }
    }
    const table = options.table!;
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .pluck()
      .all() as string[];
    if (!tables.includes(table)) {
      throw new FerryError(
        E_SOURCE_OPTIONS,
        `${label}: no table "${table}" in ${f.abs}. Tables there: ${tables.map((t) => `"${t}"`).join(', ') || 'none'}.`,
        { details: { file: f.abs, table } },
      );
    }
    const q = quoteIdent(table);
    try {
      return { stmt: db.prepare(`SELECT rowid AS ${ROWID}, * FROM ${q} ORDER BY rowid`), withRowid: true };
    } catch {
      // WITHOUT ROWID tables and views: order by the primary key, else by every column.
      const info = db.prepare(`PRAGMA table_info(${q})`).all() as { name: string; pk: number }[];
      const pk = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
      const order = (pk.length > 0 ? pk : info).map((c) => quoteIdent(c.name)).join(', ');
      return { stmt: db.prepare(`SELECT * FROM ${q}${order ? ` ORDER BY ${order}` : ''}`), withRowid: false };
    }
  };

  return {
    label,
    async *records(opts): AsyncGenerator<SourceRecord<Row>> {
      const db = await connect();
      try {
        const { stmt, withRowid } = prepare(db);
        stmt.safeIntegers(true);
        const params = hasQuery ? options.params : undefined;
        const rows = (params === undefined ? stmt.iterate() : stmt.iterate(params as never)) as IterableIterator<Row>;
        open.set(db, rows);
        let index = 0;
        for (const raw of rows) {
          opts?.signal?.throwIfAborted();
          if (!open.has(db)) throw closedError(label);
          const loc: SourceLocation = { source: label, file: f.shown, index };
          if (hasTable) loc.table = options.table;
          const row: Row = {};
          for (const [k, v] of Object.entries(raw)) {
            if (withRowid && k === ROWID) loc.key = String(v);
            else row[k] = narrow(v);
          }
          index++;
          yield { kind: 'record', value: row, loc };
        }
        // close() ended the iterator early: do not pass that off as the end of the data.
        if (!open.has(db)) throw closedError(label);
      } finally {
        open.delete(db);
        db.close();
      }
    },
    async files() {
      return [f.abs];
    },
    async estimate() {
      return { bytes: await assertFile(f, label) };
    },
    async close() {
      for (const [db, rows] of open) {
        rows?.return?.();
        db.close();
      }
      open.clear();
    },
  };
}

function closedError(label: string): FerryError {
  return new FerryError(E_CLOSED, `${label}: the source was closed while its records were being read.`);
}

/** Integers come back as BigInt (no silent precision loss); plain numbers when they fit. */
function narrow(value: unknown): unknown {
  if (
    typeof value === 'bigint' &&
    value <= BigInt(Number.MAX_SAFE_INTEGER) &&
    value >= BigInt(Number.MIN_SAFE_INTEGER)
  ) {
    return Number(value);
  }
  return value;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
