/**
 * Values in Redis that cannot be decoded are misses: never a throw from
 * `get`, `getOrSet` (its grace path included) or a cached repository. Each is
 * deleted from Redis, counted in `stats().corrupt`, and warned about once per
 * key prefix (through the logger, else `process.emitWarning`).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedRepository, createCache } from '../../src/cache/index.js';
import { connect, type Ferry } from '../../src/index.js';
import type { DatabaseOf } from '../../src/schema/infer.js';
import * as schema from '../repo/schema.js';
import { users } from '../repo/schema.js';
import { describeEachBackend } from '../support/backends.js';
import { autoCleanup, makeCache, REDIS_URL, rawRedis, uniqueNamespace, valueKey } from './support/redis.js';

autoCleanup();

type DB = DatabaseOf<typeof schema>;

const frame = (json: string, exp = Date.now() + 60_000, hard = exp) => `${exp}|${hard}|${json}`;

/** Every shape of undecodable value seen or imaginable (the value Ferry wrote is `{"a":1,"b":"two"}`). */
const SHAPES: Record<string, () => string> = {
  'cut in half': () => frame('{"a":1,"b":"two"}').slice(0, 20),
  'cut inside the JSON': () => frame('{"a":1,"b":"tw'),
  'broken JSON in valid framing': () => frame('{not json}'),
  'a BigInt tag holding "x"': () => frame('{"v":{"\\u0000B":"x"}}'),
  'a Date tag holding a string': () => frame('{"\\u0000D":"soon"}'),
  'garbage, no framing': () => 'garbage',
  "another program's JSON": () => '{"a":1}',
  'times that are not numbers': () => 'abc|def|1',
  'empty string': () => '',
};

type Line = { level: string; obj: Record<string, unknown>; msg: string };
function recordingLogger() {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('corrupt values in Redis are misses', () => {
  for (const [shape, raw] of Object.entries(SHAPES)) {
    it(`${shape}: get() misses, deletes it, counts it`, async () => {
      for (const l1 of [undefined, false as const]) {
        const c = await makeCache({ namespace: uniqueNamespace('corrupt'), ...(l1 === false ? { l1 } : {}) });
        await c.ready();
        await rawRedis().set(valueKey(c.namespace, 'user:1'), raw(), 'PX', 60_000);
        expect(await c.get('user:1')).toBeUndefined();
        expect(c.stats().corrupt).toBe(1);
        expect(await rawRedis().exists(valueKey(c.namespace, 'user:1'))).toBe(0);
        // Usable again at once (not only after the entry expires).
        await c.set('user:1', { a: 1 });
        expect(await c.get('user:1')).toEqual({ a: 1 });
        expect(c.stats().corrupt).toBe(1);
      }
    });

    it(`${shape}: getOrSet() calls the loader and caches its value`, async () => {
      const c = await makeCache({ namespace: uniqueNamespace('corrupt'), l1: false });
      await c.ready();
      await rawRedis().set(valueKey(c.namespace, 'user:1'), raw(), 'PX', 60_000);
      expect(await c.getOrSet('user:1', () => ({ fresh: true }))).toEqual({ fresh: true });
      expect(c.stats()).toMatchObject({ corrupt: 1, loader: { calls: 1 } });
      // The loader's value replaced it in Redis (the lease was taken after the delete).
      expect(await c.getOrSet('user:1', () => ({ fresh: false }))).toEqual({ fresh: true });
      expect(c.stats().loader.calls).toBe(1);
    });
  }

  it('an expired value kept for grace that cannot be decoded: getOrSet with grace loads (and rethrows the loader error)', async () => {
    const c = await makeCache({ namespace: uniqueNamespace('corrupt'), l1: false });
    await c.ready();
    const past = Date.now() - 1_000;
    await rawRedis().set(valueKey(c.namespace, 'k'), frame('{"a":', past, Date.now() + 60_000), 'PX', 60_000);
    expect(await c.getOrSet('k', () => 'loaded', { grace: '1m' })).toBe('loaded');
    expect(c.stats().corrupt).toBe(1);
    await rawRedis().set(valueKey(c.namespace, 'k2'), frame('{"a":', past, Date.now() + 60_000), 'PX', 60_000);
    await expect(c.getOrSet('k2', () => Promise.reject(new Error('db down')), { grace: '1m' })).rejects.toThrow(
      'db down',
    );
    expect(c.stats().corrupt).toBe(2);
    expect(await rawRedis().exists(valueKey(c.namespace, 'k2'))).toBe(0);
  });

  it('warns once per key prefix through the logger', async () => {
    const { lines, logger } = recordingLogger();
    const c = await makeCache({ namespace: uniqueNamespace('corrupt'), logger });
    await c.ready();
    for (const key of ['user:1', 'user:2', 'order:1', 'user:3', 'order:2']) {
      await rawRedis().set(valueKey(c.namespace, key), 'garbage', 'PX', 60_000);
      expect(await c.get(key)).toBeUndefined();
    }
    const warned = lines.filter((l) => l.obj.code === 'FERRY_CACHE_CORRUPT');
    expect(warned.map((l) => [l.level, l.obj.key])).toEqual([
      ['warn', 'user:1'],
      ['warn', 'order:1'],
    ]);
    expect(warned[0]!.msg).toMatch(/"user".*could not be decoded/);
    expect(c.stats().corrupt).toBe(5);
  });

  it('without a logger: process.emitWarning, once per key prefix; logger: false says nothing', async () => {
    const warnings: Array<Error & { code?: string }> = [];
    const listen = (w: Error) => warnings.push(w);
    process.on('warning', listen);
    try {
      const ns = uniqueNamespace('corrupt');
      const c = createCache({ namespace: ns, redis: REDIS_URL });
      const quiet = await makeCache({ namespace: ns }); // logger: false
      try {
        await Promise.all([c.ready(), quiet.ready()]);
        for (const [cache, key] of [
          [c, 'user:1'],
          [c, 'user:2'],
          [quiet, 'user:3'],
        ] as const) {
          await rawRedis().set(valueKey(ns, key), frame('{"cut'), 'PX', 60_000);
          expect(await cache.get(key)).toBeUndefined();
        }
        await new Promise((r) => setImmediate(r)); // 'warning' is emitted on the next tick
        const ours = warnings.filter((w) => w.code === 'FERRY_CACHE_CORRUPT');
        expect(ours).toHaveLength(1);
        expect(ours[0]!.message).toContain('"user:1"');
        expect(quiet.stats().corrupt).toBe(1);
      } finally {
        await c.close();
      }
    } finally {
      process.off('warning', listen);
    }
  });
});

describeEachBackend('corrupt values behind a cached repository', (t) => {
  let ferry: Ferry<DB>;
  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema });
    await ferry.createSchema();
    await sql`truncate users, posts, memberships restart identity cascade`.execute(ferry.db);
  });
  afterAll(() => ferry?.close());

  it('a corrupt cached row is read from the database again, then cached', async () => {
    const ns = uniqueNamespace('corrupt-repo');
    const cache = await makeCache({ namespace: ns });
    await cache.ready();
    const alice = await ferry.repo(users).insert({ telegram_id: 7, username: 'alice' });
    const cached = cachedRepository(ferry.repo(users), cache, { ttl: '1h' });
    const key = valueKey(ns, cached.key(alice.id));
    // The row as Ferry stored it, cut in half (what the issue saw); then with a bad tag inside.
    expect(await cached.get(alice.id)).toEqual(alice);
    const good = (await rawRedis().get(key))!;
    for (const bad of [good.slice(0, Math.floor(good.length / 2)), good.replace(/"\\u0000D":\d+/, '"\\u0000D":"x"')]) {
      await cache.delete(cached.key(alice.id)); // out of L1
      await rawRedis().set(key, bad, 'PX', 60_000);
      expect(await cached.get(alice.id)).toEqual(alice);
      expect(await rawRedis().get(key)).not.toBe(bad); // deleted, then refilled by the loader
    }
    expect(cache.stats().corrupt).toBe(2);
    expect(cache.stats().loader.calls).toBe(3);
    // Refilled with a decodable value.
    const other = await makeCache({ namespace: ns, l1: false });
    await other.ready();
    expect(await cachedRepository(ferry.repo(users), other, { ttl: '1h' }).get(alice.id)).toEqual(alice);
    expect(other.stats()).toMatchObject({ corrupt: 0, l2: { hits: 1 } });
  });
});
