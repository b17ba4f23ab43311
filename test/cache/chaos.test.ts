/**
 * Chaos: a read/write load on two cache instances (separate connections)
 * while the network to Redis is cut, stalled and black-holed — through a TCP
 * proxy, so the shared Redis server is never touched. The source of truth is
 * a Map behind async delays (a stand-in for the database): each write commits
 * a new version, then invalidates through the cache.
 *
 * Checked: zero failed requests; every read that starts more than DELAY_MS
 * after a commit's invalidation returned returns that version or a newer one;
 * at the end, nothing cached (L1 of both instances, Redis) differs from the truth.
 */
import { describe, expect, it } from 'vitest';
import type { Cache } from '../../src/cache/index.js';
import { type ProxyMode, RedisProxy } from './support/proxy.js';
import { autoCleanup, makeCache, rawRedis, sleep, uniqueNamespace, valueKey } from './support/redis.js';

autoCleanup();

const KEYS = 16;
const READERS = 16;
const WRITERS = 2;
/**
 * The staleness bound (bus.maxStale 250 ms, plus 50 ms for the writer's own
 * path from its commit to the wire): causal, not a timing assumption. A value
 * is served only while a heartbeat sent less than maxStale earlier has been
 * answered, and Redis delivers every invalidation it ran before that heartbeat
 * first; after an outage, L1 and L2 stay quarantined until the writers have
 * replayed. A loaded machine only makes instances distrust their caches
 * sooner. (The proxy's `slow` mode, which holds one connection's bytes while
 * delivering another's, is a network partition between the writer and Redis
 * for its duration; the phases here are short enough to stay within it.)
 */
const DELAY_MS = 300;
const OPTIONS = {
  timeoutMs: 50,
  breaker: { breakMs: 200 },
  bus: { heartbeatMs: 100 },
  ttl: 30_000,
} as const;
const PHASES: [ProxyMode, number][] = [
  ['up', 800],
  ['down', 1_200],
  ['up', 800],
  ['slow', 1_200],
  ['up', 800],
  ['blackhole', 1_200],
  ['up', 800],
  ['down', 300],
  ['up', 300],
  ['slow', 300],
  ['up', 1_200],
];

interface Row {
  key: string;
  version: number;
}

const rand = (n: number) => Math.floor(Math.random() * n);

describe('chaos: Redis cut, stalled and black-holed under load', () => {
  it('zero failed requests, no stale read past the invalidation delay, nothing stale cached at the end', async () => {
    const ns = uniqueNamespace('chaos');
    const proxy = await new RedisProxy().listen();
    const truth = new Map<string, number>();
    const keys = Array.from({ length: KEYS }, (_, i) => `item:${i}`);
    for (const k of keys) truth.set(k, 0);
    /** Per key: when each version's invalidation had returned. */
    const committed = new Map<string, { version: number; done: number }[]>(keys.map((k) => [k, []]));

    const a = await makeCache({ namespace: ns, redis: proxy.url, ...OPTIONS });
    const b = await makeCache({ namespace: ns, redis: proxy.url, ...OPTIONS });
    expect(await a.ready()).toBe(true);
    expect(await b.ready()).toBe(true);
    const instances: Cache[] = [a, b];

    const load = (key: string) => async (): Promise<Row> => {
      const version = truth.get(key)!; // the database read...
      await sleep(rand(4)); // ...and its trip back
      return { key, version };
    };

    const figures = { served: 0, failed: 0, stale: 0, lagging: 0, maxLagMs: 0, writes: 0, writeFailures: 0 };
    const lagBuckets = { '<10ms': 0, '10-100ms': 0, '100-300ms': 0 };
    let phase = 'up';
    const lagByPhase = new Map<string, number>();
    const failures: string[] = [];
    let running = true;

    const reader = async () => {
      while (running) {
        const key = keys[rand(KEYS)]!;
        const cache = instances[rand(2)]!;
        const t0 = performance.now();
        try {
          const row = await cache.getOrSet(key, load(key));
          figures.served++;
          // The newest version whose invalidation had returned before this read started.
          const history = committed.get(key)!;
          let newest: { version: number; done: number } | undefined;
          for (let i = history.length - 1; i >= 0; i--) {
            if (history[i]!.done <= t0) {
              newest = history[i];
              break;
            }
          }
          if (newest && row.version < newest.version) {
            // Find the first commit this read missed.
            const missed = history.find((h) => h.version > row.version && h.done <= t0)!;
            const lag = t0 - missed.done;
            figures.maxLagMs = Math.max(figures.maxLagMs, lag);
            if (lag > DELAY_MS) {
              figures.stale++;
              if (failures.length < 10)
                failures.push(`${key}: read v${row.version} ${lag.toFixed(0)} ms after v${missed.version}`);
            } else {
              figures.lagging++;
              lagBuckets[lag < 10 ? '<10ms' : lag < 100 ? '10-100ms' : '100-300ms']++;
              lagByPhase.set(phase, (lagByPhase.get(phase) ?? 0) + 1);
            }
          }
        } catch (err) {
          figures.failed++;
          if (failures.length < 10) failures.push(`read failed: ${String(err)}`);
        }
        await sleep(rand(3));
      }
    };

    const writer = async () => {
      while (running) {
        const key = keys[rand(KEYS)]!;
        const cache = instances[rand(2)]!;
        await sleep(rand(3)); // the transaction
        const version = truth.get(key)! + 1;
        truth.set(key, version); // committed
        try {
          await cache.delete(key); // after commit
          committed.get(key)!.push({ version, done: performance.now() });
          figures.writes++;
        } catch (err) {
          figures.writeFailures++;
          failures.push(`delete failed: ${String(err)}`);
        }
        await sleep(10 + rand(20));
      }
    };

    const workers = [...Array.from({ length: READERS }, reader), ...Array.from({ length: WRITERS }, writer)];
    const timeline: string[] = [];
    for (const [mode, ms] of PHASES) {
      proxy.set(mode);
      phase = mode;
      const before = figures.served;
      await sleep(ms);
      timeline.push(
        `${mode} ${ms}ms: ${figures.served - before} reads, breaker a=${a.stats().breaker} b=${b.stats().breaker}`,
      );
    }
    running = false;
    await Promise.all(workers);

    // Recovered, and nothing stale cached anywhere.
    expect(await a.ready(10_000)).toBe(true);
    expect(await b.ready(10_000)).toBe(true);
    await sleep(DELAY_MS);
    const cachedWrong: string[] = [];
    for (const key of keys) {
      for (const [name, c] of [['a', a] as const, ['b', b] as const]) {
        const v = await c.get<Row>(key);
        if (v !== undefined && v.version !== truth.get(key))
          cachedWrong.push(`${name} ${key}: v${v.version} != v${truth.get(key)}`);
      }
      const raw = await rawRedis().get(valueKey(ns, key));
      if (raw !== null) {
        const version = (JSON.parse(raw.slice(raw.indexOf('|', raw.indexOf('|') + 1) + 1)) as Row).version;
        if (version !== truth.get(key)) cachedWrong.push(`redis ${key}: v${version} != v${truth.get(key)}`);
      }
    }

    const sa = a.stats();
    const sb = b.stats();
    console.log(
      [
        `chaos figures (${PHASES.map(([m, ms]) => `${m} ${ms}`).join(', ')} ms; ${READERS} readers, ${WRITERS} writers, ${KEYS} keys, 2 instances):`,
        `  requests served: ${figures.served}   failed: ${figures.failed}   stale reads (> ${DELAY_MS} ms after the commit's invalidation): ${figures.stale}`,
        `  reads within the invalidation delay that still saw an older version: ${figures.lagging} (max lag ${figures.maxLagMs.toFixed(0)} ms; ${Object.entries(
          lagBuckets,
        )
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ')}; by phase ${[...lagByPhase].map(([k, v]) => `${k}: ${v}`).join(', ')})`,
        `  writes committed + invalidated: ${figures.writes} (failed: ${figures.writeFailures})`,
        `  loader calls a=${sa.loader.calls} b=${sb.loader.calls}; L1 hits a=${sa.l1.hits} b=${sb.l1.hits}; L2 hits a=${sa.l2.hits} b=${sb.l2.hits}`,
        `  redis errors counted a=${sa.errors} b=${sb.errors}; stale fills refused a=${sa.staleFillsRefused} b=${sb.staleFillsRefused}`,
        `  cached values differing from the truth at the end: ${cachedWrong.length}`,
        ...timeline.map((t) => `  ${t}`),
      ].join('\n'),
    );
    expect(failures).toEqual([]);
    expect(figures.failed).toBe(0);
    expect(figures.stale).toBe(0);
    expect(cachedWrong).toEqual([]);
    expect(figures.served).toBeGreaterThan(1_000);
    await proxy.close();
  }, 60_000);
});
