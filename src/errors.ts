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

export class FerryError extends Error {
  readonly code: string;
  /** Extra machine-readable facts (table, column, SQLSTATE...). Never secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(redactText(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.details = Object.freeze({ ...options.details });
  }

  [inspect.custom](_depth: number, options: object, render: typeof inspect): string {
    return redactText(render(this, { ...options, customInspect: false }));
  }
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
