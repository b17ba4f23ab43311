/** Stable error codes of `ferry export` / `exportTo` (see src/errors.ts for the convention). */

/** The table to export does not exist (the message lists close names). */
export const E_EXPORT_TABLE = 'E_EXPORT_TABLE';
/** The options cannot work together or are malformed (table and query both, an unknown column, a bad format...). */
export const E_EXPORT_OPTIONS = 'E_EXPORT_OPTIONS';
/** The database refused the export's query (`--query`, `--where`): the message carries the server's. */
export const E_EXPORT_QUERY = 'E_EXPORT_QUERY';
/** The output file could not be written; nothing was left at its path. */
export const E_EXPORT_OUTPUT = 'E_EXPORT_OUTPUT';
