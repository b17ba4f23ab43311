/**
 * Every option of `createCache` checked and defaulted in one place (as
 * `resolvePoolOptions` does for the Postgres pool), so the cache itself only
 * reads numbers it can trust.
 */

import { type Duration, toMs } from '../duration.js';
import type { FerryError } from '../errors.js';
import { type LayerLogger, type Logger, layerLogger } from '../logger.js';
import type { RedisConnectionOptions, RedisLike } from '../redis/connection.js';
import { cacheError, E_CACHE_CONFIG } from './errors.js';

export interface SetOptions {
  ttl?: Duration;
  /** Keep the value this long past its ttl, to serve when a later loader fails or is slow. */
  grace?: Duration;
}

export interface GetOrSetOptions extends SetOptions {
  /** With `grace`: serve the graced value when the loader takes longer than this (default 100 ms); it keeps loading in the background. */
  graceTimeout?: Duration;
  /**
   * Cache `undefined`/`null` results too: `true` for 5 s, or a ttl. Off by
   * default (absent results are loaded every time).
   */
  negative?: boolean | Duration;
}

export interface CacheOptions {
  /**
   * `redis://`, `rediss://` or `unix://` URL, or an ioredis client (not closed
   * by the cache). Default: `env.REDIS_URL`. `null`/`false` or no URL at all:
   * L1 only, with the same API. A bad URL is `E_REDIS_URL`.
   */
  redis?: string | RedisLike | null | false;
  /**
   * Prefix of every Redis key (`<namespace>~v:<key>`) and of the pub/sub
   * channel; instances sharing data share it. No spaces, braces or `~`: the
   * `~` that ends it keeps `a` and `a:b` apart (`clear()` of one never
   * touches the other).
   */
  namespace: string;
  /**
   * The in-process tier. `false`: none — every read goes to Redis (or, without
   * Redis, to the loader), and values are not frozen since no cache hands the
   * same object to several callers (concurrent getOrSet callers of a key still
   * share one result).
   */
  l1?:
    | false
    | {
        /** Most entries (default 10,000). */
        max?: number;
        /** Most bytes of encoded values (approximate: JSON length). */
        maxBytes?: number;
        /** Longest an entry lives in L1 whatever its ttl (default '1m'): bounds what a lost invalidation can cost. */
        ttl?: Duration;
        /**
         * @deprecated Ignored. It served L1 entries younger than this while
         * the bus was down, and a young entry can be stale; L1 is now served
         * only while the bus proves it hears invalidations (`bus.maxStale`).
         */
        offlineTtl?: Duration;
        /** Deep-freeze cached objects, so a caller mutating a shared value fails loudly (default true). */
        freeze?: boolean;
      };
  /** Default entry ttl (default '1m'). */
  ttl?: Duration;
  /**
   * Largest value stored, in UTF-8 bytes of its encoded JSON (default
   * 1,048,576: 1 MB). `set()` of a larger value throws `E_CACHE_VALUE`; a
   * larger `getOrSet` loader result is returned but not cached (reported to
   * `onError`, warned once per key prefix). Keys are limited to 1,024 bytes.
   */
  maxValueBytes?: number;
  /** Per-command Redis timeout (default 100 ms). */
  timeoutMs?: Duration;
  breaker?: {
    /** Consecutive failures that open the breaker (default 3). A failed invalidation opens it at once. */
    threshold?: number;
    /** How long it stays open before a probe (default 1000 ms). */
    breakMs?: Duration;
    /**
     * After an outage (the breaker closing again, or the bus coming back),
     * for this long neither L1 nor Redis values are served — reads reload,
     * and loads are not kept in L1 (default 2 × breakMs): other instances may
     * not have replayed the invalidations they could not write yet.
     */
    quarantineMs?: Duration;
  };
  /**
   * Pub/sub invalidation of other instances' L1 (default true). `false` is
   * for single-instance deployments only: L1 entries are then never
   * invalidated by other processes (and always served until they expire).
   */
  bus?:
    | boolean
    | {
        /** Pause between heartbeat PINGs on the subscriber connection, one outstanding at a time (default 100 ms). */
        heartbeatMs?: Duration;
        /**
         * The staleness bound (default 250 ms). L1 entries, and Redis values
         * read by commands sent at that moment, are served only while a
         * heartbeat sent less than `maxStale` ago has been answered; since
         * Redis delivers every invalidation it ran before that heartbeat
         * first, nothing served is older than `maxStale` after Redis ran the
         * invalidation that replaced it. Must exceed `heartbeatMs` (keep it
         * at 2× or more, or L1 goes unused between heartbeats).
         */
        maxStale?: Duration;
      };
  /** How long a loader may take and still fill the cache (default '10s'). */
  leaseTtl?: Duration;
  /**
   * A pino-compatible logger: Redis unavailable / available again (warn/info,
   * once per transition, `code: 'FERRY_REDIS_*'`), corrupt and oversized
   * values (warn, once per key prefix, `code: 'FERRY_CACHE_*'`), bus
   * transitions (warn/info), Redis errors (debug), under `layer: 'cache' |
   * 'l2' | 'bus'`. Default: only those warnings, through
   * `process.emitWarning`; `false`: nothing at all.
   */
  logger?: Logger | false;
  /** Every Redis error (redacted), for metrics or tests. */
  onError?: (err: FerryError) => void;
  /** Environment to read `REDIS_URL` (and `REDIS_TLS_CA`, `REDIS_TLS_REJECT_UNAUTHORIZED`) from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** How a client created from a URL connects: `tls` for `rediss://` (a private CA...), `connectTimeoutMs`. */
  client?: Pick<RedisConnectionOptions, 'tls' | 'connectTimeoutMs'>;
}

export interface ResolvedCacheOptions {
  namespace: string;
  /** null: no L1. */
  l1: { max: number; maxBytes: number | undefined; freeze: boolean } | null;
  l1TtlMs: number;
  ttlMs: number;
  maxValueBytes: number;
  timeoutMs: number;
  threshold: number;
  breakMs: number;
  quarantineMs: number;
  /** null: no bus. */
  bus: { heartbeatMs: number; maxStaleMs: number } | null;
  leaseTtlMs: number;
  log: { cache: LayerLogger; l2: LayerLogger; bus: LayerLogger };
  onError: ((err: FerryError) => void) | undefined;
}

export const DEFAULTS = {
  max: 10_000,
  l1Ttl: 60_000,
  ttl: 60_000,
  timeoutMs: 100,
  threshold: 3,
  breakMs: 1_000,
  heartbeatMs: 100,
  maxStale: 250,
  leaseTtl: 10_000,
  negativeTtl: 5_000,
  graceTimeout: 100,
  maxValueBytes: 1024 * 1024,
};

/** A duration option of the cache (E_CACHE_CONFIG when invalid). */
export const cacheMs = (value: Duration, what: string): number => toMs(value, what, E_CACHE_CONFIG);

/** Check and default `options`; throws E_CACHE_CONFIG naming the option. Opens nothing. */
export function resolveCacheOptions(options: CacheOptions): ResolvedCacheOptions {
  if (typeof options?.namespace !== 'string' || options.namespace === '' || /[\s{}~]/.test(options.namespace)) {
    throw cacheError(
      E_CACHE_CONFIG,
      'createCache: `namespace` must be a non-empty string without spaces, braces or `~` (it ends every key).',
    );
  }
  const l1 = options.l1 ?? {};
  let resolvedL1: ResolvedCacheOptions['l1'] = null;
  if (l1 !== false) {
    if (typeof l1 !== 'object' || l1 === null) {
      throw cacheError(E_CACHE_CONFIG, 'createCache: `l1` must be an object of L1 options or false (no L1).');
    }
    const max = l1.max ?? DEFAULTS.max;
    if (!Number.isInteger(max) || max < 1)
      throw cacheError(E_CACHE_CONFIG, `createCache: l1.max must be an integer >= 1, received ${max}.`);
    if (l1.maxBytes !== undefined && (!Number.isInteger(l1.maxBytes) || l1.maxBytes < 1)) {
      throw cacheError(E_CACHE_CONFIG, `createCache: l1.maxBytes must be an integer >= 1, received ${l1.maxBytes}.`);
    }
    resolvedL1 = { max, maxBytes: l1.maxBytes, freeze: l1.freeze ?? true };
    // Deprecated and ignored, but a bad value is still a configuration error.
    if (l1.offlineTtl !== undefined) cacheMs(l1.offlineTtl, 'l1.offlineTtl');
  }
  const l1Options = l1 === false ? {} : l1;
  const maxValueBytes = options.maxValueBytes ?? DEFAULTS.maxValueBytes;
  if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes < 1) {
    throw cacheError(
      E_CACHE_CONFIG,
      `createCache: maxValueBytes must be an integer >= 1, received ${String(options.maxValueBytes)}.`,
    );
  }
  const timeoutMs = cacheMs(options.timeoutMs ?? DEFAULTS.timeoutMs, 'timeoutMs');
  if (!(timeoutMs > 0))
    throw cacheError(E_CACHE_CONFIG, `createCache: timeoutMs must be > 0, received ${String(options.timeoutMs)}.`);
  const breakMs = Math.max(10, cacheMs(options.breaker?.breakMs ?? DEFAULTS.breakMs, 'breaker.breakMs'));
  const bus = options.bus ?? true;
  let resolvedBus: ResolvedCacheOptions['bus'] = null;
  if (bus !== false) {
    const o = typeof bus === 'object' && bus !== null ? bus : {};
    const heartbeatMs = cacheMs(o.heartbeatMs ?? DEFAULTS.heartbeatMs, 'bus.heartbeatMs') || DEFAULTS.heartbeatMs;
    const maxStaleMs = cacheMs(o.maxStale ?? DEFAULTS.maxStale, 'bus.maxStale');
    if (!(maxStaleMs > heartbeatMs)) {
      throw cacheError(
        E_CACHE_CONFIG,
        `createCache: bus.maxStale (${maxStaleMs} ms) must exceed bus.heartbeatMs (${heartbeatMs} ms): L1 is served only while a heartbeat sent less than maxStale ago has been answered.`,
      );
    }
    resolvedBus = { heartbeatMs, maxStaleMs };
  }
  const cache = layerLogger(options.logger, 'cache');
  return {
    namespace: options.namespace,
    l1: resolvedL1,
    l1TtlMs: Math.max(1, cacheMs(l1Options.ttl ?? DEFAULTS.l1Ttl, 'l1.ttl')),
    ttlMs: cacheMs(options.ttl ?? DEFAULTS.ttl, 'ttl'),
    maxValueBytes,
    timeoutMs,
    threshold: Math.max(1, options.breaker?.threshold ?? DEFAULTS.threshold),
    breakMs,
    quarantineMs:
      options.breaker?.quarantineMs === undefined
        ? 2 * breakMs
        : cacheMs(options.breaker.quarantineMs, 'breaker.quarantineMs'),
    bus: resolvedBus,
    leaseTtlMs: Math.max(1, cacheMs(options.leaseTtl ?? DEFAULTS.leaseTtl, 'leaseTtl')),
    log: { cache, l2: layerLogger(options.logger, 'l2'), bus: layerLogger(options.logger, 'bus') },
    onError: options.onError,
  };
}
