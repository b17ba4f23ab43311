/**
 * Error codes of the legacy-import sources. Thrown as `FerryError`
 * (src/errors.ts) for problems with the source as a whole (a missing file, bad
 * options, an unreachable Redis); malformed records are yielded as `error`
 * records instead. Like every Ferry code they are public API.
 */

/** A file or module the source reads does not exist (or a glob matched nothing). */
export const E_SOURCE_NOT_FOUND = 'E_SOURCE_NOT_FOUND';
/** The factory was given invalid options (unknown `type`, both `table` and `query`...). */
export const E_SOURCE_OPTIONS = 'E_SOURCE_OPTIONS';
/**
 * The source cannot be read to its end: a file cut short, not JSON/CSV at
 * all, or broken in its structure (not in one record) so nothing after the
 * fault can be trusted. The message names file, line and column.
 */
export const E_SOURCE_MALFORMED = 'E_SOURCE_MALFORMED';
/** The source could not be read at all: permissions, not a SQLite file, Redis unreachable. */
export const E_SOURCE_READ = 'E_SOURCE_READ';
