/**
 * Error codes of `ferry/ops` backup and restore. Thrown as `FerryError`
 * (src/errors.ts); like every Ferry code they are public API.
 */

/** `pg_dump`/`pg_restore` is missing, older than the server, or failed (the message has its stderr). */
export const E_BACKUP_TOOL = 'E_BACKUP_TOOL';
/** A backup's directory has no readable manifest.json, or a file differs from the manifest's size or sha256 (checked before anything is restored). */
export const E_BACKUP_CORRUPT = 'E_BACKUP_CORRUPT';
/** `restore` was pointed at a database that already holds tables; pass `clean` (`--clean`) to replace them. */
export const E_BACKUP_TARGET_NOT_EMPTY = 'E_BACKUP_TARGET_NOT_EMPTY';
/** The backup holds no form this target can load (e.g. a PGlite data dir only, with objects the portable dump cannot carry). */
export const E_BACKUP_UNSUPPORTED = 'E_BACKUP_UNSUPPORTED';
/** After a restore, the target's row counts or content checksums differ from the manifest's (`--verify`). */
export const E_BACKUP_VERIFY = 'E_BACKUP_VERIFY';
