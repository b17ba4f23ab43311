import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { cachedRepository, E_CACHE_CONFIG } from '../../src/cache/index.js';
import { connect, type Ferry } from '../../src/index.js';
import type { DatabaseOf } from '../../src/schema/infer.js';
import * as schema from '../repo/schema.js';
import { users } from '../repo/schema.js';
import { describeEachBackend } from '../support/backends.js';
import { autoCleanup, makeCache, rawRedis, uniqueNamespace, valueKey } from './support/redis.js';

autoCleanup();

type DB = DatabaseOf<typeof schema>;

describeEachBackend('cachedRepository', (t) => {
  let ferry: Ferry<DB>;
  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema });
    await ferry.createSchema();
  });
  afterAll(() => ferry?.close());
  beforeEach(async () => {
    await sql`truncate users, posts, memberships restart identity cascade`.execute(ferry.db);
  });

  it('reads through by primary key; rows round-trip exactly (Dates, bigints) through Redis', async () => {
    const ns = uniqueNamespace('repo');
    const cache = await makeCache({ namespace: ns });
    const other = await makeCache({ namespace: ns });
    await Promise.all([cache.ready(), other.ready()]);
    const alice = await ferry
      .repo(users)
      .insert({ telegram_id: (2n ** 60n) as unknown as number, username: 'alice', prefs: { units: 'km' } });
    const cached = cachedRepository(ferry.repo(users), cache, { ttl: '1h' });
    expect(await cached.get(alice.id)).toEqual(alice);
    expect(await cached.get(alice.id)).toEqual(alice);
    expect(cache.stats().loader.calls).toBe(1);
    const fromRedis = await cachedRepository(ferry.repo(users), other, { ttl: '1h' }).get(alice.id);
    expect(other.stats().l2.hits).toBe(1);
    expect(fromRedis).toEqual(alice);
    expect(fromRedis!.created_at).toBeInstanceOf(Date);
    expect(typeof fromRedis!.telegram_id).toBe('bigint');
    expect(fromRedis!.telegram_id).toBe(2n ** 60n);
    expect(await cached.get(999)).toBeUndefined();
  });

  it('invalidates after commit only: not inside the transaction, not on rollback', async () => {
    const ns = uniqueNamespace('repo');
    const cache = await makeCache({ namespace: ns });
    await cache.ready();
    const cached = cachedRepository(ferry.repo(users), cache, { ttl: '1h' });
    const alice = await ferry.repo(users).insert({ telegram_id: 1, username: 'alice' });
    await cached.get(alice.id);
    const key = valueKey(ns, cached.key(alice.id));
    expect(await rawRedis().exists(key)).toBe(1);

    await ferry.transaction(async (tx) => {
      await cached.update(tx, alice.id, { username: 'alice2' });
      // Uncommitted: nothing invalidated yet, and readers still see the committed row.
      expect(await rawRedis().exists(key)).toBe(1);
      expect((await cached.get(alice.id))!.username).toBe('alice');
    });
    expect(await rawRedis().exists(key)).toBe(0);
    expect((await cached.get(alice.id))!.username).toBe('alice2');

    await expect(
      ferry.transaction(async (tx) => {
        await cached.update(tx, alice.id, { username: 'never' });
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(await rawRedis().exists(key)).toBe(1); // untouched
    expect((await cached.get(alice.id))!.username).toBe('alice2');

    // A savepoint that rolls back drops its invalidations; the outer commit keeps its own.
    await ferry.transaction(async (tx) => {
      await tx
        .transaction(async (inner) => {
          await cached.delete(inner, alice.id);
          throw new Error('inner');
        })
        .catch(() => {});
    });
    expect(await rawRedis().exists(key)).toBe(1);
    await ferry.transaction((tx) => cached.delete(tx, alice.id));
    expect(await cached.get(alice.id)).toBeUndefined();
  });

  it('by a unique column: a changed value invalidates both the old and the new key', async () => {
    const cache = await makeCache({ namespace: uniqueNamespace('repo') });
    await cache.ready();
    const byTelegram = cachedRepository(ferry.repo(users), cache, { ttl: '1h', by: 'telegram_id', negativeTtl: '1m' });
    const bob = await ferry.repo(users).insert({ telegram_id: 100, username: 'bob' });
    expect((await byTelegram.get(100))!.id).toBe(bob.id);
    expect(await byTelegram.get(200)).toBeUndefined(); // cached as absent
    await ferry.transaction((tx) => byTelegram.update(tx, bob.id, { telegram_id: 200 }));
    expect(await byTelegram.get(100)).toBeUndefined();
    expect((await byTelegram.get(200))!.id).toBe(bob.id);
    // Insert drops a cached absence.
    expect(await byTelegram.get(300)).toBeUndefined();
    await byTelegram.insert(ferry, { telegram_id: 300, username: 'carol' });
    expect((await byTelegram.get(300))!.username).toBe('carol');
    // Writes made another way: invalidate explicitly.
    await ferry.transaction(async (tx) => {
      await tx.repo(users).update({ telegram_id: 300 }, { username: 'caroline' });
      await byTelegram.invalidate(tx, [{ telegram_id: 300 }]);
    });
    expect((await byTelegram.get(300))!.username).toBe('caroline');
  });

  it('refuses a column that does not identify one row', async () => {
    const cache = await makeCache({ namespace: uniqueNamespace('repo') });
    expect(() => cachedRepository(ferry.repo(users), cache, { ttl: '1h', by: 'username' })).toThrow(
      expect.objectContaining({ code: E_CACHE_CONFIG }),
    );
  });

  it('repo.cached({ ttl, by }) uses the cache given to connect()', async () => {
    const cache = await makeCache({ namespace: uniqueNamespace('repo') });
    // A second handle on this suite's PGlite directory is not allowed: use an in-memory database.
    const app = await connect({ url: t.backend === 'postgres' ? t.url() : 'memory://', schema, cache });
    if (t.backend === 'pglite') await app.createSchema();
    try {
      const bob = await app.repo(users).insert({ telegram_id: 77, username: 'bob' });
      const byTelegram = app.repo(users).cached({ ttl: '1m', by: 'telegram_id' });
      expect(await byTelegram.get(77)).toEqual(bob);
      expect(await byTelegram.get(77)).toEqual(bob);
      expect(cache.stats().loader.calls).toBe(1);
      await app.transaction((tx) => byTelegram.update(tx, bob.id, { username: 'bobby' }));
      expect((await byTelegram.get(77))?.username).toBe('bobby');
      expect(() => ferry.repo(users).cached({ ttl: '1m' })).toThrow(/needs a cache/);
      expect(await ferry.repo(users).cached({ cache, ttl: '1m' }).get(-1)).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
