/**
 * Hello Bot's users through `repo.cached` (issue 16): L1 in process, Redis
 * (a redis-server of this file's own, on a spare port) as L2, invalidated
 * after commit; and a Redis outage — killed, then hung (SIGSTOP) — during
 * which get-or-create keeps answering from the database with no failure,
 * the cache being used again once Redis is back.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Cache, CacheLogger } from '../../../src/cache/index.js';
import { connect, type DatabaseOf, type Ferry } from '../../../src/index.js';
import { health } from '../../../src/ops/health.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { type OwnRedis, startRedisServer } from '../../../test/support/redis-server.js';
import { pool } from '../ferry.config.js';
import * as schema from '../schema.js';
import { createUserCache, type TelegramUser, UserService } from '../user-service.js';

const migrations = new URL('../migrations', import.meta.url).pathname;

describeEachBackend('hello-bot users cache', (t) => {
  let redis: OwnRedis;
  let raw: Redis; // to look at the keys themselves
  let ferry: Ferry<DatabaseOf<typeof schema>>;
  let cache: Cache;
  let other: Cache; // a second instance of the bot: same Redis, its own L1
  let service: UserService;
  let otherService: UserService;
  const logged: { code?: string; msg: string }[] = [];
  const logger: CacheLogger = {
    warn: (obj, msg) => logged.push({ code: (obj as { code?: string }).code, msg: msg ?? '' }),
    info: (obj, msg) => logged.push({ code: (obj as { code?: string }).code, msg: msg ?? '' }),
    debug: () => {},
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    raw.on('error', () => {}); // refused while the server is killed; it reconnects on its own
    cache = createUserCache({ redis: redis.url, logger });
    other = createUserCache({ redis: redis.url, logger: false });
    ferry = await connect({ url: t.url(), schema, pool, cache });
    await ferry.migrate(migrations);
    service = new UserService(ferry); // the cache given to connect()
    otherService = new UserService(ferry, { cache: other });
    expect(await cache.ready(10_000)).toBe(true);
    expect(await other.ready(10_000)).toBe(true);
  }, 60_000);
  afterAll(async () => {
    raw?.disconnect();
    await cache?.close();
    await other?.close();
    await ferry?.close();
    await redis?.stop();
  });

  /** Where a user's row is in Redis (the cache's own key layout: `<namespace>~v:<key>`). */
  const redisKey = (telegramId: number) => `hellobot~v:${service.users.key(telegramId)}`;
  const hits = (c: Cache) => c.stats().l1.hits + c.stats().l2.hits;

  it('the first get-or-create caches the user: the next visit is a hit, and Redis holds it for other instances', async () => {
    const tg: TelegramUser = { id: 101, username: 'ann', first_name: 'Ann', language_code: 'en' };
    const first = await service.getOrCreateUser(tg);
    expect(first).toMatchObject({ created: true, updated: false });
    expect(await raw.exists(redisKey(101))).toBe(1);

    const before = cache.stats();
    const again = await service.getOrCreateUser(tg);
    expect(again).toMatchObject({ created: false, updated: false, user: { id: first.user.id, username: 'ann' } });
    expect(cache.stats().l1.hits).toBe(before.l1.hits + 1);
    expect(cache.stats().loader.calls).toBe(before.loader.calls); // no database read

    // Another instance finds it in Redis (L2), not in the database.
    const o = other.stats();
    expect((await otherService.users.get(101))?.username).toBe('ann');
    expect(other.stats().l2.hits).toBe(o.l2.hits + 1);
    expect(other.stats().loader.calls).toBe(o.loader.calls);
  });

  it('a committed update drops the cached user everywhere; a rolled-back one drops nothing', async () => {
    const tg: TelegramUser = { id: 102, username: 'bob', first_name: 'Bob' };
    const { user } = await service.getOrCreateUser(tg);
    expect((await otherService.users.get(102))?.username).toBe('bob'); // now in the other's L1 too

    // Rolled back: the cache keeps serving the committed row, without a database read.
    await expect(
      ferry.transaction(async (tx) => {
        await service.users.update(tx, user.id, { username: 'never' });
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    let before = cache.stats();
    expect((await service.users.get(102))?.username).toBe('bob');
    expect(cache.stats().loader.calls).toBe(before.loader.calls);
    expect(await raw.exists(redisKey(102))).toBe(1);

    // Committed: gone from Redis once the transaction returns, reloaded on the next read.
    await ferry.transaction((tx) => service.users.update(tx, user.id, { username: 'bob2' }));
    expect(await raw.exists(redisKey(102))).toBe(0);
    before = cache.stats();
    expect((await service.users.get(102))?.username).toBe('bob2');
    expect(cache.stats().loader.calls).toBe(before.loader.calls + 1);
    // The other instance hears it on the invalidation bus (within bus.maxStale) and reloads.
    await vi.waitFor(async () => expect((await otherService.users.get(102))?.username).toBe('bob2'), {
      timeout: 5_000,
    });

    // Through the service: a visit with new names updates, and the next visit is a hit on them.
    const renamed = await service.getOrCreateUser({ ...tg, username: 'bob3' });
    expect(renamed).toMatchObject({ updated: true, user: { username: 'bob3' } });
    const h = hits(cache);
    expect(await service.getOrCreateUser({ ...tg, username: 'bob3' })).toMatchObject({ updated: false });
    expect(hits(cache)).toBe(h + 1);
  });

  /**
   * A burst of visits while Redis is out: returning users, first visits and
   * renames, all concurrent. Every one must succeed and be right.
   */
  async function visitsDuringOutage(round: string, base: number) {
    const known = [101, 102];
    const visits: TelegramUser[] = [
      ...Array.from({ length: 20 }, (_, i) => ({ id: known[i % 2]!, username: `${round}_${known[i % 2]}` })),
      ...Array.from({ length: 20 }, (_, i) => ({ id: base + (i % 10), username: `new_${base + (i % 10)}` })),
    ];
    const settled = await Promise.allSettled(visits.map((tg) => service.getOrCreateUser(tg)));
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed, String((failed[0] as PromiseRejectedResult | undefined)?.reason)).toEqual([]);
    const results = settled.map(
      (s) => (s as PromiseFulfilledResult<Awaited<ReturnType<UserService['getOrCreateUser']>>>).value,
    );
    expect(results.filter((r) => r.created)).toHaveLength(10);
    // What the visits wrote is what the next visit reads, Redis still out: nothing stale served.
    for (const tg of visits) {
      const next = await service.getOrCreateUser(tg);
      expect(next).toMatchObject({
        created: false,
        updated: false,
        user: { telegram_id: tg.id, username: tg.username },
      });
    }
    return visits;
  }

  /** After Redis is back (and the cache's quarantine is over), visits are answered by the cache again. */
  async function cacheUsedAgain(visits: TelegramUser[]) {
    expect(await cache.ready(10_000)).toBe(true);
    await vi.waitFor(
      async () => {
        const tg = visits[0]!;
        await service.getOrCreateUser(tg); // a miss fills it, once the quarantine is over
        const before = cache.stats();
        await service.getOrCreateUser(tg);
        expect(cache.stats().l1.hits).toBe(before.l1.hits + 1);
        expect(cache.stats().loader.calls).toBe(before.loader.calls);
        expect(await raw.exists(redisKey(tg.id))).toBe(1);
      },
      { timeout: 15_000, interval: 100 },
    );
    expect(cache.stats().breaker).toBe('closed');
  }

  it('Redis killed: every get-or-create succeeds from the database; once Redis is back the cache is used again', async () => {
    const downBefore = logged.filter((l) => l.code === 'FERRY_REDIS_UNAVAILABLE').length;
    const loads = cache.stats().loader.calls;
    await redis.kill();
    const visits = await visitsDuringOutage('killed', 20_000);
    expect(cache.stats().breaker).not.toBe('closed');
    expect(cache.stats().loader.calls).toBeGreaterThan(loads); // answered by the database
    expect(logged.filter((l) => l.code === 'FERRY_REDIS_UNAVAILABLE')).toHaveLength(downBefore + 1); // said once
    // Still ready (serve.ts's /readyz): a cache-only Redis being down is degraded, never unready.
    const ready = await health(ferry, { cache }).respond('/readyz?verbose');
    expect(ready?.status, ready?.body).toBe(200);
    expect(ready?.body).toMatch(/^\[-\]cache degraded: /m);

    await redis.restart(); // empty, as a crashed cache Redis comes back
    await cacheUsedAgain(visits);
    expect(logged.some((l) => l.code === 'FERRY_REDIS_AVAILABLE')).toBe(true);
    expect(cache.stats().pendingInvalidations).toBe(0);
  }, 60_000);

  it('Redis hung (SIGSTOP): the same; the cache notices by its command timeouts', async () => {
    const errors = cache.stats().errors;
    redis.pause();
    let visits: TelegramUser[];
    try {
      visits = await visitsDuringOutage('paused', 30_000);
      expect(cache.stats().errors).toBeGreaterThan(errors); // it did notice: timeouts
      expect(cache.stats().breaker).not.toBe('closed');
    } finally {
      redis.resume();
    }
    await cacheUsedAgain(visits);
  }, 60_000);
});
