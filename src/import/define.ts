/**
 * `defineImport`: the module a user writes to move legacy data into Postgres.
 *
 * ```ts
 * import * as schema from './schema.js';
 * export default defineImport({
 *   schema,
 *   source: tinydb('legacy/db.json'),
 *   tables: { users: { key: ['username'] }, messages: { key: ['content_hash'], onConflict: 'skip' } },
 *   map(doc, ctx) {
 *     if (ctx.loc.table === 'users') return { users: { id: ctx.uuid('user', ctx.casefold(doc.username)), ... } };
 *   },
 * });
 * ```
 *
 * Types come from the schema module, so a row with a misspelt column or a
 * wrong value type fails to compile, and at run time the same rows are
 * checked against the schema before they reach the database.
 */
import type { InferInsert } from '../schema/infer.js';
import type { Table } from '../schema/table.js';
import type { Source, SourceLocation } from './source.js';

/** What to do when a row's natural key already exists in the target table. */
export type OnConflict = 'update' | 'skip' | 'error' | UpdateIfNewer;

/**
 * Update an existing row only when the incoming row is strictly newer by the
 * `by` column (`updated_at`, a version number); insert it when absent. A
 * backfill running beside live writes (a cutover's dual writes) then never
 * overwrites a row the app wrote after the source was read. A stored row
 * whose `by` is null is older than anything (it is updated); an incoming
 * row whose `by` is null, or that does not map `by`, is newer than nothing
 * (it only inserts). Rows kept this way count as `stale` in the report, and
 * `ferry verify` counts them as `newer`, not as differences.
 */
export interface UpdateIfNewer {
  update: 'if-newer';
  /** The column that orders versions: a timestamp, date or number. */
  by: string;
}

export interface TableImportOptions<Row> {
  /**
   * The natural key: columns of a primary key or unique constraint of the
   * table. Rows are upserted on it; several rows with the same key in one
   * run collapse to one, as `duplicates` says.
   */
  key: readonly (keyof Row & string)[];
  /**
   * Which row wins when the run maps several to the same key: `first`
   * (default) keeps the first in source order; `last` keeps the last (a
   * re-scraped price that replaces an earlier snapshot). Either way the
   * others count as duplicates, and a rerun writes the same row. `last` reads
   * and maps the source one more time first, to know which occurrence is last.
   */
  duplicates?: 'first' | 'last';
  /**
   * `update` (default): rewrite rows whose content changed, leave identical
   * ones alone. `skip`: keep existing rows. `error`: reject rows whose key
   * exists with other content. `{ update: 'if-newer', by: 'updated_at' }`:
   * update only when the incoming `by` is strictly newer than the stored one
   * (see UpdateIfNewer).
   */
  onConflict?: 'update' | 'skip' | 'error' | { update: 'if-newer'; by: keyof Row & string };
  /**
   * Columns written when the row is inserted and never updated or compared
   * afterwards: generated secrets (an unusable password hash), first-seen
   * timestamps. Keeps a rerun from reporting every row as changed.
   */
  insertOnly?: readonly (keyof Row & string)[];
}

/** Insert row types of a schema module, keyed by SQL table name. */
export type InsertsOf<S> = Simplify<{
  [K in keyof S as S[K] extends Table<infer N, any> ? N : never]: S[K] extends Table<any, infer C>
    ? InferInsert<C>
    : never;
}>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** Rows a `map` call returns: per table, one row or several. */
export type MappedRows<DB> = { [T in keyof DB]?: DB[T] | readonly DB[T][] };

export interface MapContext<DB> {
  /** Where the record came from (file, line, key, table...). */
  readonly loc: SourceLocation;
  /** Name of the source when `source` is an object of several. */
  readonly source: string;
  /** 0-based ordinal of the record in the whole run (stable across runs). */
  readonly ordinal: number;
  /** Add a row for `table`; the same as returning it. */
  emit<T extends keyof DB & string>(table: T, row: DB[T]): void;
  /** Reject this record: it goes to the rejects file with `reason`, and none of its rows are written. */
  reject(reason: string, details?: { table?: string; column?: string }): never;
  /** Unicode-aware case folding for case-insensitive keys (usernames, emails). */
  casefold(value: string): string;
  /** A UUID derived from the parts (v5-style, SHA-1): the same parts give the same id on every run. */
  uuid(...parts: unknown[]): string;
  /** A stable content hash (SHA-256, hex) of any JSON-like value; key order does not matter. */
  hash(...values: unknown[]): string;
  /**
   * A password hash nobody can log in with (scrypt of 32 random bytes), for
   * users the legacy store kept none for. Mark the column `insertOnly`.
   */
  unusablePassword(): Promise<string>;
  /** Parse a legacy timestamp (ISO 8601, epoch seconds or milliseconds) into a Date; rejects the record if invalid. */
  timestamp(value: unknown, column?: string): Date;
}

export interface ImportDefinition<S, R = any> {
  /** Name of the import, used for checkpoints (default: the import file's base name). */
  name?: string;
  /** The schema module (`import * as schema from './schema.js'`). */
  schema: S;
  /** One source, or several by name (read one after another, in the order given). */
  source: Source<R> | Record<string, Source<R>>;
  /** Natural key and conflict policy per target table. Every table `map` writes to must be listed. */
  tables: { [T in keyof InsertsOf<S>]?: TableImportOptions<InsertsOf<S>[T]> };
  /** Turn one legacy record into rows. Return them, `ctx.emit` them, or return nothing to skip the record. */
  map(
    record: R,
    ctx: MapContext<InsertsOf<S>>,
  ): MappedRows<InsertsOf<S>> | undefined | Promise<MappedRows<InsertsOf<S>> | undefined>;
  /** Records per transaction (default 5,000). The CLI's `--batch-size` beats it. */
  batchSize?: number;
}

const IMPORT_BRAND = Symbol.for('ferry.import');

export type DefinedImport<S = unknown, R = any> = ImportDefinition<S, R> & { readonly [IMPORT_BRAND]: true };

export function defineImport<S, R = any>(definition: ImportDefinition<S, R>): DefinedImport<S, R> {
  return Object.freeze({ ...definition, [IMPORT_BRAND]: true as const });
}

export function isDefinedImport(value: unknown): value is DefinedImport {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[IMPORT_BRAND] === true;
}
