/**
 * Redis unreachable, slow or black-holed — through a TCP proxy, never by
 * touching the shared Redis server other test files use.
 */
import { describe, expect, it } from 'vitest';
import type { Cache } from '../../src/cache/index.js';
import { autoCloseProxies, makeProxy, type ProxyMode } from './support/proxy.js';
import { autoCleanup, eventually, makeCache, rawRedis, sleep, uniqueNamespace, valueKey } from './support/redis.js';

autoCleanup();

autoCloseProxies();
const proxy = makeProxy;

const FAST = { timeoutMs: 50, breaker: { breakMs: 100 }, bus: { heartbeatMs: 100 } } as const;

async function everyCallWorks(c: Cache, label: string): Promise<void> {
  const t0 = performance.now();
  expect(await c.getOrSet(`${label}:r`, async () => 'from db')).toBe('from db');
  await c.set(`${label}:w`, 'x');
  await c.delete(`${label}:w`);
  expect(await c.get(`${label}:missing`)).toBeUndefined();
  // Bounded by the command timeout, not by Redis.
  expect(performance.now() - t0).toBeLessThan(1_000);
}

for (const mode of ['down', 'slow', 'blackhole'] as ProxyMode[]) {
  describe(`Redis ${mode}`, () => {
    it('no call fails, the breaker opens, and it closes again on its own', async () => {
      const p = await proxy();
      const c = await makeCache({ namespace: uniqueNamespace(), redis: p.url, ...FAST });
      expect(await c.ready()).toBe(true);
      p.set(mode);
      for (let i = 0; i < 5; i++) await everyCallWorks(c, `a${i}`);
      expect(c.stats().breaker).not.toBe('closed');
      expect(c.stats().errors).toBeGreaterThan(0);
      p.up();
      expect(await c.ready(10_000)).toBe(true);
      expect(c.stats()).toMatchObject({ breaker: 'closed', bus: 'up', pendingInvalidations: 0 });
      await c.set('after', 1);
      expect(await rawRedis().exists(valueKey(c.namespace, 'after'))).toBe(1);
    });

    it('invalidations issued during the outage are replayed before Redis is read again: nothing resurrects', async () => {
      const ns = uniqueNamespace();
      const p = await proxy();
      const a = await makeCache({ namespace: ns, redis: p.url, ...FAST });
      const observer = await makeCache({ namespace: ns, breaker: { quarantineMs: 0 } });
      await Promise.all([a.ready(), observer.ready()]);
      await a.set('deleted', 'old');
      await a.set('rewritten', 'old');
      p.set(mode);
      // The writer commits during the outage and invalidates: Redis cannot hear it.
      await a.delete('deleted');
      await a.set('rewritten', 'new'); // L1 only, remembered as an invalidation
      // Not served while nothing proves a hears invalidations: another instance may have written it since.
      expect(await a.get('rewritten')).toBeUndefined();
      expect(await a.getOrSet('deleted', async () => 'db-new')).toBe('db-new');
      expect(a.stats().pendingInvalidations).toBe(2);
      expect(a.stats().replayedInvalidations).toBe(0);
      p.up();
      expect(await a.ready(10_000)).toBe(true);
      expect(a.stats().pendingInvalidations).toBe(0);
      // Through a stalled network a delete sent during the outage may still arrive by itself when it
      // flows again (it then leaves the queue unreplayed); otherwise both were replayed.
      if (mode === 'slow') expect(a.stats().replayedInvalidations).toBeLessThanOrEqual(2);
      else expect(a.stats().replayedInvalidations).toBe(2);
      // Redis no longer holds the old values, for anyone.
      expect(await rawRedis().exists(valueKey(ns, 'deleted'), valueKey(ns, 'rewritten'))).toBe(0);
      await eventually(async () => (await observer.get('deleted')) === undefined, 2_000, 'observer');
      expect(await observer.get('rewritten')).toBeUndefined();
      expect(await a.getOrSet('deleted', async () => 'db-new')).toBe('db-new');
    });
  });
}

describe('outage details', () => {
  it('many GETs in flight on a black-holed connection all time out together, then reads work again', async () => {
    const p = await proxy();
    const c = await makeCache({ namespace: uniqueNamespace(), redis: p.url, ...FAST, l1: false });
    expect(await c.ready()).toBe(true);
    await c.set('k', 'v');
    p.set('blackhole');
    const t0 = performance.now();
    const reads = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? c.get('k') : c.getOrSet('k', () => 'db'))),
    );
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(reads.filter((r) => r === undefined)).toHaveLength(50);
    expect(reads.filter((r) => r === 'db')).toHaveLength(50);
    expect(c.stats().errors).toBeGreaterThanOrEqual(51); // the 51 GETs (getOrSet calls share one)
    expect(c.stats().breaker).not.toBe('closed');
    p.up();
    expect(await c.ready(10_000)).toBe(true);
    expect(await c.getOrSet('k', () => 'db')).toBe('db'); // reloaded after the outage (quarantine)
    await eventually(async () => (await c.get('k')) === 'db', 2_000, 'L2 read after recovery');
  });

  it('too many pending invalidations: the namespace is flushed on recovery', async () => {
    const ns = uniqueNamespace();
    const p = await proxy();
    const a = await makeCache({ namespace: ns, redis: p.url, ...FAST });
    expect(await a.ready()).toBe(true);
    await a.set('keep-me-not', 'old');
    await a.getOrSet('leased', async () => 1);
    p.set('down');
    for (let i = 0; i < 10_001; i++) await a.delete(`k${i}`);
    expect(a.stats().pendingInvalidations).toBe(1); // collapsed into one flush
    p.up();
    expect(await a.ready(10_000)).toBe(true);
    expect(a.stats().replayedInvalidations).toBe(1); // the flush counts as one
    expect(await rawRedis().exists(valueKey(ns, 'keep-me-not'))).toBe(0);
    expect(await rawRedis().exists(`${ns}~seq`)).toBe(1); // lease tokens are never reused
  });

  it('invalidations that keep coming while Redis recovers do not keep the breaker open', async () => {
    // Every probe overlaps some invalidation here; the breaker closes once its replay left the queue empty.
    const ns = uniqueNamespace();
    const p = await proxy();
    const a = await makeCache({ namespace: ns, redis: p.url, ...FAST });
    expect(await a.ready()).toBe(true);
    await a.set('old', 'v1');
    p.set('down');
    await a.delete('old');
    expect(a.stats().breaker).not.toBe('closed');
    let writing = true;
    let n = 0;
    const writes = (async () => {
      while (writing) {
        await a.delete(`w${n++ % 50}`);
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      p.up();
      // Closed while the writes go on (before, it stayed open until they paused).
      expect(await a.ready(10_000)).toBe(true);
      expect(writing).toBe(true);
    } finally {
      writing = false;
      await writes;
    }
    await eventually(() => a.stats().pendingInvalidations === 0, 5_000, 'the replay');
    expect(await rawRedis().exists(valueKey(ns, 'old'))).toBe(0);
  });

  it('just after an outage, another instance does not serve Redis values that may be awaiting a replay', async () => {
    const ns = uniqueNamespace();
    const pa = await proxy();
    const pb = await proxy();
    const a = await makeCache({ namespace: ns, redis: pa.url, ...FAST });
    const b = await makeCache({
      namespace: ns,
      redis: pb.url,
      ...FAST,
      breaker: { breakMs: 100, quarantineMs: 5_000 },
    });
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', 'old');
    pa.set('down');
    pb.set('down');
    await a.delete('k'); // pending in a, which stays cut off for a while
    await sleep(200);
    pb.up();
    expect(await b.ready(5_000)).toBe(true);
    expect(a.stats().pendingInvalidations).toBe(1);
    // Redis still holds 'old' — b must not serve it.
    expect(await rawRedis().exists(valueKey(ns, 'k'))).toBe(1);
    expect(await b.get('k')).toBeUndefined();
    expect(await b.getOrSet('k', async () => 'db-new')).toBe('db-new');
    // Nor does it keep its own load in L1: it may have raced a write whose invalidation a still holds.
    expect(await b.get('k')).toBeUndefined();
    expect(await b.getOrSet('k', async () => 'db-newer')).toBe('db-newer');
    pa.up();
    expect(await a.ready(5_000)).toBe(true);
    expect(await rawRedis().exists(valueKey(ns, 'k'))).toBe(0);
    expect(await b.getOrSet('k', async () => 'db-new')).toBe('db-new');
  });

  it('a slow network delivering commands late does not resurrect a value', async () => {
    const ns = uniqueNamespace();
    const p = await proxy();
    const a = await makeCache({ namespace: ns, redis: p.url, ...FAST });
    const writer = await makeCache({ namespace: ns });
    await Promise.all([a.ready(), writer.ready()]);
    let release!: () => void;
    const stalled = new Promise<void>((r) => {
      release = r;
    });
    // a misses (lease taken), loads v1, then its fill is held by the network...
    const read = a.getOrSet('k', async () => {
      await stalled;
      return 'v1';
    });
    await sleep(20);
    p.set('slow');
    release();
    expect(await read).toBe('v1');
    // ...while the writer commits v2 and invalidates through a healthy connection.
    await writer.delete('k');
    p.up(); // the held fill reaches Redis now, after the delete
    await sleep(100);
    expect(await rawRedis().exists(valueKey(ns, 'k'))).toBe(0);
  });
});
