/**
 * Every option of `createRateLimiter` checked and defaulted in one place.
 * Durations follow Ferry's one convention (a number is milliseconds, or
 * `'1m'`-style strings) and are converted to the whole seconds
 * rate-limiter-flexible counts in; a duration that is not a whole number of
 * seconds is refused (E_RATE_CONFIG), never rounded.
 */
import { type Duration, toMs, toWholeSeconds } from '../duration.js';
import { FerryError } from '../errors.js';
import { type LayerLogger, type Logger, layerLogger } from '../logger.js';
import type { RedisConnectionOptions, RedisInput } from '../redis/connection.js';
import { E_RATE_CONFIG } from './errors.js';

export interface RateLimiterOptions {
  /** A Redis URL (`redis://`, `rediss://`, `unix://`), an ioredis client, `null` for memory only; default `REDIS_URL`, else memory only. */
  redis?: RedisInput;
  /** Points each key may consume per window. */
  points: number;
  /** Window length: a whole number of seconds, as milliseconds or e.g. `'1s'`, `'1m'`, `'1h'`. */
  duration: Duration;
  /** Redis key prefix: keys are `<keyPrefix>:<key>`. Default `'rate'`. */
  keyPrefix?: string;
  /** Once over the limit, block the key this long (whole seconds) instead of until the window ends. */
  blockDuration?: Duration;
  /** Points per key of the in-memory insurance limiter, per process. Default `points`. */
  insurancePoints?: number;
  /**
   * Use the insurance limiter when Redis has not answered within this long
   * (default 250 ms). Such a timeout (or an error) opens a circuit breaker:
   * later calls use the insurance limiter at once until a PING answers.
   */
  timeoutMs?: Duration;
  /** How a client created from a URL connects and times out. */
  client?: Omit<RedisConnectionOptions, 'mode' | 'env' | 'what' | 'logger'>;
  /**
   * A pino-compatible logger (`layer: 'rate-limit'`): Redis unavailable /
   * available again (warn/info, once per transition, `code:
   * 'FERRY_REDIS_*'`), each fallback to the insurance limiter (debug).
   * Default: only those warnings, through `process.emitWarning`; `false`:
   * nothing at all.
   */
  logger?: Logger | false;
}

export interface ResolvedRateLimiterOptions {
  points: number;
  /** Seconds, for rate-limiter-flexible. */
  durationS: number;
  blockDurationS: number;
  insurancePoints: number;
  timeoutMs: number;
  keyPrefix: string;
  log: LayerLogger;
}

const PREFIX_RE = /^[A-Za-z0-9_.\-:{}]{1,100}$/;

export function resolveRateLimiterOptions(options: RateLimiterOptions): ResolvedRateLimiterOptions {
  const points = checkInt(options.points, 'points', 1);
  const durationS = toWholeSeconds(options.duration, 'duration', E_RATE_CONFIG, 1);
  const blockDurationS =
    options.blockDuration === undefined ? 0 : toWholeSeconds(options.blockDuration, 'blockDuration', E_RATE_CONFIG);
  const insurancePoints =
    options.insurancePoints === undefined ? points : checkInt(options.insurancePoints, 'insurancePoints', 1);
  const timeoutMs = toMs(options.timeoutMs ?? 250, 'timeoutMs', E_RATE_CONFIG);
  if (!(timeoutMs > 0))
    throw new FerryError(E_RATE_CONFIG, `timeoutMs must be a positive duration, got ${String(options.timeoutMs)}.`);
  const keyPrefix = options.keyPrefix ?? 'rate';
  if (typeof keyPrefix !== 'string' || !PREFIX_RE.test(keyPrefix)) {
    throw new FerryError(
      E_RATE_CONFIG,
      `keyPrefix must be 1-100 characters of letters, digits and _ . - : { }, got ${JSON.stringify(keyPrefix)}.`,
    );
  }
  return {
    points,
    durationS,
    blockDurationS,
    insurancePoints,
    timeoutMs,
    keyPrefix,
    log: layerLogger(options.logger, 'rate-limit'),
  };
}

function checkInt(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new FerryError(E_RATE_CONFIG, `${name} must be an integer ≥ ${min}, got ${String(value)}.`);
  }
  return value;
}
