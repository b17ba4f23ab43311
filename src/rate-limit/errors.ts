/** Stable error codes of the rate limiter. Match on `err.code`. */

/** `createRateLimiter` options are invalid (points, duration, prefix...). */
export const E_RATE_CONFIG = 'E_RATE_CONFIG';
/** A key or a number of points passed to the limiter is invalid. */
export const E_RATE_ARGUMENT = 'E_RATE_ARGUMENT';
/** The limiter was used after `close()`. */
export const E_RATE_CLOSED = 'E_RATE_CLOSED';
