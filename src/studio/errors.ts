/**
 * Error codes of Ferry Studio (`studio()`, `ferry studio`). Thrown as
 * `FerryError` (src/errors.ts); the HTTP layer maps each to its status
 * (see `statusOf` in http.ts) and sends `{ error: { code, message } }`.
 */

/** The request's Host is not one Studio answers to (DNS rebinding defence): 421. */
export const E_STUDIO_HOST = 'E_STUDIO_HOST';
/** The request came from another origin (a cross-site page): 403. */
export const E_STUDIO_ORIGIN = 'E_STUDIO_ORIGIN';
/** A write without the `x-ferry-studio-token` header, or with a wrong token: 401. */
export const E_STUDIO_TOKEN = 'E_STUDIO_TOKEN';
/** A write while Studio runs read-only (start it with `--write`): 403. */
export const E_STUDIO_READ_ONLY = 'E_STUDIO_READ_ONLY';
/** No such route, table, row, import or column: 404. */
export const E_STUDIO_NOT_FOUND = 'E_STUDIO_NOT_FOUND';
/** A malformed request (bad JSON, bad parameter, unknown filter operator): 400. */
export const E_STUDIO_BAD_REQUEST = 'E_STUDIO_BAD_REQUEST';
/** The row changed or was deleted since it was read (optimistic locking); nothing written: 409. */
export const E_STUDIO_CONFLICT = 'E_STUDIO_CONFLICT';
/** The schema's validation or the database refused the values of a write (`fields` names the columns): 422. */
export const E_STUDIO_INVALID = 'E_STUDIO_INVALID';
/** The SQL runner's statement failed (syntax, permission, a write in a read-only transaction, the timeout): 400. */
export const E_STUDIO_SQL = 'E_STUDIO_SQL';
/** A bad `studio()` / `ferry studio` option (a non-loopback host without `--allow-remote`, a short token). */
export const E_STUDIO_CONFIG = 'E_STUDIO_CONFIG';
/** The code of a 500 answer: Studio failed (a bug, a lost connection); the details go to `onError`, not the browser. */
export const E_STUDIO_INTERNAL = 'E_STUDIO_INTERNAL';
