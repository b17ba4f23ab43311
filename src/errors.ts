/**
 * Every error Ferry throws is a `FerryError` with a stable `code` (`E_*`), a
 * message that says what went wrong and what to do, and the original error as
 * `cause` when there is one. Codes are part of the public API: match on
 * `err.code`, never on the message.
 *
 * Secrets: the message (and so the stack) is passed through `redactText`, so
 * a URL with its password can never end up in one, whoever built it; and
 * `util.inspect` (console.log, vitest, pino's fallbacks) redacts the whole
 * rendering, `cause` chain included, because a wrapped driver error is not
 * ours to rewrite.
 */
import { inspect } from 'node:util';
import { redactText } from './db/redact.js';

/**
 * Every stable code Ferry throws, from every part. Listed here as strings
 * because this file is a leaf: the constants themselves stay with the part
 * that owns them (their doc comments say when each is thrown).
 * test/types/error-codes.types.ts checks, at typecheck time, that this list
 * and the exported `E_*` constants are the same set, so it cannot drift.
 */
export type FerryErrorCode =
  // src/errors.ts: connections, schema, repositories, configuration
  | 'E_BAD_URL'
  | 'E_CONNECT'
  | 'E_DATA_DIR_LOCKED'
  | 'E_PGLITE_REENTRANT'
  | 'E_CLOSED'
  | 'E_SCHEMA'
  | 'E_UNKNOWN_COLUMN'
  | 'E_INVALID_VALUE'
  | 'E_BAD_ARGUMENT'
  | 'E_BAD_CURSOR'
  | 'E_CONSTRAINT'
  | 'E_QUERY'
  | 'E_CONFIG'
  | 'E_MISSING_DEPENDENCY'
  | 'E_EXTENSION_UNAVAILABLE'
  | 'E_ROLE_MISSING'
  | 'E_DIRECT_URL_REQUIRED'
  // bin/heap-cap.mjs: `ferry import`/`verify` exhausted its capped heap (FERRY_MAX_HEAP_MB)
  | 'E_OUT_OF_MEMORY'
  // src/duration.ts
  | 'E_DURATION'
  // src/redis/errors.ts
  | 'E_REDIS_URL'
  | 'E_REDIS_CROSSSLOT'
  // src/cache/errors.ts
  | 'E_CACHE_CONFIG'
  | 'E_CACHE_CLOSED'
  | 'E_CACHE_VALUE'
  | 'E_CACHE_KEY'
  | 'E_CACHE_REDIS'
  | 'E_CACHE_TIMEOUT'
  // src/sessions/errors.ts
  | 'E_SESSION_CONFIG'
  | 'E_SESSION_ARGUMENT'
  | 'E_SESSION_EXISTS'
  | 'E_SESSION_REVOKED'
  | 'E_SESSION_CONFLICT'
  | 'E_SESSION_UNAVAILABLE'
  | 'E_SESSION_NO_PERSIST'
  | 'E_SESSION_CLOSED'
  // src/rate-limit/errors.ts
  | 'E_RATE_CONFIG'
  | 'E_RATE_ARGUMENT'
  | 'E_RATE_CLOSED'
  // src/migrate/errors.ts
  | 'E_MIGRATION_FILE'
  | 'E_MIGRATION_EXISTS'
  | 'E_MIGRATION_EMPTY'
  | 'E_MIGRATION_LINT'
  | 'E_MIGRATION_ON_DISK'
  | 'E_MIGRATION_CHECKSUM'
  | 'E_MIGRATION_MISSING'
  | 'E_MIGRATION_OUT_OF_ORDER'
  | 'E_MIGRATION_LOCK_TIMEOUT'
  | 'E_MIGRATION_NO_DOWN'
  | 'E_MIGRATION_UNKNOWN'
  | 'E_MIGRATION_FAILED'
  // src/import/errors.ts
  | 'E_IMPORT_DEFINITION'
  | 'E_IMPORT_SOURCE_CHANGED'
  | 'E_IMPORT_MAX_REJECTS'
  | 'E_IMPORT_CONNECTION'
  | 'E_IMPORT_BACKUP'
  | 'E_IMPORT_TARGET_MISSING'
  | 'E_IMPORT_TIMEOUT'
  // src/ops/errors.ts
  | 'E_BACKUP_TOOL'
  | 'E_BACKUP_CORRUPT'
  | 'E_BACKUP_TARGET_NOT_EMPTY'
  | 'E_BACKUP_UNSUPPORTED'
  | 'E_BACKUP_VERIFY'
  // src/import/sources/errors.ts
  | 'E_SOURCE_NOT_FOUND'
  | 'E_SOURCE_OPTIONS'
  | 'E_SOURCE_MALFORMED'
  | 'E_SOURCE_READ'
  // src/ops/export-errors.ts
  | 'E_EXPORT_TABLE'
  | 'E_EXPORT_OPTIONS'
  | 'E_EXPORT_QUERY'
  | 'E_EXPORT_OUTPUT'
  // src/cutover/errors.ts
  | 'E_CUTOVER_CONFIG'
  | 'E_CUTOVER_UNKNOWN'
  | 'E_CUTOVER_STAGE'
  | 'E_CUTOVER_GATE'
  | 'E_CUTOVER_STORE'
  | 'E_CUTOVER_INSTANCES'
  | 'E_CUTOVER_VERIFY'
  | 'E_CUTOVER_CLOSED'
  // src/studio/errors.ts
  | 'E_STUDIO_HOST'
  | 'E_STUDIO_ORIGIN'
  | 'E_STUDIO_TOKEN'
  | 'E_STUDIO_READ_ONLY'
  | 'E_STUDIO_NOT_FOUND'
  | 'E_STUDIO_BAD_REQUEST'
  | 'E_STUDIO_CONFLICT'
  | 'E_STUDIO_INVALID'
  | 'E_STUDIO_SQL'
  | 'E_STUDIO_CONFIG'
  | 'E_STUDIO_INTERNAL';

/**
 * The shape of `details` for the codes whose throw sites all pass the same
 * facts; a code not listed here has free-form details. Only facts every
 * throw site provides are required, so code reading them can rely on them.
 */
export interface FerryErrorDetailsMap {
  E_BAD_URL: { url: string };
  E_BAD_CURSOR: { table: string };
  E_UNKNOWN_COLUMN: { table: string; column: string };
  /** From the server (a class 22 SQLSTATE) `column` is absent when it did not name one, and `sqlstate` is set. */
  E_INVALID_VALUE: { table: string; column?: string; sqlstate?: string; constraint?: string };
  /** `constraint` and `column` are set when the server names them. */
  E_CONSTRAINT: { sqlstate: string; table: string; constraint?: string; column?: string };
  /** `hostname` is absent when the lock was found held by a process of this host without reading its file. */
  E_DATA_DIR_LOCKED: { dataDir: string; lockFile: string; pid: number | null; hostname?: string | null };
  E_MISSING_DEPENDENCY: { package: string; feature: string };
  E_EXTENSION_UNAVAILABLE: { extension: string; backend: 'pglite' | 'postgres' };
  E_ROLE_MISSING: { role: string };
  E_DIRECT_URL_REQUIRED: { variable: string; url: string };
  /** `script` is the Lua script's name, `keys` the keys it would be given (with the client's keyPrefix). */
  E_REDIS_CROSSSLOT: { script: string; keys: string[] };
  E_CACHE_REDIS: { op: string };
  E_CACHE_TIMEOUT: { op: string };
  E_SESSION_EXISTS: { jti: string };
  E_SESSION_REVOKED: { userId: string };
  E_MIGRATION_EXISTS: { id: string; path: string };
  E_MIGRATION_EMPTY: { ids: string[]; files: string[] };
  E_MIGRATION_NO_DOWN: { ids: string[] };
  E_MIGRATION_LOCK_TIMEOUT: { table: string; lockKey: string; waitedMs: number; holderPid: number | null };
  /** The failed step of the run result (`MigrationError` in ferry/migrate). */
  E_MIGRATION_FAILED: {
    /** Path of the up.sql or down.sql that failed. */
    file: string;
    /** The failing statement (or COMMIT, or the history write). */
    statement: string;
    /** 1-based line in `file` (of the server's error position when it gave one, else of the statement); null when the failure is not in the file (COMMIT, history). */
    line: number | null;
    sqlstate?: string;
    /** The server's message. */
    message: string;
    /** The server's detail, when given. */
    detail?: string;
    /** The server's hint, or ours. */
    hint?: string;
  };
  E_IMPORT_SOURCE_CHANGED: { name: string; position: number };
  E_IMPORT_MAX_REJECTS: { rejects: number; position: number };
  E_IMPORT_TARGET_MISSING: { tables: string[] };
  /** `step` says what was running (e.g. 'comparing table "messages"'); `table` is null for steps of no one table; `timeoutMs` 0 = the server's own. */
  E_IMPORT_TIMEOUT: { command: 'import' | 'verify'; step: string; table: string | null; timeoutMs: number };
  /** `source` is the source's label; `column` is set when the parser gave one. */
  E_SOURCE_MALFORMED: { source: string; file: string; line: number; column?: number };
  /** `file` is the backup file (or manifest.json) at fault. */
  E_BACKUP_CORRUPT: {
    file: string;
    expectedBytes?: number;
    actualBytes?: number;
    expectedSha256?: string;
    actualSha256?: string;
  };
  /** Some of the target's tables (up to 10). */
  E_BACKUP_TARGET_NOT_EMPTY: { tables: string[] };
  /** The tables whose count or checksum differ, or that are missing or extra. */
  E_BACKUP_VERIFY: {
    tables: string[];
    differences: {
      table: string;
      expected: { rows: number; checksum: string } | null;
      actual: { rows: number; checksum: string } | null;
    }[];
  };
  /** `candidates` are existing tables with close names (maybe none). */
  E_EXPORT_TABLE: { table: string; candidates: string[] };
  /** `sqlstate` is the server's code when it gave one. */
  E_EXPORT_QUERY: { sql: string; sqlstate?: string };
  E_EXPORT_OUTPUT: { file: string };
}

/**
 * What `details` holds for a FerryError of code C: its shape when it has one,
 * always open to other keys. For a FerryError whose code is not known (the
 * whole union) every key reads as `unknown`, as before codes were typed.
 */
export type FerryErrorDetails<C extends FerryErrorCode = FerryErrorCode> = C extends keyof FerryErrorDetailsMap
  ? Readonly<FerryErrorDetailsMap[C] & Record<string, unknown>>
  : Readonly<Record<string, unknown>>;

/** The options of `new FerryError(code, message, options)`: `details` must fit the code's shape. */
export interface FerryErrorOptions<C extends FerryErrorCode = FerryErrorCode> {
  cause?: unknown;
  details?: C extends keyof FerryErrorDetailsMap ? FerryErrorDetailsMap[C] : Record<string, unknown>;
}

export class FerryError<C extends FerryErrorCode = FerryErrorCode> extends Error {
  readonly code: C;
  /** Extra machine-readable facts (table, column, SQLSTATE...). Never secrets. */
  readonly details: FerryErrorDetails<C>;

  constructor(code: C, message: string, options: FerryErrorOptions<C> = {}) {
    super(redactText(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.details = Object.freeze({ ...options.details }) as FerryErrorDetails<C>;
  }

  /**
   * Plain `instanceof`, but typed: without this, `err instanceof FerryError`
   * would narrow to `FerryError<any>` (a generic class's default), and
   * `err.code` would accept any string.
   */
  static override [Symbol.hasInstance](value: unknown): value is FerryError {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class instanceof was asked about (a subclass too), as in the default check.
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  [inspect.custom](_depth: number, options: object, render: typeof inspect): string {
    return redactText(render(this, { ...options, customInspect: false }));
  }
}

/**
 * `err` is a `FerryError` (with `code`, when given): narrows `err.code` and
 * `err.details`, e.g. `if (isFerryError(err, 'E_CONSTRAINT')) err.details.constraint`.
 */
export function isFerryError<C extends FerryErrorCode = FerryErrorCode>(err: unknown, code?: C): err is FerryError<C> {
  return err instanceof FerryError && (code === undefined || err.code === code);
}

/** The URL is not one Ferry understands. */
export const E_BAD_URL = 'E_BAD_URL';
/** The database server could not be reached or refused the login. */
export const E_CONNECT = 'E_CONNECT';
/** An embedded data directory is already open in another process. */
export const E_DATA_DIR_LOCKED = 'E_DATA_DIR_LOCKED';
/** Work that needs a connection was attempted while the only PGlite connection is held by the same task. */
export const E_PGLITE_REENTRANT = 'E_PGLITE_REENTRANT';
/** The handle was used after `close()`. */
export const E_CLOSED = 'E_CLOSED';
/** A schema definition is invalid (duplicate names, unknown columns, identifier too long...). */
export const E_SCHEMA = 'E_SCHEMA';
/** A repository call named a column the table does not have. */
export const E_UNKNOWN_COLUMN = 'E_UNKNOWN_COLUMN';
/** A value does not fit its column's type. */
export const E_INVALID_VALUE = 'E_INVALID_VALUE';
/** A repository call was malformed (missing primary key, empty patch...). */
export const E_BAD_ARGUMENT = 'E_BAD_ARGUMENT';
/**
 * A keyset cursor (`page()`'s `nextCursor`, passed back as `after`) cannot be
 * used: it does not decode, was edited, or was made for another `orderBy`.
 * It comes from the client, so treat it like E_BAD_ARGUMENT (HTTP 400) and
 * let the client start again from the first page.
 */
export const E_BAD_CURSOR = 'E_BAD_CURSOR';
/** A write broke a unique, foreign-key, not-null or check constraint. */
export const E_CONSTRAINT = 'E_CONSTRAINT';
/** Any other error reported by the database server. */
export const E_QUERY = 'E_QUERY';
/** The configuration file is missing or invalid. */
export const E_CONFIG = 'E_CONFIG';
/** A feature needs an optional package that is not installed (the message names the `npm install` to run). */
export const E_MISSING_DEPENDENCY = 'E_MISSING_DEPENDENCY';
/**
 * A schema declares (or a migration creates) a Postgres extension the backend
 * cannot provide: one PGlite does not ship, or one not installed on the
 * PostgreSQL server. The message names the extension and the backend.
 */
export const E_EXTENSION_UNAVAILABLE = 'E_EXTENSION_UNAVAILABLE';
/**
 * A policy names a role (`to: ['app_user']`) that does not exist on the
 * server the migration or shadow runs on. Ferry never creates roles (they
 * belong to the whole server and carry privileges); the message names it.
 */
export const E_ROLE_MISSING = 'E_ROLE_MISSING';
/**
 * Work that needs one PostgreSQL session for its whole run (a raw session:
 * imports' temp tables and COPY; the migration lock) was asked of a handle
 * whose URL goes through PgBouncer (`pgbouncer=true`) with no direct URL to
 * PostgreSQL: set DIRECT_DATABASE_URL (or the `directUrl` option).
 */
export const E_DIRECT_URL_REQUIRED = 'E_DIRECT_URL_REQUIRED';
/** `ferry import`/`verify` exhausted the V8 heap cap it runs under (bin/heap-cap.mjs prints it; FERRY_MAX_HEAP_MB). */
export const E_OUT_OF_MEMORY = 'E_OUT_OF_MEMORY';
