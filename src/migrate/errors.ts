/**
 * Error codes of the migration layer (files, splitter, runner). Thrown as
 * `FerryError` (src/errors.ts); like every Ferry code they are public API.
 */

/** The migrations directory holds something that is not `<YYYYMMDDHHMMSS>_<name>/up.sql[+down.sql]`, or a file is unusable (bad directive, several statements in a no-transaction file, BEGIN/COMMIT in a file). */
export const E_MIGRATION_FILE = 'E_MIGRATION_FILE';
/** `writeMigration` was asked to create an id that already exists. */
export const E_MIGRATION_EXISTS = 'E_MIGRATION_EXISTS';
/** An up.sql (or, for `down`, a down.sql) to run holds no statement and does not say `-- ferry:empty`. */
export const E_MIGRATION_EMPTY = 'E_MIGRATION_EMPTY';
/** `ferry migrate new` refused to write migrations its own linter marks as errors (pass `force` to write them anyway). */
export const E_MIGRATION_LINT = 'E_MIGRATION_LINT';
/** `forget` was asked to drop the history row of a migration whose folder is still on disk (pass `force`). */
export const E_MIGRATION_ON_DISK = 'E_MIGRATION_ON_DISK';
/** An applied migration's up.sql has changed since it was applied. */
export const E_MIGRATION_CHECKSUM = 'E_MIGRATION_CHECKSUM';
/** A migration recorded as applied has no directory on disk any more. */
export const E_MIGRATION_MISSING = 'E_MIGRATION_MISSING';
/** A pending migration is older than the newest applied one (a late merge), and `allowOutOfOrder` is off. */
export const E_MIGRATION_OUT_OF_ORDER = 'E_MIGRATION_OUT_OF_ORDER';
/** Another process held the migration lock for longer than `lockTimeoutMs`. */
export const E_MIGRATION_LOCK_TIMEOUT = 'E_MIGRATION_LOCK_TIMEOUT';
/** A migration to revert has no down.sql. */
export const E_MIGRATION_NO_DOWN = 'E_MIGRATION_NO_DOWN';
/** A `to` target names no known migration (or, for `down`, one that is not applied). */
export const E_MIGRATION_UNKNOWN = 'E_MIGRATION_UNKNOWN';
/** A migration failed while running; used as `error.code` in run results (not thrown). */
export const E_MIGRATION_FAILED = 'E_MIGRATION_FAILED';
