/**
 * The seam between legacy storage and the loader.
 *
 * A source yields records one at a time, in an order that is the same on every
 * run over unchanged data: the loader's checkpoint is "records consumed so
 * far", so a resumed run skips exactly that many. A record that cannot even
 * be parsed (a bad line, a bad document) is yielded as an `error` record, not
 * thrown: it goes to the rejects file and the import goes on.
 *
 * A source that cannot be read to its end (a file cut short, garbage, a
 * broken structure after which nothing can be trusted) is different: the
 * records before the fault are yielded, then an `E_SOURCE_MALFORMED`
 * FerryError is thrown naming file, line and column. `check()` finds the same
 * fault up front, so the loader can fail before it commits anything.
 */

/** Where a record came from; every field that applies is set. Shown in rejects and errors. */
export interface SourceLocation {
  /** The source's label, e.g. `tinydb(data/db.json)`. */
  source: string;
  /** File path, relative to the source's base folder (see SourceOptions.cwd). */
  file?: string;
  /** 1-based line (ndjson, csv) */
  line?: number;
  /** Document id, object key or Redis key. */
  key?: string;
  /** TinyDB/lowdb table, SQLite table, or collection name. */
  table?: string;
  /** 0-based position inside an array or table. */
  index?: number;
}

/** `bytes`: optional, roughly how far into the source's data the record ends, for progress. */
export type SourceRecord<T = unknown> =
  | { kind: 'record'; value: T; loc: SourceLocation; bytes?: number }
  | { kind: 'error'; reason: string; loc: SourceLocation; bytes?: number };

export interface Source<T = unknown> {
  /** Short label used in locations and reports, e.g. `json.files(data/**\/*.json)`. */
  readonly label: string;
  /**
   * Stream the records. Must be restartable (each call starts from the top)
   * and deterministic in order for unchanged data. `signal` aborts early.
   */
  records(options?: { signal?: AbortSignal }): AsyncIterable<SourceRecord<T>>;
  /**
   * Optional: the same records as `records()`, several at a time. The loader
   * uses it when present: one async step per chunk instead of per record is
   * a tenth of the CPU a big single-file source spends outside JSON.parse.
   */
  chunks?(options?: { signal?: AbortSignal }): AsyncIterable<SourceRecord<T>[]>;
  /**
   * The files the source reads (absolute paths), for `--backup` and for the
   * fingerprint that tells a resumed run the data did not change. Sources
   * without files (redis, memory) return [].
   */
  files(): Promise<string[]>;
  /**
   * Optional: files may vanish while the source is read (json.files with
   * `live`): the fingerprint counts a vanished file as gone instead of
   * failing with E_SOURCE_NOT_FOUND.
   */
  readonly live?: boolean;
  /**
   * Optional: make sure, before the loader commits anything, that the source
   * exists and can be read to its end (its structure, not every record:
   * cheap next to reading it). Throws E_SOURCE_NOT_FOUND, E_SOURCE_READ or
   * E_SOURCE_MALFORMED naming the file, line and column.
   */
  check?(options?: { signal?: AbortSignal }): Promise<void>;
  /** Rough total for the progress bar: records if cheap to know, else bytes to read. */
  estimate?(): Promise<{ records?: number; bytes?: number }>;
  /** Release connections (redis, sqlite); idempotent. */
  close?(): Promise<void>;
}

/** Options every source factory accepts. */
export interface SourceOptions {
  /**
   * Base for relative paths. Default: the import file's folder when run by
   * `ferry import`/`ferry verify` (so paths are written as in an ES import),
   * else `process.cwd()`.
   */
  cwd?: string;
}
