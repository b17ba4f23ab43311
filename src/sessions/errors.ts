/** Stable error codes of the session store. Match on `err.code`. */

/** `createSessionStore` options are invalid. */
export const E_SESSION_CONFIG = 'E_SESSION_CONFIG';
/** A session id, user id or data passed to the store is invalid. */
export const E_SESSION_ARGUMENT = 'E_SESSION_ARGUMENT';
/** `create` was given a jti that is already in use (or was revoked). */
export const E_SESSION_EXISTS = 'E_SESSION_EXISTS';
/** `create` lost a race with `revokeAllForUser`: the new session was revoked at once. */
export const E_SESSION_REVOKED = 'E_SESSION_REVOKED';
/** `update` kept losing compare-and-set races with concurrent writes. */
export const E_SESSION_CONFLICT = 'E_SESSION_CONFLICT';
/** Without persistence, Redis could not be reached: the store cannot answer. */
export const E_SESSION_UNAVAILABLE = 'E_SESSION_UNAVAILABLE';
/** A refresh-token operation needs `persist`. */
export const E_SESSION_NO_PERSIST = 'E_SESSION_NO_PERSIST';
/** The store was used after `close()`. */
export const E_SESSION_CLOSED = 'E_SESSION_CLOSED';
