/**
 * Race: randomised concurrent readers and writers on a small key set, with a
 * real table as the source of truth, two cache instances (separate Redis
 * connections) sharing a namespace. Writers commit, then invalidate.
 *
 * After each commit settles, the writer's instance reads the committed
 * version (or newer) at once, the other instance within the bus delay; at the
 * end no cached value (either L1, Redis) differs from the table.
 */
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { describeEachBackend } from '../support/backends.js';
import { autoCleanup, eventually, makeCache, rawRedis, sleep, uniqueNamespace, valueKey } from './support/redis.js';

autoCleanup();

const KEYS = 6;
const DURATION_MS = 2_500;
const rand = (n: number) => Math.floor(Math.random() * n);

describeEachBackend('cache race against the database', (t) => {
  it('no cached value ever differs from the table once a commit has settled', async () => {
    const { db } = await t.open();
    await sql`create table cache_race (id int primary key, v int not null)`.execute(db);
    await sql`insert into cache_race select g, 0 from generate_series(0, ${KEYS - 1}) g`.execute(db);
    const ns = uniqueNamespace('race');
    const a = await makeCache({ namespace: ns, l1: { ttl: '30s' } });
    const b = await makeCache({ namespace: ns, l1: { ttl: '30s' } });
    await Promise.all([a.ready(), b.ready()]);
    const caches = [a, b];

    const load = (id: number) => async () => {
      const r = await sql<{ v: number }>`select v from cache_race where id = ${id}`.execute(db);
      await sleep(rand(3)); // widen the stale-fill window
      return { id, v: r.rows[0]!.v };
    };
    const read = (i: number, id: number) => caches[i]!.getOrSet(`row:${id}`, load(id));

    let running = true;
    const problems: string[] = [];
    const counts = { reads: 0, writes: 0, crossWaitMaxMs: 0 };

    const reader = async () => {
      while (running) {
        const id = rand(KEYS);
        await read(rand(2), id);
        counts.reads++;
        await sleep(rand(2));
      }
    };
    const writer = async () => {
      while (running) {
        const id = rand(KEYS);
        const w = rand(2);
        const committed = await db.transaction().execute(async (trx) => {
          const r = await sql<{ v: number }>`update cache_race set v = v + 1 where id = ${id} returning v`.execute(trx);
          await sleep(rand(3));
          return r.rows[0]!.v;
        });
        await caches[w]!.delete(`row:${id}`); // after commit
        counts.writes++;
        const own = await read(w, id);
        if (own.v < committed) problems.push(`writer's instance read v${own.v} after committing v${committed}`);
        const t0 = performance.now();
        await eventually(
          async () => (await read(1 - w, id)).v >= committed,
          5_000,
          `other instance to see v${committed}`,
        );
        counts.crossWaitMaxMs = Math.max(counts.crossWaitMaxMs, performance.now() - t0);
        await sleep(rand(10));
      }
    };

    const workers = [...Array.from({ length: 8 }, reader), ...Array.from({ length: 3 }, writer)];
    await sleep(DURATION_MS);
    running = false;
    await Promise.all(workers);
    await sleep(100); // the last invalidations' messages

    const truth = await sql<{ id: number; v: number }>`select id, v from cache_race order by id`.execute(db);
    for (const { id, v } of truth.rows) {
      for (const [name, c] of [['a', a] as const, ['b', b] as const]) {
        const cached = await c.get<{ v: number }>(`row:${id}`);
        if (cached !== undefined && cached.v !== v) problems.push(`${name} L1/L2 row:${id} v${cached.v} != v${v}`);
      }
      const raw = await rawRedis().get(valueKey(ns, `row:${id}`));
      if (raw !== null) {
        const cached = JSON.parse(raw.slice(raw.indexOf('|', raw.indexOf('|') + 1) + 1)) as { v: number };
        if (cached.v !== v) problems.push(`redis row:${id} v${cached.v} != v${v}`);
      }
    }
    console.log(
      `race [${t.backend}]: ${counts.reads} reads, ${counts.writes} commits; other instance saw each commit within ${counts.crossWaitMaxMs.toFixed(1)} ms; ` +
        `stale fills refused a=${a.stats().staleFillsRefused} b=${b.stats().staleFillsRefused}; problems: ${problems.length}`,
    );
    expect(problems).toEqual([]);
    expect(counts.writes).toBeGreaterThan(10);
  }, 30_000);
});
