/**
 * Fixed-window rate limits on `rate-limiter-flexible`: counted in Redis so
 * every process shares one budget per key, with an in-memory insurance
 * limiter that takes over while Redis is unreachable or slow. A Redis failure
 * never fails (or unblocks) a request: it is limited per process instead.
 *
 *   const limiter = createRateLimiter({ redis: process.env.REDIS_URL, points: 60, duration: '1m' });
 *   const r = await limiter.consume({ user: userId, ip });   // key rate:{user}:{ip}, as the seeds write it
 *   if (!r.allowed) reply(429, { retryAfter: Math.ceil(r.retryAfterMs / 1000) });
 *
 * A circuit breaker (src/redis/breaker.ts) decides where a call goes: one
 * Redis error or timeout opens it, and while it is open every call is
 * answered by the insurance limiter at once (not after waiting `timeoutMs`
 * for a Redis that hangs); a PING every second (or the connection coming
 * back) closes it again. Transitions are announced once (src/redis/announce.ts).
 */
import type * as RateLimiterFlexible from 'rate-limiter-flexible';
import type { RateLimiterRes } from 'rate-limiter-flexible';
import { redactText } from '../db/url.js';
import { FerryError } from '../errors.js';
import { requireOptional } from '../optional-dependency.js';
import { RedisAnnouncer } from '../redis/announce.js';
import { CircuitBreaker } from '../redis/breaker.js';
import { openRedis, type RedisLike } from '../redis/connection.js';
import { redisUsable, watchRedis, withTimeout } from '../redis/health.js';
import { E_RATE_ARGUMENT, E_RATE_CLOSED } from './errors.js';
import { type RateLimiterOptions, resolveRateLimiterOptions } from './options.js';

export type { RateLimiterOptions } from './options.js';

/**
 * A key: a string (used as is), or the seeds' `{user}:{ip}` pair (`user`
 * missing, null or '' for anonymous requests). The pair is encoded so no two
 * pairs share a key: the user part is percent-encoded (`%` → `%25`, `:` →
 * `%3A`) and empty for anonymous requests (so user `'anon'` is a user like
 * any other); the ip follows the first `:` as is.
 */
export type RateLimitKey = string | { user?: string | number | null; ip: string };

export interface RateLimitResult {
  /** The request may proceed. */
  allowed: boolean;
  /** Points left in the current window. */
  remaining: number;
  /** Points consumed in the current window (this request included). */
  consumed: number;
  /** Milliseconds until the window (or block) ends and points are restored. */
  resetMs: number;
  /** 0 when allowed, else how long to wait before retrying (the `Retry-After` header, in ms). */
  retryAfterMs: number;
}

export interface RateLimiter {
  readonly points: number;
  /** The window, in milliseconds. */
  readonly durationMs: number;
  readonly keyPrefix: string;
  /** The Redis key for `key` (`rate:{user}:{ip}`; see RateLimitKey for the encoding). */
  keyFor(key: RateLimitKey): string;
  /** Consume `points` (default 1) for `key`. Never rejects because of Redis. */
  consume(key: RateLimitKey, points?: number): Promise<RateLimitResult>;
  /** The current state of `key` without consuming; `null` when it has consumed nothing this window. */
  get(key: RateLimitKey): Promise<RateLimitResult | null>;
  /** Forget `key`'s consumption (memory always; Redis when reachable). Resolves `false` when Redis could not be reset. */
  reset(key: RateLimitKey): Promise<boolean>;
  /** Decisions made since creation, by who made them (for metrics). */
  stats(): RateLimiterStats;
  /** Close the Redis client if Ferry created it. */
  close(): Promise<void>;
}

/** `consume` decisions by outcome and by the store that decided (Redis, or the in-memory insurance limiter). */
export interface RateLimiterStats {
  allowed: { redis: number; memory: number };
  rejected: { redis: number; memory: number };
  /** 'closed' while Redis decides, 'open' while the insurance limiter does, 'off' without Redis. */
  breaker: 'closed' | 'open' | 'off';
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const {
    points,
    durationS: duration,
    blockDurationS: blockDuration,
    insurancePoints,
    timeoutMs,
    keyPrefix,
    log,
  } = resolveRateLimiterOptions(options);

  // An optional peer, loaded here so an app that never rate-limits does not need it.
  const { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } =
    requireOptional<typeof RateLimiterFlexible>('rate-limiter-flexible');
  const memory = new RateLimiterMemory({ points: insurancePoints, duration, blockDuration, keyPrefix });
  const connection = openRedis(options.redis, {
    commandTimeoutMs: timeoutMs * 2,
    ...options.client,
    mode: 'queue',
    what: 'createRateLimiter',
    logger: options.logger,
  });
  const client: RedisLike | null = connection?.client ?? null;
  if (client) watchRedis(client);
  const redis = client
    ? new RateLimiterRedis({
        storeClient: client,
        points,
        duration,
        blockDuration,
        keyPrefix,
        // No `insuranceLimiter`: the library would answer Redis errors from memory
        // without telling us, and the breaker must see them (run() falls back itself).
      })
    : null;
  let closed = false;
  const breaker = client && connection ? limiterBreaker(client, connection, timeoutMs, keyPrefix, options, log) : null;

  const keyFor = (key: RateLimitKey) => `${keyPrefix}:${keyString(key)}`;

  const ensureOpen = () => {
    if (closed) throw new FerryError(E_RATE_CLOSED, 'This rate limiter was closed.');
  };

  /** Redis may be asked now: the breaker is closed and the connection not known to be down. */
  const redisNow = () => redis !== null && client !== null && breaker?.isClosed === true && redisUsable(client);

  /** Run `fn` on Redis when it can answer in time, else on the insurance limiter. */
  async function run<T>(name: string, onRedis: () => Promise<T>, onMemory: () => Promise<T>): Promise<T> {
    if (redisNow()) {
      try {
        const res = await withTimeout(onRedis(), timeoutMs, `rate limiter ${name}`);
        breaker!.success();
        return res;
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          breaker!.success(); // Redis answered: over the limit
          throw err;
        }
        // Timed out or failed: the memory limiter decides (a late Redis reply only over-counts),
        // and so do the calls after this one until a probe finds Redis answering again.
        log.debug({ op: name, msg: (err as Error)?.message }, 'rate limit: Redis did not answer, counted in memory');
        // An error reply (WRONGTYPE on a key another program wrote...) is Redis answering:
        // this call is decided in memory, the others still go to Redis.
        if ((err as Error)?.name === 'ReplyError') breaker!.success();
        else breaker!.failure((err as Error)?.message ?? String(err));
      }
    }
    return onMemory();
  }

  const limiterFor = () => (redisNow() ? 'redis' : 'memory');
  const decisions = { allowed: { redis: 0, memory: 0 }, rejected: { redis: 0, memory: 0 } };

  return {
    points,
    durationMs: duration * 1000,
    keyPrefix,
    keyFor,

    async consume(key, n = 1) {
      ensureOpen();
      const k = keyString(key);
      const count = checkPoints(n);
      const limit = limiterFor() === 'redis' ? points : insurancePoints;
      // Who decided this call (set per call: a Redis failure falls back to memory).
      let store: 'redis' | 'memory' = 'memory';
      try {
        const res = await run(
          'consume',
          () => {
            store = 'redis';
            return redis!.consume(k, count);
          },
          () => {
            store = 'memory';
            return memory.consume(k, count);
          },
        );
        decisions.allowed[store]++;
        return toResult(res, true, limit);
      } catch (err) {
        decisions.rejected[store]++;
        if (err instanceof RateLimiterRes) return toResult(err, false, limit);
        // Neither store could answer (should not happen: memory cannot fail). Fail closed, never throw.
        return {
          allowed: false,
          remaining: 0,
          consumed: limit,
          resetMs: duration * 1000,
          retryAfterMs: duration * 1000,
        };
      }
    },

    async get(key) {
      ensureOpen();
      const k = keyString(key);
      const limit = limiterFor() === 'redis' ? points : insurancePoints;
      let res: RateLimiterRes | null;
      try {
        res = await run(
          'get',
          () => redis!.get(k),
          () => memory.get(k),
        );
      } catch {
        res = await memory.get(k).catch(() => null);
      }
      if (!res) return null;
      const allowed = res.consumedPoints <= limit;
      return toResult(res, allowed, limit);
    },

    async reset(key) {
      ensureOpen();
      const k = keyString(key);
      await memory.delete(k).catch(() => {});
      if (!redis || !client) return true;
      if (!redisNow()) return false;
      try {
        // Straight to Redis: the library's delete would fall back to memory and report success.
        await withTimeout(client.del(keyFor(key)), timeoutMs, 'rate limiter reset');
        return true;
      } catch {
        return false;
      }
    },

    stats() {
      return {
        allowed: { ...decisions.allowed },
        rejected: { ...decisions.rejected },
        breaker: breaker === null ? 'off' : breaker.isClosed ? 'closed' : 'open',
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      breaker?.close();
      await connection?.close();
    },
  };
}

/** How often an open breaker checks Redis again (PING). */
const PROBE_EVERY_MS = 1_000;

/**
 * The limiter's breaker, opened by a failed call (threshold 1: waiting for a
 * second timeout would cost another `timeoutMs`) or by the connection
 * failing, closed by a PING answered within `timeoutMs`. Its transitions
 * are what the announcer says.
 */
function limiterBreaker(
  client: RedisLike,
  connection: { shown: string; secrets: readonly string[] },
  timeoutMs: number,
  keyPrefix: string,
  options: RateLimiterOptions,
  log: { debug: (obj: object, msg?: string) => void },
): { readonly isClosed: boolean; success(): void; failure(message: string): void; close(): void } {
  const redact = (text: string) => redactText(text, connection.secrets);
  const announcer = new RedisAnnouncer({
    what: `createRateLimiter "${keyPrefix}"`,
    shown: connection.shown,
    fallback: 'limits are counted per process (the insurance limiter)',
    logger: options.logger,
    layer: 'rate-limit',
  });
  let lastError = 'no answer';
  let stopped = false;
  const breaker = new CircuitBreaker({
    threshold: 1,
    breakMs: PROBE_EVERY_MS,
    probe: async () => {
      if (stopped) return 'closed';
      if (!redisUsable(client)) return 'connection down';
      try {
        await withTimeout(client.ping(), timeoutMs, 'rate limiter probe');
        return true;
      } catch (err) {
        lastError = redact((err as Error)?.message ?? String(err));
        return 'probe failed';
      }
    },
    onChange: (state, reason) => {
      log.debug({ state, reason }, `rate limit: circuit breaker ${state}`);
      if (state === 'open') announcer.down(`${reason}: ${lastError}`);
      else if (state === 'closed') announcer.up();
    },
  });
  client.on('error', (err: Error) => {
    lastError = redact(err?.message ?? String(err));
    if (!stopped) breaker.trip('connection error');
  });
  client.on('reconnecting', () => {
    if (!stopped) breaker.trip('connection lost');
  });
  client.on('ready', () => {
    if (stopped) return;
    if (breaker.isClosed) announcer.up();
    else breaker.probeIn(0);
  });
  if (client.status === 'ready') announcer.up();
  return {
    get isClosed() {
      return breaker.isClosed;
    },
    success: () => breaker.success(),
    failure: (message) => {
      lastError = redact(message);
      breaker.failure();
    },
    close: () => {
      stopped = true;
      announcer.close();
      breaker.stop();
    },
  };
}

function toResult(res: RateLimiterRes, allowed: boolean, limit: number): RateLimitResult {
  const resetMs = Math.max(0, Math.ceil(res.msBeforeNext ?? 0));
  return {
    allowed,
    remaining: Math.max(0, res.remainingPoints ?? limit - res.consumedPoints),
    consumed: res.consumedPoints,
    resetMs,
    retryAfterMs: allowed ? 0 : Math.max(resetMs, 1),
  };
}

function keyString(key: RateLimitKey): string {
  if (typeof key === 'string') {
    if (key.length === 0 || key.length > 512) {
      throw new FerryError(E_RATE_ARGUMENT, `A rate-limit key must be 1-512 characters, got ${key.length}.`);
    }
    return key;
  }
  if (typeof key !== 'object' || key === null || typeof key.ip !== 'string' || key.ip.length === 0) {
    throw new FerryError(E_RATE_ARGUMENT, 'A rate-limit key is a string or { user, ip } with a non-empty ip.');
  }
  // Percent-encoded, so the first ':' always ends the user part; '' (anonymous) is no user's encoding.
  const user =
    key.user === undefined || key.user === null || key.user === ''
      ? ''
      : String(key.user).replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
  const out = `${user}:${key.ip}`;
  if (out.length > 512) throw new FerryError(E_RATE_ARGUMENT, 'A rate-limit key must be at most 512 characters.');
  return out;
}

function checkPoints(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new FerryError(E_RATE_ARGUMENT, `Points to consume must be a positive integer, got ${String(n)}.`);
  }
  return n;
}
