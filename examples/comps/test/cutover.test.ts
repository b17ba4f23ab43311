/**
 * The comps cutover: its comparator, the backfill's guards against live
 * writes (Postgres and Redis), the old results in a JSON file instead of
 * Redis (the store's TTLs, the backfill from the file), and the demo's run
 * with small numbers (with Redis, and with the file): every
 * stage under load, backfill in dual-write, the gate on clean shadow reads,
 * then nothing failed, lost or mismatched, and Postgres holding exactly one
 * row per result written.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/db/open.js';
import { runImport } from '../../../src/import/index.js';
import { connect } from '../../../src/index.js';
import { freshPostgresDatabase, type ProvisionedDatabase } from '../../../test/support/backends.js';
import { compsBackfill } from '../backfill.js';
import { searchResultComparator } from '../cutover.js';
import { runCutoverDemo } from '../demo.js';
import { MIGRATIONS } from '../serve.js';
import {
  type CompsFerry,
  compsSchema,
  jsonSearchStore,
  postgresSearchStore,
  redisSearchStore,
  type SearchResult,
  searchKey,
} from '../store.js';
import { generateListings } from '../upstream.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** A short demo run: two cards, short stages, a small gate window. */
const SMALL_RUN = { stageMs: 700, sliceMs: 300, concurrency: 4, legacyCards: 4, gateWindow: 30, upstreamDelayMs: 5 };

/** Every stage to `complete` with nothing failed, lost or mismatched, and a clean verify. */
function expectCleanRun(summary: Awaited<ReturnType<typeof runCutoverDemo>>): void {
  expect(summary.errors).toEqual([]);
  expect(summary.finalStage).toBe('complete');
  expect(summary.failed).toBe(0);
  expect(summary.lostWrites).toBe(0);
  expect(summary.mismatches).toBe(0);
  expect(summary.verify.clean).toBe(true);
}

function resultOf(kind: 'sold' | 'active', query: string, fetchedAt: Date): SearchResult {
  return {
    key: searchKey(kind, query),
    kind,
    query,
    filters: {},
    fetched_at: fetchedAt.toISOString(),
    items: generateListings(kind, query, {}, fetchedAt.toISOString().slice(0, 10)),
  };
}

describe('searchResultComparator', () => {
  const a = resultOf('active', '2011 Topps Update Mike Trout', new Date());
  it('finds a field written differently, and a result one store lacks', () => {
    const b = structuredClone(a);
    b.items[1]!.price += 1;
    b.query = 'something else';
    expect(searchResultComparator(a, b).sort()).toEqual(['items[1].price', 'query']);
    expect(searchResultComparator(a, undefined)).not.toEqual([]);
    expect(searchResultComparator(undefined, undefined)).toEqual([]);
  });
  it("ignores only the listings' live counters (bids, watchers)", () => {
    const b = structuredClone(a);
    b.items[0]!.watchers = (b.items[0]!.watchers ?? 0) + 3;
    b.items[2]!.bids = (b.items[2]!.bids ?? 0) + 1;
    expect(searchResultComparator(a, b)).toEqual([]);
  });
});

describe('comps backfill beside live writes', () => {
  let db: ProvisionedDatabase;
  let ferry: CompsFerry;
  let redis: Redis;
  const prefix = `kuyabf${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    db = await freshPostgresDatabase();
    ferry = await connect({ schema: compsSchema, url: db.url });
    await ferry.migrate(MIGRATIONS);
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(keys);
    redis?.disconnect();
    await ferry?.close();
    await db?.cleanup();
  });

  it('imports what only Redis holds, never overwrites a newer listing, never revives a deleted result', async () => {
    const old = redisSearchStore(redis, { prefix });
    const pg = postgresSearchStore(ferry);
    const earlier = new Date(Date.now() - 60_000);
    // Only in Redis: the backfill's job.
    const onlyOld = resultOf('sold', '1989 Upper Deck Ken Griffey Jr', earlier);
    // In Redis as cached a minute ago; the app fetched it again since and wrote that to Postgres (dual write).
    const cached = resultOf('active', '1986 Fleer Michael Jordan', earlier);
    const refetched = { ...structuredClone(cached), fetched_at: new Date().toISOString() };
    refetched.items[0]!.title = 'relisted with a new title';
    // Written to both, then deleted through the cutover in Postgres only (its Redis key left, as a drained
    // delete would find it a moment later).
    const deleted = resultOf('sold', '2003 Topps Chrome LeBron James', earlier);
    for (const r of [onlyOld, cached, deleted]) await old.put(r.key, r);
    await pg.put(refetched.key, refetched);
    await pg.put(deleted.key, deleted);
    await pg.delete(deleted.key);

    const handle = await openDatabase({ url: db.url });
    try {
      const report = await runImport({
        db: handle,
        definition: compsBackfill({ redisUrl: REDIS_URL, prefix }),
        rejectsFile: null,
      });
      expect(report.records).toBe(3);
      expect(report.rejects).toBe(0);
      // The refetched result's listings are all newer in Postgres: each kept.
      expect(report.tables.listing_cache?.stale).toBe(cached.items.length);
    } finally {
      await handle.close();
    }

    expect(searchResultComparator(onlyOld, await pg.get(onlyOld.key))).toEqual([]);
    expect(searchResultComparator(refetched, await pg.get(refetched.key))).toEqual([]);
    expect(await pg.get(deleted.key)).toBeUndefined();
    const title = await ferry.db
      .selectFrom('listing_cache')
      .select('title')
      .where('item_id', '=', cached.items[0]!.item_id)
      .executeTakeFirstOrThrow();
    expect(title.title).toBe('relisted with a new title');
  });
});

describe('the old results in a JSON file (no Redis)', () => {
  let db: ProvisionedDatabase;
  let ferry: CompsFerry;
  let dir: string;
  beforeAll(async () => {
    db = await freshPostgresDatabase();
    ferry = await connect({ schema: compsSchema, url: db.url });
    await ferry.migrate(MIGRATIONS);
    dir = await mkdtemp(path.join(os.tmpdir(), 'comps-legacy-file-'));
  });
  afterAll(async () => {
    await ferry?.close();
    await db?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it("jsonSearchStore keeps Redis' TTLs, and the backfill imports the file's live results", async () => {
    const file = path.join(dir, 'legacy.json');
    const store = jsonSearchStore(file);
    const fresh = resultOf('sold', '1989 Upper Deck Ken Griffey Jr', new Date(Date.now() - 60_000));
    // An active result of 10 minutes ago: past its 5-minute TTL. Written by a store whose clock is back then.
    const old = resultOf('active', '1986 Fleer Michael Jordan', new Date(Date.now() - 10 * 60_000));
    await store.put(fresh.key, fresh);
    await jsonSearchStore(file, { now: () => new Date(Date.now() - 10 * 60_000) }).put(old.key, old);
    expect(searchResultComparator(fresh, await store.get(fresh.key))).toEqual([]);
    expect(await store.get(old.key)).toBeUndefined();
    const listed: string[] = [];
    for await (const e of store.list?.() ?? []) listed.push(e.key);
    expect(listed).toEqual([fresh.key]);
    // The file holds both, as a lowdb table; a put of an expired result deletes its key.
    const onDisk = JSON.parse(await readFile(file, 'utf8')) as { results: SearchResult[] };
    expect(onDisk.results.map((r) => r.key).sort()).toEqual([fresh.key, old.key].sort());

    const handle = await openDatabase({ url: db.url });
    try {
      const report = await runImport({ db: handle, definition: compsBackfill({ file }), rejectsFile: null });
      expect(report.records).toBe(2);
      expect(report.rejects).toBe(0);
      expect(report.tables.searches?.inserted).toBe(1); // the expired one skipped
    } finally {
      await handle.close();
    }
    const pg = postgresSearchStore(ferry);
    expect(searchResultComparator(fresh, await pg.get(fresh.key))).toEqual([]);
    expect(await pg.get(old.key)).toBeUndefined();

    await store.put(old.key, old); // expired at this store's clock: removed from the file
    expect((JSON.parse(await readFile(file, 'utf8')) as { results: SearchResult[] }).results).toHaveLength(1);
  });
});

describe('comps cutover demo (small)', () => {
  let db: ProvisionedDatabase;
  beforeAll(async () => {
    db = await freshPostgresDatabase();
  });
  afterAll(async () => {
    await db?.cleanup();
  });

  it('goes off → complete under load: nothing failed, lost or mismatched; Postgres holds every result once', async () => {
    const prefix = `kuyademo${randomBytes(4).toString('hex')}`;
    const summary = await runCutoverDemo({ ...SMALL_RUN, url: db.url, redisUrl: REDIS_URL, prefix });
    expect(summary.backends).toEqual({ database: 'postgres', legacy: 'redis' });
    expectCleanRun(summary);
    expect(summary.verify.rows.new).toBeGreaterThan(0);
    expect(summary.journalDepth).toBe(0);
    expect(summary.comparisons).toBeGreaterThanOrEqual(30);
    expect(summary.legacyResults).toBe(16);
    // The backfill found the old app's results and those the service wrote to Redis alone in `off`.
    expect(summary.backfill.records).toBeGreaterThan(summary.legacyResults);
    for (const stage of Object.values(summary.stages)) expect(stage.requests).toBeGreaterThan(0);

    const ferry = await connect({ schema: compsSchema, url: db.url });
    try {
      // One `searches` row per result written: the old app's and every one the service fetched, no more.
      const rows = await ferry.db
        .selectFrom('searches')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('source', '=', 'upstream')
        .executeTakeFirstOrThrow();
      expect(Number(rows.n)).toBe(summary.legacyResults + summary.writesAcknowledged);
      // And every listing those rows name is in listing_cache.
      const missingListings = await sql<{ n: string }>`
        select count(*) as n from searches s, unnest(s.item_ids) as u(item)
        where not exists (select 1 from listing_cache l where l.item_id = u.item)`.execute(ferry.db);
      expect(Number(missingListings.rows[0]?.n)).toBe(0);
    } finally {
      await ferry.close();
    }
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it('runs the same with the old results in a JSON file instead of Redis (redisUrl null)', async () => {
    const second = await freshPostgresDatabase();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'comps-demo-file-'));
    const legacyFile = path.join(dir, 'legacy.json');
    try {
      const summary = await runCutoverDemo({ ...SMALL_RUN, url: second.url, redisUrl: null, legacyFile });
      expect(summary.backends).toEqual({ database: 'postgres', legacy: 'json-file' });
      expectCleanRun(summary);
      expect(summary.journalDepth).toBe(0);
      expect(summary.backfill.records).toBeGreaterThan(summary.legacyResults);
      for (const stage of Object.values(summary.stages)) expect(stage.requests).toBeGreaterThan(0);
      expect(await readdir(dir)).toEqual([]); // the legacy file removed at the end
    } finally {
      await rm(dir, { recursive: true, force: true });
      await second.cleanup();
    }
  }, 60_000);
});
