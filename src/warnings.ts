/**
 * Warnings an operator must see even when the app passed no logger (Redis
 * unreachable, corrupt cache entries): Ferry is silent while everything
 * works, but a degraded mode nobody hears of is a bug report waiting.
 *
 * - a `logger`: a line at the given level, with `code` among its fields;
 * - none (`undefined`): `process.emitWarning(message, { code })` (printed on
 *   stderr by Node unless the app runs with `--no-warnings` or listens to
 *   `process.on('warning')`);
 * - `logger: false`: nothing at all (explicitly silenced).
 *
 * Callers warn once per transition or per key prefix (`OncePer`), never per
 * call or retry.
 */
import { type Layer, type Logger, layerLogger } from './logger.js';

/** The `code` of every warning Ferry emits (also a field of the log line). */
export type FerryWarningCode =
  /** Redis could not be reached, or stopped answering; what still works is in the message. */
  | 'FERRY_REDIS_UNAVAILABLE'
  /** Redis answers again after a FERRY_REDIS_UNAVAILABLE. */
  | 'FERRY_REDIS_AVAILABLE'
  /** A cached value in Redis could not be decoded: it was deleted and counted as a miss. */
  | 'FERRY_CACHE_CORRUPT'
  /** A loader's result was larger than `maxValueBytes`: returned, not cached. */
  | 'FERRY_CACHE_VALUE_TOO_LARGE'
  /** An invalidation Redis did not confirm: replayed when it answers; other instances may serve the old value until then. */
  | 'FERRY_CACHE_INVALIDATION_UNCONFIRMED';

export type Warn = (level: 'warn' | 'info', code: FerryWarningCode, message: string, fields?: object) => void;

/** Where warnings of one component go (see the module comment). */
export function warner(logger: Logger | false | null | undefined, layer: Layer): Warn {
  if (logger === false || logger === null) return () => {};
  if (logger === undefined) return (_level, code, message) => process.emitWarning(message, { code });
  const log = layerLogger(logger, layer);
  return (level, code, message, fields) => log[level]({ code, ...fields }, message);
}

/**
 * Remembers which keys it has seen, so something is said once per key. At
 * most `max` keys are remembered (keys come from data): beyond that, new keys
 * are not reported at all.
 */
export class OncePer {
  readonly #seen = new Set<string>();
  constructor(readonly max = 100) {}

  /** True the first time `key` is seen (while fewer than `max` are remembered). */
  first(key: string): boolean {
    if (this.#seen.has(key) || this.#seen.size >= this.max) return false;
    this.#seen.add(key);
    return true;
  }
}
