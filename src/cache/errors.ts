/**
 * Stable error codes of the cache. Match on `err.code`.
 *
 * Redis failures never surface as thrown errors from cache calls (they are
 * counted in `stats().errors`, logged, and the call falls back to L1 or the
 * loader); `E_CACHE_REDIS` and `E_CACHE_TIMEOUT` only appear as the `err` of
 * log lines and `onError` callbacks. What callers can see thrown is a
 * programming mistake (`E_CACHE_CONFIG`, `E_CACHE_VALUE`, `E_CACHE_KEY`) or
 * use after `close()` (`E_CACHE_CLOSED`). A loader's own error is rethrown
 * unchanged (unless a graced value can be served instead).
 */
import { FerryError, type FerryErrorCode, type FerryErrorOptions } from '../errors.js';

/** `createCache` options are invalid (negative sizes, bad durations...); a bad Redis URL is `E_REDIS_URL` (src/redis/errors.ts). */
export const E_CACHE_CONFIG = 'E_CACHE_CONFIG';
/** The cache was used after `close()`. */
export const E_CACHE_CLOSED = 'E_CACHE_CLOSED';
/** A value cannot be cached (undefined passed to `set`, a function, a circular structure, more than `maxValueBytes`...). */
export const E_CACHE_VALUE = 'E_CACHE_VALUE';
/** A key is not a non-empty string, or is longer than 1,024 bytes (UTF-8). */
export const E_CACHE_KEY = 'E_CACHE_KEY';
/** A Redis command failed (reported to logs and `onError`, never thrown). */
export const E_CACHE_REDIS = 'E_CACHE_REDIS';
/** A Redis command took longer than `timeoutMs` (reported, never thrown). */
export const E_CACHE_TIMEOUT = 'E_CACHE_TIMEOUT';

export function cacheError<C extends FerryErrorCode>(
  code: C,
  message: string,
  options: FerryErrorOptions<C> = {},
): FerryError<C> {
  return new FerryError(code, message, options);
}
