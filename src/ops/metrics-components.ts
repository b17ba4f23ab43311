/**
 * Metrics of the cache, the rate limiter and the session store, read from
 * the counters each already keeps (`stats()`) when Prometheus scrapes: none
 * of their hot paths is touched. The shapes below are structural (ferry/ops
 * does not import those parts): any object with a matching `stats()` works.
 *
 * Counters read this way are set, not incremented: `collect()` resets the
 * metric and adds the component's running total, so the exposition shows
 * the component's own count (monotonic as long as the component lives).
 */
import type { Counter, Gauge } from 'prom-client';
import type { Prom } from './metrics-registry.js';

/** What metrics read from a `ferry/cache` Cache. */
export interface CacheLike {
  readonly namespace: string;
  stats(): {
    l1: { hits: number; misses: number; entries: number; bytes: number };
    l2: { hits: number; misses: number };
    loader: { calls: number; errors: number };
    errors: number;
    breaker: string;
    pendingInvalidations: number;
    replayedInvalidations: number;
  };
}

/** What metrics read from a `ferry/rate-limit` RateLimiter. */
export interface RateLimiterLike {
  readonly keyPrefix: string;
  stats(): {
    allowed: { redis: number; memory: number };
    rejected: { redis: number; memory: number };
    breaker: string;
  };
}

/** What metrics read from a `ferry/sessions` SessionStore. */
export interface SessionStoreLike {
  stats(): { pendingRevocations: number; replayedRevocations: number };
}

const BREAKER_STATES = ['closed', 'open', 'half-open', 'off'] as const;

/** Set a counter to running totals read from a component (see the file comment). */
function setTotals<L extends string>(metric: Counter<L>, rows: Array<[Partial<Record<L, string>>, number]>): void {
  metric.reset();
  for (const [labels, value] of rows) metric.inc(labels, value);
}

/** The `{state}` enum pattern: 1 for the current state, 0 for the others, so `== 1` selects it. */
function setState<L extends string>(metric: Gauge<L>, labels: Partial<Record<L, string>>, state: string): void {
  for (const s of BREAKER_STATES) metric.set({ ...labels, state: s }, s === state ? 1 : 0);
}

export function registerCacheMetrics(prom: Prom, caches: readonly CacheLike[]): void {
  prom.counter({
    name: 'cache_requests_total',
    help: 'Cache lookups by cache (namespace), tier (l1 = in-process, l2 = Redis) and result (hit, miss).',
    labelNames: ['cache', 'tier', 'result'],
    collect() {
      setTotals(
        this,
        caches.flatMap((c) => {
          const s = c.stats();
          const cache = c.namespace;
          return [
            [{ cache, tier: 'l1', result: 'hit' }, s.l1.hits],
            [{ cache, tier: 'l1', result: 'miss' }, s.l1.misses],
            [{ cache, tier: 'l2', result: 'hit' }, s.l2.hits],
            [{ cache, tier: 'l2', result: 'miss' }, s.l2.misses],
          ] as Array<[Record<string, string>, number]>;
        }),
      );
    },
  });
  prom.counter({
    name: 'cache_loads_total',
    help: 'Loader calls on a miss, by cache and result (ok, error).',
    labelNames: ['cache', 'result'],
    collect() {
      setTotals(
        this,
        caches.flatMap((c) => {
          const { loader } = c.stats();
          return [
            [{ cache: c.namespace, result: 'ok' }, loader.calls - loader.errors],
            [{ cache: c.namespace, result: 'error' }, loader.errors],
          ] as Array<[Record<string, string>, number]>;
        }),
      );
    },
  });
  prom.counter({
    name: 'cache_redis_errors_total',
    help: 'Redis errors of the cache (timeouts included), by cache.',
    labelNames: ['cache'],
    collect() {
      setTotals(
        this,
        caches.map((c) => [{ cache: c.namespace }, c.stats().errors]),
      );
    },
  });
  prom.counter({
    name: 'cache_invalidations_replayed_total',
    help: 'Invalidations replayed to Redis after it was unreachable (a namespace flush counts as one), by cache.',
    labelNames: ['cache'],
    collect() {
      setTotals(
        this,
        caches.map((c) => [{ cache: c.namespace }, c.stats().replayedInvalidations]),
      );
    },
  });
  prom.gauge({
    name: 'cache_pending_invalidations',
    help: 'Invalidations waiting for Redis to answer again, by cache.',
    labelNames: ['cache'],
    collect() {
      for (const c of caches) this.set({ cache: c.namespace }, c.stats().pendingInvalidations);
    },
  });
  prom.gauge({
    name: 'cache_breaker_state',
    help: "The cache's Redis circuit breaker: 1 for the current state (closed, open, half-open; off without Redis), 0 for the others.",
    labelNames: ['cache', 'state'],
    collect() {
      for (const c of caches) setState(this, { cache: c.namespace }, c.stats().breaker);
    },
  });
  prom.gauge({
    name: 'cache_l1_entries',
    help: 'Entries in the in-process (L1) cache, by cache.',
    labelNames: ['cache'],
    collect() {
      for (const c of caches) this.set({ cache: c.namespace }, c.stats().l1.entries);
    },
  });
  prom.gauge({
    name: 'cache_l1_bytes',
    help: 'Estimated size of the in-process (L1) cache, in bytes, by cache.',
    labelNames: ['cache'],
    collect() {
      for (const c of caches) this.set({ cache: c.namespace }, c.stats().l1.bytes);
    },
  });
}

export function registerRateLimitMetrics(prom: Prom, limiters: readonly RateLimiterLike[]): void {
  prom.counter({
    name: 'rate_limit_decisions_total',
    help: 'consume() decisions by limiter (key prefix), decision (allowed, rejected) and store (redis, or memory: the insurance limiter while Redis is unreachable).',
    labelNames: ['limiter', 'decision', 'store'],
    collect() {
      setTotals(
        this,
        limiters.flatMap((l) => {
          const s = l.stats();
          const limiter = l.keyPrefix;
          return [
            [{ limiter, decision: 'allowed', store: 'redis' }, s.allowed.redis],
            [{ limiter, decision: 'allowed', store: 'memory' }, s.allowed.memory],
            [{ limiter, decision: 'rejected', store: 'redis' }, s.rejected.redis],
            [{ limiter, decision: 'rejected', store: 'memory' }, s.rejected.memory],
          ] as Array<[Record<string, string>, number]>;
        }),
      );
    },
  });
  prom.gauge({
    name: 'rate_limit_breaker_state',
    help: "The rate limiter's Redis circuit breaker: 1 for the current state (closed, open; off without Redis), 0 for the others.",
    labelNames: ['limiter', 'state'],
    collect() {
      for (const l of limiters) setState(this, { limiter: l.keyPrefix }, l.stats().breaker);
    },
  });
}

export function registerSessionMetrics(prom: Prom, store: SessionStoreLike): void {
  prom.gauge({
    name: 'sessions_pending_revocations',
    help: 'Revocations this instance enforces on its own because Redis may not have them yet.',
    collect() {
      this.set(store.stats().pendingRevocations);
    },
  });
  prom.counter({
    name: 'sessions_revocations_replayed_total',
    help: 'Revocations from the durable outbox that this instance told Redis about.',
    collect() {
      setTotals(this, [[{}, store.stats().replayedRevocations]]);
    },
  });
}
