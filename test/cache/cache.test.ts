import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createCache, E_CACHE_CLOSED, E_CACHE_KEY, E_CACHE_VALUE, E_REDIS_URL } from '../../src/cache/index.js';
import { FerryError } from '../../src/errors.js';
import { describeEachRedis } from '../support/redis-targets.js';
import {
  autoCleanup,
  eventually,
  makeCache,
  REDIS_URL,
  rawRedis,
  sleep,
  uniqueNamespace,
  valueKey,
} from './support/redis.js';

autoCleanup();

const modes = [
  { name: 'redis', l1: true, make: (ns: string, o = {}) => makeCache({ namespace: ns, ...o }) },
  { name: 'L1 only', l1: true, make: async (ns: string, o = {}) => createCache({ namespace: ns, redis: null, ...o }) },
  { name: 'redis, l1: false', l1: false, make: (ns: string, o = {}) => makeCache({ namespace: ns, l1: false, ...o }) },
];

for (const mode of modes) {
  // The modes with Redis also run on a Redis Cluster (test/support/redis-targets.ts).
  const suite = mode.name === 'L1 only' ? (title: string, fn: () => void) => describe(title, fn) : describeEachRedis;
  suite(`cache basics [${mode.name}]`, () => {
    it('get / set / delete', async () => {
      const c = await mode.make(uniqueNamespace());
      await c.ready();
      expect(await c.get('a')).toBeUndefined();
      await c.set('a', { n: 1 });
      expect(await c.get('a')).toEqual({ n: 1 });
      await c.delete('a');
      expect(await c.get('a')).toBeUndefined();
      await c.set('b', 1);
      await c.set('c', 2);
      await c.delete(['b', 'c']);
      expect(await c.get('b')).toBeUndefined();
      expect(await c.get('c')).toBeUndefined();
      await c.close();
    });

    it('ttl expires entries', async () => {
      const c = await mode.make(uniqueNamespace());
      await c.ready();
      await c.set('a', 'x', { ttl: 60 });
      expect(await c.get('a')).toBe('x');
      await sleep(90);
      expect(await c.get('a')).toBeUndefined();
      await c.close();
    });

    it('round-trips what repository rows contain: Dates, bigints, bytes, JSON', async () => {
      const c = await mode.make(uniqueNamespace());
      await c.ready();
      const row = {
        id: 1,
        big: 2n ** 70n,
        at: new Date('2024-05-06T07:08:09.123Z'),
        bad: new Date(Number.NaN),
        bytes: new Uint8Array([0, 1, 255]),
        prefs: { units: 'km', nested: [true, null, 'a\u0000b'] },
        amount: '12.50',
        day: '2024-05-06',
        none: null,
      };
      await c.set('row', row);
      // Read through Redis, not L1, where there is one.
      const other = mode.name === 'redis' ? await mode.make(c.namespace) : c;
      await other.ready();
      const back = (await other.get<typeof row>('row'))!;
      expect(back).toEqual(row);
      expect(back.big).toBe(2n ** 70n);
      expect(back.at).toBeInstanceOf(Date);
      expect(Number.isNaN(back.bad.getTime())).toBe(true);
      expect(back.bytes).toBeInstanceOf(Uint8Array);
      await c.close();
    });

    it('getOrSet loads once, then serves the cache', async () => {
      const c = await mode.make(uniqueNamespace());
      await c.ready();
      let calls = 0;
      const load = async () => ++calls;
      expect(await c.getOrSet('k', load)).toBe(1);
      expect(await c.getOrSet('k', load)).toBe(1);
      expect(calls).toBe(1);
      await c.delete('k');
      expect(await c.getOrSet('k', load)).toBe(2);
      expect(c.stats().loader.calls).toBe(2);
      await c.close();
    });

    it('getOrSet rethrows the loader error and caches nothing', async () => {
      const c = await mode.make(uniqueNamespace());
      await c.ready();
      const boom = new Error('db down');
      await expect(c.getOrSet('k', () => Promise.reject(boom))).rejects.toBe(boom);
      expect(await c.getOrSet('k', () => 'ok')).toBe('ok');
      expect(c.stats().loader.errors).toBe(1);
      await c.close();
    });

    it('negative caching is opt-in', async () => {
      const c = await mode.make(uniqueNamespace());
      await c.ready();
      let calls = 0;
      const missing = async () => {
        calls++;
        return undefined;
      };
      await c.getOrSet('gone', missing);
      await c.getOrSet('gone', missing);
      expect(calls).toBe(2);
      expect(await c.getOrSet('gone2', missing, { negative: 80 })).toBeUndefined();
      expect(await c.getOrSet('gone2', missing, { negative: 80 })).toBeUndefined();
      expect(calls).toBe(3);
      expect(await c.getOrSet('null', async () => null, { negative: true })).toBeNull();
      expect(await c.getOrSet('null', async () => 'x', { negative: true })).toBeNull();
      await sleep(100);
      await c.getOrSet('gone2', missing, { negative: 80 });
      expect(calls).toBe(4);
      await c.close();
    });

    it('grace serves the last value when the loader fails, and when it is slow', async () => {
      const c = await mode.make(uniqueNamespace());
      await c.ready();
      expect(await c.getOrSet('k', async () => 'v1', { ttl: 40, grace: 5_000 })).toBe('v1');
      await sleep(60);
      // Expired: the loader runs; it fails, so the graced value is served.
      expect(await c.getOrSet('k', () => Promise.reject(new Error('db down')), { ttl: 40, grace: 5_000 })).toBe('v1');
      // Slow loader: graced value after graceTimeout, and the load still lands.
      let release!: () => void;
      const slow = new Promise<void>((r) => {
        release = r;
      });
      const t0 = Date.now();
      const v = await c.getOrSet(
        'k',
        async () => {
          await slow;
          return 'v2';
        },
        { ttl: 10_000, grace: 5_000, graceTimeout: 30 },
      );
      expect(v).toBe('v1');
      expect(Date.now() - t0).toBeLessThan(1_000);
      release();
      await sleep(20);
      expect(await c.get('k')).toBe('v2');
      expect(c.stats().graceServed).toBe(2);
      // A deleted value is never served as graced.
      await c.delete('k');
      await expect(c.getOrSet('k', () => Promise.reject(new Error('db down')), { grace: 5_000 })).rejects.toThrow(
        'db down',
      );
      await c.close();
    });

    it.runIf(mode.l1)('l1 bounded by entries and bytes; cached objects are frozen', async () => {
      const c = await mode.make(uniqueNamespace(), { l1: { max: 3, maxBytes: 200 } });
      await c.ready();
      for (let i = 0; i < 10; i++) await c.set(`k${i}`, { i, pad: 'x'.repeat(20) });
      expect(c.stats().l1.entries).toBeLessThanOrEqual(3);
      expect(c.stats().l1.bytes).toBeLessThanOrEqual(200);
      const v = (await c.getOrSet('obj', async () => ({ a: { b: 1 } }))) as { a: { b: number } };
      expect(() => {
        v.a.b = 2;
      }).toThrow(TypeError);
      await c.close();
    });

    it('errors have stable codes', async () => {
      const c = await mode.make(uniqueNamespace());
      await expect(c.set('k', undefined)).rejects.toMatchObject({ code: E_CACHE_VALUE });
      await expect(c.set('k', () => 1)).rejects.toMatchObject({ code: E_CACHE_VALUE });
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      await expect(c.set('k', circular)).rejects.toMatchObject({ code: E_CACHE_VALUE });
      await expect(c.get('')).rejects.toMatchObject({ code: E_CACHE_KEY });
      await c.close();
      await c.close();
      await expect(c.get('k')).rejects.toMatchObject({ code: E_CACHE_CLOSED });
      await expect(c.getOrSet('k', () => 1)).rejects.toBeInstanceOf(FerryError);
    });
  });
}

describeEachRedis('the L2 hit path', () => {
  it('l1: false: every read is a Redis read, values are not frozen, nothing is kept in process', async () => {
    const ns = uniqueNamespace();
    const c = await makeCache({ namespace: ns, l1: false });
    const other = await makeCache({ namespace: ns });
    await Promise.all([c.ready(), other.ready()]);
    await c.set('a', { n: 1, at: new Date(0) });
    for (let i = 0; i < 3; i++) expect(await c.get('a')).toEqual({ n: 1, at: new Date(0) });
    const v = (await c.getOrSet('a', () => ({ n: 2, at: new Date(1) }))) as { n: number };
    expect(v).toEqual({ n: 1, at: new Date(0) });
    v.n = 3; // a private copy
    expect(await c.get('a')).toEqual({ n: 1, at: new Date(0) });
    const s = c.stats();
    expect(s.l2.hits).toBe(5);
    expect(s.l1).toEqual({ hits: 0, misses: 0, entries: 0, bytes: 0 });
    // Another instance's write is seen at once (no L1 to invalidate).
    await other.set('a', { n: 9 });
    expect(await c.get('a')).toEqual({ n: 9 });
    expect(() => createCache({ namespace: 'x', redis: null, l1: true as never })).toThrow(/l1/);
  });

  it('many GETs in flight at once each get their own value', async () => {
    const c = await makeCache({ namespace: uniqueNamespace(), l1: false });
    await c.ready();
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    for (const k of keys) await c.set(k, { k });
    for (let round = 0; round < 3; round++) {
      const got = await Promise.all(keys.map((k, i) => (i % 2 ? c.get(k) : c.getOrSet(k, () => 'loaded'))));
      expect(got).toEqual(keys.map((k) => ({ k })));
    }
    expect(c.stats().errors).toBe(0);
    expect(c.stats().loader.calls).toBe(0);
  });

  it('a read in flight fills L1 unless its own key was invalidated meanwhile', async () => {
    const c = await makeCache({ namespace: uniqueNamespace() });
    const writer = await makeCache({ namespace: c.namespace, bus: false });
    await Promise.all([c.ready(), writer.ready()]);
    for (const k of ['a', 'b', 'c']) await writer.set(k, `${k}1`);
    // Another key invalidated while 'a' is read: 'a' still lands in L1.
    const a = c.get('a');
    await c.delete('b');
    expect(await a).toBe('a1');
    expect(c.stats().l1.entries).toBe(1);
    // Its own key invalidated while it is read: the old value is returned once, not kept.
    const stale = c.get('c');
    void c.delete('c');
    expect(await stale).toBe('c1');
    expect(c.stats().l1.entries).toBe(1);
    expect(await c.get('c')).toBeUndefined();
    // Same for a load.
    await writer.set('d', 'd1');
    const load = c.getOrSet('d', () => 'never');
    await c.delete('d');
    expect(await load).toBe('d1');
    expect(await c.getOrSet('d', () => 'd2')).toBe('d2');
  });

  it('more invalidations than it remembers during a read: the read is treated as stale', async () => {
    // A long timeout: invalidating 10,001 keys blocks the event loop for a while.
    const c = await makeCache({ namespace: uniqueNamespace(), timeoutMs: 10_000 });
    await c.ready();
    await c.set('a', 'a1');
    await c.delete('a'); // out of L1, and Redis
    await rawRedis().set(
      valueKey(c.namespace, 'a'),
      `${Date.now() + 60_000}|${Date.now() + 60_000}|"a1"`,
      'PX',
      60_000,
    );
    const read = c.get('a');
    const others = Array.from({ length: 10_001 }, (_, i) => `other${i}`);
    const deletes: Promise<void>[] = [];
    for (let i = 0; i < others.length; i += 1_000) deletes.push(c.delete(others.slice(i, i + 1_000)));
    await Promise.all(deletes);
    expect(await read).toBe('a1');
    expect(c.stats().l1.entries).toBe(0);
    expect(await c.get('a')).toBe('a1'); // nothing in flight now: kept
    expect(c.stats().l1.entries).toBe(1);
  });
});

describeEachRedis('large invalidations', () => {
  it('deleting 10,001 keys at once works (Lua unpack takes ~8,000 values) and trips nothing', async () => {
    const ns = uniqueNamespace();
    const c = await makeCache({ namespace: ns, timeoutMs: 5_000 });
    const other = await makeCache({ namespace: ns });
    await Promise.all([c.ready(), other.ready()]);
    await c.set('keep', 1);
    await c.set('k5000', 'x');
    expect(await other.get('k5000')).toBe('x'); // in other's L1 too
    await c.delete(Array.from({ length: 10_001 }, (_, i) => `k${i}`));
    expect(c.stats()).toMatchObject({ breaker: 'closed', errors: 0, pendingInvalidations: 0 });
    expect(await rawRedis().exists(valueKey(ns, 'k5000'), valueKey(ns, 'keep'))).toBe(1);
    await eventually(async () => (await other.get('k5000')) === undefined, 2_000, 'bus invalidation');
    expect(await other.get('keep')).toBe(1);
  });
});

describe('cache configuration', () => {
  it('no Redis configured means L1 only', async () => {
    const c = createCache({ namespace: uniqueNamespace(), env: {} });
    expect(c.stats().breaker).toBe('off');
    expect(c.stats().bus).toBe('off');
    await c.set('a', 1);
    expect(await c.get('a')).toBe(1);
    await c.close();
  });

  it('REDIS_URL from the environment', async () => {
    const ns = uniqueNamespace();
    const c = createCache({ namespace: ns, env: { REDIS_URL: 'redis://127.0.0.1:6379' }, logger: false });
    expect(await c.ready()).toBe(true);
    await c.set('a', 1);
    expect(await rawRedis().exists(valueKey(ns, 'a'))).toBe(1);
    await c.delete('a');
    await c.close();
    await rawRedis().del(`${ns}~seq`);
  });

  it('bad URLs are E_REDIS_URL and never show the password', () => {
    for (const url of ['http://u:s3cret@host', 'redis://u:s3cret@ho st:zz/']) {
      try {
        createCache({ namespace: 'x', redis: url });
        throw new Error('expected a throw');
      } catch (err) {
        expect(err).toMatchObject({ code: E_REDIS_URL });
        expect((err as Error).message).not.toContain('s3cret');
      }
    }
    expect(() => createCache({ namespace: '' })).toThrow(FerryError);
    expect(() => createCache({ namespace: 'x', l1: { max: 0 }, redis: null })).toThrow(/l1.max/);
    expect(() => createCache({ namespace: 'x', ttl: '5 parsecs' as never, redis: null })).toThrow(/duration/);
  });

  it('an unreachable Redis is counted and logged without the password; calls still work', async () => {
    const errors: string[] = [];
    const logs: string[] = [];
    const log = (obj: object, msg?: string) => logs.push(JSON.stringify(obj) + (msg ?? ''));
    const c = createCache({
      namespace: uniqueNamespace(),
      redis: 'redis://default:hunter2-secret@127.0.0.1:1',
      logger: { warn: log, info: log, debug: log },
      onError: (e) => errors.push(`${e.code} ${e.message}`),
    });
    expect(await c.ready(500)).toBe(false);
    expect(await c.getOrSet('k', async () => 'from db')).toBe('from db');
    await c.set('k', 'v');
    await c.delete('k');
    expect(c.stats().breaker).not.toBe('closed');
    expect(c.stats().errors).toBeGreaterThan(0);
    expect(errors.length).toBeGreaterThan(0);
    for (const line of [...errors, ...logs]) expect(line).not.toContain('hunter2');
    await c.close();
  });

  it('L2 reads on clients with auto-pipelining or a key prefix', async () => {
    for (const options of [{ enableAutoPipelining: true }, { keyPrefix: 'pfx:' }]) {
      const ns = uniqueNamespace();
      const client = new Redis(REDIS_URL, options);
      const c = createCache({ namespace: ns, redis: client, logger: false, l1: false });
      expect(await c.ready()).toBe(true);
      await c.set('a', { n: 1 });
      const [x, y] = await Promise.all([c.get('a'), c.getOrSet('a', () => 'loaded')]);
      expect([x, y]).toEqual([{ n: 1 }, { n: 1 }]);
      const prefix = options.keyPrefix ?? '';
      expect(await rawRedis().exists(prefix + valueKey(ns, 'a'))).toBe(1);
      await c.delete('a');
      expect(await c.get('a')).toBeUndefined();
      expect(c.stats().errors).toBe(0);
      await c.close();
      await client.quit();
      await rawRedis().del(`${prefix}${ns}~seq`);
    }
  });

  it('works on a caller-provided ioredis client and leaves it open', async () => {
    const ns = uniqueNamespace();
    const client = rawRedis().duplicate();
    const c = createCache({ namespace: ns, redis: client, logger: false });
    expect(await c.ready()).toBe(true);
    await c.set('a', 1);
    expect(await c.get('a')).toBe(1);
    await c.delete('a');
    await c.close();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
    await rawRedis().del(`${ns}~seq`);
  });
});
