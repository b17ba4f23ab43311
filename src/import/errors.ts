/** Stable error codes of the importer (see src/errors.ts for the convention). */

/** The import file is missing, does not default-export `defineImport(...)`, or is inconsistent with the schema. */
export const E_IMPORT_DEFINITION = 'E_IMPORT_DEFINITION';
/** A resumable run exists but the source files changed since it started. */
export const E_IMPORT_SOURCE_CHANGED = 'E_IMPORT_SOURCE_CHANGED';
/** More records were rejected than `--max-rejects` allows. */
export const E_IMPORT_MAX_REJECTS = 'E_IMPORT_MAX_REJECTS';
/** The database stayed unreachable for longer than the retry window. */
export const E_IMPORT_CONNECTION = 'E_IMPORT_CONNECTION';
/** `--backup` could not archive the source. */
export const E_IMPORT_BACKUP = 'E_IMPORT_BACKUP';
/** A target table does not exist: the migrations were not applied. */
export const E_IMPORT_TARGET_MISSING = 'E_IMPORT_TARGET_MISSING';
/**
 * A statement of `ferry import` or `ferry verify` ran past its
 * `statementTimeout` (`--statement-timeout`, default 10 minutes) and the
 * database cancelled it; the message and `details.step` name what it was doing.
 */
export const E_IMPORT_TIMEOUT = 'E_IMPORT_TIMEOUT';
