/**
 * What the cache refuses or keeps apart: namespaces that prefix one another
 * (`clear()` of `probe` must not touch `probe:sub`; it must still find its own
 * keys behind a client's keyPrefix), keys over 1 KB and values over
 * `maxValueBytes`.
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createCache, E_CACHE_CONFIG, E_CACHE_KEY, E_CACHE_VALUE } from '../../src/cache/index.js';
import type { FerryError } from '../../src/errors.js';
import {
  autoCleanup,
  dropNamespace,
  makeCache,
  REDIS_URL,
  rawRedis,
  uniqueNamespace,
  valueKey,
} from './support/redis.js';

autoCleanup();

describe('namespaces are delimited', () => {
  it('clear() on namespace `probe` leaves `probe:sub` (and `probe-x`) alone', async () => {
    const ns = uniqueNamespace('probe');
    const parent = await makeCache({ namespace: ns });
    const sub = await makeCache({ namespace: `${ns}:sub` });
    const sibling = await makeCache({ namespace: `${ns}-x` });
    await Promise.all([parent.ready(), sub.ready(), sibling.ready()]);
    await parent.set('k', 'parent');
    await sub.set('k', 'sub');
    await sibling.set('k', 'sibling');
    await parent.clear();
    expect(await rawRedis().exists(valueKey(ns, 'k'))).toBe(0);
    expect(await rawRedis().exists(valueKey(`${ns}:sub`, 'k'))).toBe(1);
    expect(await rawRedis().exists(valueKey(`${ns}-x`, 'k'))).toBe(1);
    // Read through Redis, by an instance with an empty L1.
    const reader = await makeCache({ namespace: `${ns}:sub`, l1: false });
    await reader.ready();
    expect(await reader.get('k')).toBe('sub');
    expect(await parent.get('k')).toBeUndefined();
  });

  it('clear() on a client with a keyPrefix drops the namespace (SCAN patterns are not prefixed by ioredis)', async () => {
    const ns = uniqueNamespace('kp');
    const prefix = `${ns}-pfx:`;
    const client = new Redis(REDIS_URL, { keyPrefix: prefix });
    const c = createCache({ namespace: ns, redis: client, logger: false });
    try {
      expect(await c.ready()).toBe(true);
      await c.set('a', 1);
      expect(await rawRedis().exists(prefix + valueKey(ns, 'a'))).toBe(1);
      await c.clear();
      expect(await rawRedis().exists(prefix + valueKey(ns, 'a'))).toBe(0);
      expect(c.stats()).toMatchObject({ breaker: 'closed', errors: 0 });
    } finally {
      await c.close();
      await client.quit();
      await dropNamespace(prefix + ns);
    }
  });

  it('a namespace cannot contain `~` (the delimiter)', () => {
    expect(() => createCache({ namespace: 'a~b', redis: null })).toThrow(
      expect.objectContaining({ code: E_CACHE_CONFIG }),
    );
  });
});

describe('size limits', () => {
  for (const redis of [true, false]) {
    const make = (o: { maxValueBytes?: number; onError?: (e: FerryError) => void } = {}) =>
      redis
        ? makeCache({ namespace: uniqueNamespace(), ...o })
        : Promise.resolve(createCache({ namespace: uniqueNamespace(), redis: null, logger: false, ...o }));

    it(`keys over 1 KB (UTF-8 bytes) are E_CACHE_KEY [${redis ? 'redis' : 'L1 only'}]`, async () => {
      const c = await make();
      await c.ready();
      const max = 'k'.repeat(1024);
      await c.set(max, 1);
      expect(await c.get(max)).toBe(1);
      const over = 'k'.repeat(1025);
      const wide = 'é'.repeat(513); // 1,026 bytes in 513 characters
      for (const key of [over, wide, 'k'.repeat(1024 * 1024)]) {
        await expect(c.get(key)).rejects.toMatchObject({ code: E_CACHE_KEY });
        await expect(c.set(key, 1)).rejects.toMatchObject({ code: E_CACHE_KEY });
        await expect(c.getOrSet(key, () => 1)).rejects.toMatchObject({ code: E_CACHE_KEY });
        await expect(c.delete(key)).rejects.toMatchObject({ code: E_CACHE_KEY });
      }
      await expect(c.set(over, 1)).rejects.toThrow(/1024 bytes/);
    });

    it(`set() refuses values over maxValueBytes, naming key, size and limit [${redis ? 'redis' : 'L1 only'}]`, async () => {
      const c = await make({ maxValueBytes: 100 });
      await c.ready();
      await c.set('ok', 'x'.repeat(98)); // 100 bytes of JSON
      expect(await c.get('ok')).toBe('x'.repeat(98));
      await c.set('big', 'old');
      const err = await c.set('big', 'x'.repeat(99)).catch((e: FerryError) => e);
      expect(err).toMatchObject({ code: E_CACHE_VALUE });
      expect((err as Error).message).toMatch(/"big".*101 bytes.*maxValueBytes \(100\)/);
      expect(await c.get('big')).toBe('old'); // refused before anything was written
    });

    it(`a getOrSet result over maxValueBytes is returned, not cached, reported [${redis ? 'redis' : 'L1 only'}]`, async () => {
      const errors: FerryError[] = [];
      const c = await make({ maxValueBytes: 100, onError: (e) => errors.push(e) });
      await c.ready();
      let calls = 0;
      const load = () => {
        calls++;
        return { blob: 'y'.repeat(200) };
      };
      expect(await c.getOrSet('big', load)).toEqual({ blob: 'y'.repeat(200) });
      expect(await c.getOrSet('big', load)).toEqual({ blob: 'y'.repeat(200) });
      expect(calls).toBe(2);
      expect(errors.map((e) => e.code)).toEqual([E_CACHE_VALUE, E_CACHE_VALUE]);
      expect(errors[0]!.message).toMatch(/"big"/);
      if (redis) expect(await rawRedis().exists(valueKey(c.namespace, 'big'))).toBe(0);
    });
  }

  it('the default limit is 1 MB; maxValueBytes must be a positive integer', async () => {
    const c = createCache({ namespace: uniqueNamespace(), redis: null, logger: false });
    await c.set('mb', 'x'.repeat(1024 * 1024 - 2));
    await expect(c.set('mb', 'x'.repeat(1024 * 1024 - 1))).rejects.toMatchObject({ code: E_CACHE_VALUE });
    expect(() => createCache({ namespace: 'x', redis: null, maxValueBytes: 0 })).toThrow(/maxValueBytes/);
  });
});
