/**
 * The collections' stores and the old app (legacy.ts): the seed's Redis keys
 * and TTLs, and the old and new search stores holding equal values for the
 * same result (what a cutover's comparison relies on). Postgres and Redis.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreEntry } from '../../../src/cutover/store.js';
import { connect } from '../../../src/index.js';
import { freshPostgresDatabase, type ProvisionedDatabase } from '../../../test/support/backends.js';
import { createLegacyComps, type LegacyComps } from '../legacy.js';
import { MIGRATIONS } from '../serve.js';
import {
  type CompsFerry,
  compsSchema,
  postgresSearchStore,
  readSnapshot,
  redisSearchStore,
  type SearchResult,
  searchKey,
  snapshotStore,
} from '../store.js';
import { createUpstream, generateListings } from '../upstream.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const MINUTE = 60_000;

async function collect<V>(entries: AsyncIterable<StoreEntry<V>>): Promise<Map<string, V>> {
  const out = new Map<string, V>();
  for await (const e of entries) {
    expect(out.has(e.key), `listed twice: ${e.key}`).toBe(false);
    out.set(e.key, e.value);
  }
  return out;
}

describe('comps stores', () => {
  let db: ProvisionedDatabase;
  let ferry: CompsFerry;
  let redis: Redis;
  let legacy: LegacyComps;
  let clock = new Date();
  const prefix = `kuya${randomBytes(4).toString('hex')}`;
  const upstream = createUpstream({ delayMs: 0, now: () => clock });

  beforeAll(async () => {
    db = await freshPostgresDatabase();
    ferry = await connect({ schema: compsSchema, url: db.url });
    await ferry.migrate(MIGRATIONS);
    redis = new Redis(REDIS_URL);
    legacy = createLegacyComps({ redis, prefix, upstream, now: () => clock });
  });
  afterAll(async () => {
    await legacy?.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(keys);
    redis?.disconnect();
    await ferry?.close();
    await db?.cleanup();
  });

  it('the old app: Redis keys <prefix>:<kind>:<card>|<filters>, 30 minutes for sold, 5 for active', async () => {
    const calls = upstream.calls;
    const sold = await legacy.search('sold', ' Ken  Griffey Jr 1989 Upper Deck ', { base_only: true, raw_only: false });
    expect(sold.source).toBe('upstream');
    const key = `${prefix}:sold:ken griffey jr 1989 upper deck|base_only`;
    expect(sold.result.key).toBe(key.slice(prefix.length + 1));
    expect(JSON.parse((await redis.get(key)) as string)).toEqual(sold.result);
    const soldTtl = await redis.pttl(key);
    expect(soldTtl).toBeGreaterThan(29 * MINUTE);
    expect(soldTtl).toBeLessThanOrEqual(30 * MINUTE);

    await legacy.search('active', 'Ken Griffey Jr 1989 Upper Deck');
    const activeTtl = await redis.pttl(`${prefix}:active:ken griffey jr 1989 upper deck|`);
    expect(activeTtl).toBeGreaterThan(4 * MINUTE);
    expect(activeTtl).toBeLessThanOrEqual(5 * MINUTE);

    const again = await legacy.search('sold', 'ken griffey jr 1989 upper deck', { base_only: true });
    expect(again).toEqual({ source: 'redis', result: sold.result });
    expect(upstream.calls).toBe(calls + 2);
  });

  it('redisSearchStore: a put keeps the original expiry, an expired result is not written, list scans the prefix', async () => {
    const store = redisSearchStore(redis, { prefix, now: () => clock });
    const result = (fetchedAgo: number): SearchResult => {
      const key = searchKey('sold', `Store Card ${fetchedAgo}`);
      const day = clock.toISOString().slice(0, 10);
      return {
        key,
        kind: 'sold',
        query: `Store Card ${fetchedAgo}`,
        filters: {},
        fetched_at: new Date(clock.getTime() - fetchedAgo * MINUTE).toISOString(),
        items: generateListings('sold', `Store Card ${fetchedAgo}`, {}, day),
      };
    };
    const old = result(20);
    await store.put(old.key, old);
    const ttl = await redis.pttl(`${prefix}:${old.key}`);
    expect(ttl).toBeGreaterThan(9 * MINUTE);
    expect(ttl).toBeLessThanOrEqual(10 * MINUTE);
    const expired = result(31);
    await store.put(expired.key, expired);
    expect(await store.get(expired.key)).toBeUndefined();

    const listed = await collect(store.list!());
    expect(listed.get(old.key)).toEqual(old);
    expect([...listed.keys()].every((k) => k.startsWith('sold:') || k.startsWith('active:'))).toBe(true);
    expect(listed.size).toBe((await redis.keys(`${prefix}:*`)).length);
    await store.delete(old.key);
    expect(await store.get(old.key)).toBeUndefined();
  });

  it('postgresSearchStore holds what the old store holds, served until it expires', async () => {
    const pg = postgresSearchStore(ferry, { now: () => clock });
    const listed = await collect(legacy.store.list!());
    expect(listed.size).toBeGreaterThan(1);
    for (const [key, value] of listed) await pg.put(key, value);
    for (const [key, value] of listed) expect(await pg.get(key)).toEqual(value);
    // A put repeated (a replayed journal entry, a backfill meeting a dual write) leaves one row per result.
    for (const [key, value] of listed) await pg.put(key, value);
    const rows = await ferry.db.selectFrom('searches').select('cache_key').where('source', '=', 'upstream').execute();
    expect(rows.map((r) => r.cache_key).sort()).toEqual([...listed.keys()].sort());
    expect(await collect(pg.list!())).toEqual(listed);

    // A newer result of a key replaces the older one.
    const [key, value] = [...listed].find(([, v]) => v.kind === 'sold') as [string, SearchResult];
    const newer = {
      ...value,
      fetched_at: new Date(clock.getTime() + MINUTE).toISOString(),
      items: value.items.slice(1),
    };
    await pg.put(key, newer);
    expect(await pg.get(key)).toEqual(newer);

    // Active results expire after 5 minutes, sold ones after 30.
    clock = new Date(clock.getTime() + 6 * MINUTE);
    const after = await collect(pg.list!());
    expect([...after.values()].every((v) => v.kind === 'sold')).toBe(true);
    expect(after.get(key)).toEqual(newer);
    await pg.delete(key);
    expect(await pg.get(key)).toBeUndefined();
    // The rows stay: they are the search history.
    const { count } = await ferry.db
      .selectFrom('searches')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('cache_key', '=', key)
      .executeTakeFirstOrThrow();
    expect(Number(count)).toBe(2);
  });

  it('snapshotStore: one row per card and day; a later snapshot of the day replaces it', async () => {
    const store = snapshotStore(ferry);
    const key = 'snapshot card|2026-01-15';
    await store.put(key, {
      card_identifier: 'x',
      snapshot_date: 'x',
      market_value: 10.5,
      sample_size: 3,
      taken_at: new Date('2026-01-15T08:00:00Z'),
    });
    await store.put(key, {
      card_identifier: 'x',
      snapshot_date: 'x',
      market_value: 9.25,
      sample_size: 4,
      taken_at: new Date('2026-01-15T20:00:00Z'),
    });
    const row = await readSnapshot(ferry, 'Snapshot  Card', '2026-01-15');
    expect(row).toMatchObject({ market_value: '9.25', sample_size: 4 });
    expect(row?.created_at).toEqual(new Date('2026-01-15T08:00:00Z'));
    expect(await store.get(key)).toMatchObject({
      card_identifier: 'snapshot card',
      snapshot_date: '2026-01-15',
      market_value: 9.25,
      taken_at: new Date('2026-01-15T20:00:00Z'),
    });
    const all = await collect(store.list!());
    expect([...all.keys()]).toEqual([key]);
    await store.delete(key);
    expect(await store.get(key)).toBeUndefined();
  });
});
