/**
 * Redis Cluster: the `redis+cluster://` URL, key slots as the server computes
 * them, the startup check that every Lua script's keys share a slot
 * (E_REDIS_CROSSSLOT) checked against what a real cluster refuses, and work
 * that must visit every master (a cache namespace's clear()). On a 3 + 3
 * cluster of this file's own (test/support/redis-server.ts).
 */
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cache, createCache, E_REDIS_CROSSSLOT, E_REDIS_URL } from '../../src/cache/index.js';
import { READ } from '../../src/cache/leases.js';
import { isClusterUrl, keySlot, parseClusterUrl } from '../../src/redis/cluster.js';
import { createRedisClient, openRedis } from '../../src/redis/connection.js';
import { createSessionStore } from '../../src/sessions/index.js';
import { cacheKeys, cachePage, deleteCacheKeys } from '../../src/studio/cache-page.js';
import type { StudioContext } from '../../src/studio/context.js';
import { type OwnRedisCluster, startRedisCluster } from '../support/redis-server.js';

describe('redis+cluster:// URLs', () => {
  it('lists seed nodes, with credentials for every node', () => {
    expect(isClusterUrl('redis+cluster://a:1')).toBe(true);
    expect(isClusterUrl('redis://a:1')).toBe(false);
    expect(parseClusterUrl('redis+cluster://default:p%40ss@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002,host')).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
        { host: 'host', port: 6379 },
      ],
      auth: { username: 'default', password: 'p@ss' },
      tls: false,
      secrets: ['p%40ss', 'p@ss'],
    });
    expect(parseClusterUrl('rediss+cluster://h:1').tls).toBe(true);
  });

  it('anything else is E_REDIS_URL, saying what is wrong, never showing the password', () => {
    const cases: Array<[string, RegExp]> = [
      ['redis+cluster://', /no node/],
      ['redis+cluster://:s3cretpw@', /no node/],
      ['redis+cluster://:s3cretpw@h:1/2', /no database number/],
      ['redis+cluster://:s3cretpw@h:1?scaleReads=slave', /query parameters/],
      ['redis+cluster://:s3cretpw@h:1,h:99999', /out of range/],
      ['redis+cluster://:s3cretpw@h:1,,h:2', /is not host:port/],
    ];
    for (const [url, why] of cases) {
      let caught: unknown;
      try {
        openRedis(url, { what: 'createCache' });
      } catch (err) {
        caught = err;
      }
      expect(caught, url).toMatchObject({ code: E_REDIS_URL, message: expect.stringMatching(why) });
      expect((caught as Error).message).toMatch(/^createCache: Unsupported Redis Cluster URL/);
      expect((caught as Error).message).not.toContain('s3cretpw');
    }
  });

  it('what takes one server (the Redis import source) says so for a cluster URL', () => {
    expect(() => createRedisClient('redis+cluster://:s3cretpw@h:1,h:2', { what: 'redis()' })).toThrow(
      expect.objectContaining({
        code: E_REDIS_URL,
        message:
          'redis(): "redis+cluster://:****@h:1,h:2" is a Redis Cluster URL; this takes one Redis server: use redis://host:port (a node of the cluster reads only its own slots).',
      }),
    );
  });
});

describe('on a real cluster', () => {
  let cluster: OwnRedisCluster;
  let raw: Cluster;
  const caches: Cache[] = [];
  const clients: Cluster[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster();
    raw = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(caches.splice(0).map((c) => c.close()));
    for (const c of clients) c.disconnect();
    await raw?.quit().catch(() => raw.disconnect());
    await cluster?.stop();
  });

  it('keySlot is the server’s CLUSTER KEYSLOT (hash tags, empty tags, UTF-8)', async () => {
    const keys = [
      'a',
      'foo',
      '{user1000}.following',
      'foo{}{bar}',
      'foo{{bar}}zap',
      'foo{bar}{zap}',
      '{}x',
      'é€😀',
      'x'.repeat(300),
    ];
    for (let i = 0; i < 50; i++) keys.push(randomBytes(8).toString('hex'));
    for (const k of keys)
      expect(keySlot(k), k).toBe(Number(await cluster.cli(cluster.ports[0]!, 'cluster', 'keyslot', k)));
  });

  it('a keyPrefix that breaks the hash tag fails at startup with E_REDIS_CROSSSLOT, as the cluster would on the first call', async () => {
    // `x{}` opens an empty tag first: every key is then hashed whole.
    const prefix = 'x{}';
    // Callers' Cluster clients with a keyPrefix (never closed by Ferry).
    const clientWith = (keyPrefix: string) => {
      const c = new Cluster(
        cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
        { keyPrefix },
      );
      clients.push(c);
      return c;
    };
    let caught: unknown;
    try {
      caches.push(createCache({ namespace: 'ns1', redis: clientWith(prefix), logger: false }));
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({
      code: E_REDIS_CROSSSLOT,
      message: expect.stringMatching(
        /createCache "ns1": the Lua script READ would touch keys of different cluster slots: x\{\}\{ns1\}~v:k \(slot \d+\)/,
      ),
      details: { script: 'READ', keys: [`${prefix}{ns1}~v:k`, `${prefix}{ns1}~l:k`, `${prefix}{ns1}~seq`] },
    });
    // The check is right: the cluster refuses those keys together, and accepts the layout without the prefix.
    const keys = (caught as { details: { keys: string[] } }).details.keys;
    await expect(raw.eval(READ.src, 3, ...keys, 1000, '0')).rejects.toThrow(/CROSSSLOT/);
    expect(await raw.eval(READ.src, 3, '{ns1}~v:k', '{ns1}~l:k', '{ns1}~seq', 1000, '0')).toEqual([
      0,
      expect.any(String),
    ]);

    expect(() => createSessionStore({ redis: clientWith(prefix), ttl: '1m', logger: false })).toThrow(
      expect.objectContaining({ code: E_REDIS_CROSSSLOT, message: expect.stringMatching(/ferrySessCreate/) }),
    );
    // A prefix with a tag of its own keeps every key in one slot: accepted.
    const ok = createCache({ namespace: 'ns1', redis: clientWith('app{1}:'), logger: false });
    caches.push(ok);
    expect(await ok.ready()).toBe(true);
    await ok.set('a', 1);
    expect(await raw.exists('app{1}:{ns1}~v:a')).toBe(1);
  });

  it('clear() finds a namespace’s keys on whichever master holds them', async () => {
    // One namespace per master, so each master's SCAN matters.
    const masters = await cluster.masters();
    const byMaster = new Map<number, string>();
    for (let i = 0; byMaster.size < masters.length && i < 10_000; i++) {
      const ns = `clr${i}`;
      const port = await cluster.masterOf(keySlot(`{${ns}}`));
      if (!byMaster.has(port)) byMaster.set(port, ns);
    }
    expect(byMaster.size).toBe(3);
    for (const ns of byMaster.values()) {
      const c = createCache({ namespace: ns, redis: cluster.url, logger: false });
      caches.push(c);
      expect(await c.ready()).toBe(true);
      for (let i = 0; i < 20; i++) await c.set(`k${i}`, i);
      expect(await raw.exists(`{${ns}}~v:k0`, `{${ns}}~v:k19`)).toBe(2);
      await c.clear();
      expect(await raw.exists(`{${ns}}~v:k0`, `{${ns}}~v:k19`)).toBe(0);
      expect(c.stats().breaker).toBe('closed');
    }
  });

  it('REDIS_URL=redis+cluster://... selects the cluster', async () => {
    const c = createCache({ namespace: 'fromenv', env: { REDIS_URL: cluster.url }, logger: false });
    caches.push(c);
    expect(await c.ready()).toBe(true);
    await c.set('a', 1);
    expect(await raw.exists('{fromenv}~v:a')).toBe(1);
  });

  it('Studio’s cache page counts, lists and deletes keys on every master', async () => {
    const tag = randomBytes(3).toString('hex');
    const keys = Array.from({ length: 60 }, (_, i) => `st${tag}:${i}`);
    const masters = new Set(await Promise.all(keys.map((k) => cluster.masterOf(keySlot(k)))));
    expect(masters.size).toBe(3); // spread over every master
    for (const k of keys) await raw.set(k, 'x');
    for (let i = 0; i < 7; i++) await raw.set(`ss${tag}:{u${i}}:jti${i}`, 'x');
    const ctx = {
      cache: null,
      redis: raw as never,
      redisUrl: cluster.url,
      sessionPrefix: `ss${tag}`,
      rateLimitPrefix: `st${tag}`,
    } as unknown as StudioContext;
    expect(await cachePage(ctx)).toMatchObject({ sessions: 7, rateLimits: 60 });
    const listed = await cacheKeys(ctx, new URLSearchParams({ prefix: `st${tag}:`, limit: '1000' }));
    expect(listed.keys.map((k) => k.key).sort()).toEqual([...keys].sort());
    expect(await deleteCacheKeys(ctx, new URLSearchParams({ prefix: `st${tag}:` }))).toEqual({ deleted: 60 });
    for (const k of keys) expect(await raw.exists(k)).toBe(0);
  });
});
