/**
 * The cache's three goals from issue 5, in one run:
 *
 * 1. L1 hit (`cache.get`, `cache.getOrSet`) vs a plain `Map.get` — goal: L1 > 1M ops/s.
 * 2. L2 hit vs a raw ioredis `GET` of the same Redis value — goal: within
 *    1.2x the raw GET at p50 and p99, with `l1: false` (no L1: every read
 *    is a Redis read, checked below). Like with like: one ioredis client
 *    (default options, no auto-pipelining) serves both the raw GETs and the
 *    cache, and both read the same key. Also shown: the decode any reader
 *    of that value needs, and an L2 hit with L1 on (L1 holding one entry,
 *    two keys read in turn, so every read misses L1, hits Redis and fills L1).
 * 3. cachedRepository `get` vs the uncached repository `get` on PostgreSQL —
 *    goal: >= 5x.
 *
 * Latency: sequential awaited calls, many samples, contenders interleaved in
 * chunks (A, B, A, B, ...) so machine noise hits each alike; ops/s is the
 * sequential rate (samples / time spent in them). Run: `npm run bench -- cache`.
 */
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import pg from 'pg';
import * as schema from '../examples/hello-bot/schema.js';
import { createCache } from '../src/cache/cache.js';
import { cachedRepository } from '../src/cache/cached-repo.js';
import { decode } from '../src/cache/codec.js';
import { connect, type Ferry } from '../src/index.js';
import { printTable, sampleVehicle, saveResult } from './lib.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const NS = `ferry-bench-cache:${process.pid}`;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const L2_SAMPLES = Number(process.env.BENCH_L2_SAMPLES ?? 40_000);

interface Op {
  name: string;
  op: () => unknown;
}

interface Measured {
  name: string;
  opsPerSec: number;
  p50us: number;
  p99us: number;
}

/** `samples` sequential awaited calls per contender, in `ROUNDS` interleaved chunks. */
async function measure(ops: Op[], samples: number): Promise<Measured[]> {
  const lat = new Map<string, number[]>(ops.map((o) => [o.name, []]));
  const busy = new Map<string, number>(ops.map((o) => [o.name, 0]));
  for (const o of ops) for (let i = 0; i < Math.min(2_000, samples); i++) await o.op(); // warm up
  const chunk = Math.ceil(samples / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const o of r % 2 === 0 ? ops : [...ops].reverse()) {
      const out = lat.get(o.name)!;
      const start = performance.now();
      for (let i = 0; i < chunk; i++) {
        const t = performance.now();
        await o.op();
        out.push((performance.now() - t) * 1000);
      }
      busy.set(o.name, busy.get(o.name)! + performance.now() - start);
    }
  }
  return ops.map((o) => {
    const xs = lat.get(o.name)!.sort((a, b) => a - b);
    const pct = (p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
    return { name: o.name, opsPerSec: (xs.length / busy.get(o.name)!) * 1000, p50us: pct(0.5), p99us: pct(0.99) };
  });
}

/**
 * Throughput without the per-call clock reads (which cost about as much as
 * an L1 hit): `n` sequential awaited calls timed as a whole, best of ROUNDS.
 */
async function tight(ops: Op[], n: number): Promise<Map<string, number>> {
  const best = new Map<string, number>(ops.map((o) => [o.name, 0]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const o of r % 2 === 0 ? ops : [...ops].reverse()) {
      const op = o.op;
      const start = performance.now();
      for (let i = 0; i < n; i++) await op();
      const rate = n / ((performance.now() - start) / 1000);
      if (rate > best.get(o.name)!) best.set(o.name, rate);
    }
  }
  return best;
}

const table: Record<string, string | number>[] = [];
function addRows(section: string, results: Measured[], baseline: string, tightRates?: Map<string, number>) {
  const base = results.find((r) => r.name === baseline)!;
  for (const r of results) {
    table.push({
      section,
      contender: r.name,
      'ops/s (timed)': Math.round(r.opsPerSec),
      'ops/s (tight loop)': tightRates ? Math.round(tightRates.get(r.name)!) : '—',
      'p50 µs': Number(r.p50us.toFixed(r.p50us < 10 ? 2 : 1)),
      'p99 µs': Number(r.p99us.toFixed(r.p99us < 10 ? 2 : 1)),
      'p50 vs base': Number((r.p50us / base.p50us).toFixed(2)),
      'p99 vs base': Number((r.p99us / base.p99us).toFixed(2)),
      'ops/s vs base': Number((r.opsPerSec / base.opsPerSec).toFixed(2)),
    });
  }
}

const value = sampleVehicle;
const goals: Record<string, string> = {};

// ---------------------------------------------------------------- 1. L1
{
  const cache = createCache({ namespace: `${NS}:l1`, redis: null, logger: false });
  await cache.set('k', value, { ttl: '1h' });
  const map = new Map<string, unknown>([['k', value]]);
  const ops: Op[] = [
    { name: 'Map.get (awaited)', op: () => map.get('k') },
    { name: 'L1 cache.get', op: () => cache.get('k') },
    { name: 'L1 cache.getOrSet', op: () => cache.getOrSet('k', () => value) },
  ];
  const results = await measure(ops, 200_000);
  const rates = await tight(ops, 1_000_000);
  addRows('L1 hit', results, 'Map.get (awaited)', rates);
  const l1 = Math.min(rates.get('L1 cache.get')!, rates.get('L1 cache.getOrSet')!);
  goals['L1 hit > 1M ops/s'] = `${l1 > 1_000_000 ? 'met' : 'MISSED'} (${Math.round(l1).toLocaleString('en-US')} ops/s)`;
  await cache.close();
}

// ---------------------------------------------------------------- 2. L2
{
  const client = new Redis(REDIS_URL); // shared by the raw GETs and the caches
  const cache = createCache({ namespace: `${NS}:l2`, redis: client, logger: false, l1: false });
  // L1 on, one entry: reading 'a' and 'b' in turn, every read misses L1, hits Redis and fills L1.
  const withL1 = createCache({ namespace: `${NS}:l2`, redis: client, logger: false, l1: { max: 1 } });
  if (!(await cache.ready(5_000)) || !(await withL1.ready(5_000)))
    throw new Error(`Redis at ${REDIS_URL} is not reachable`);
  for (const k of ['k', 'a', 'b']) await cache.set(k, value, { ttl: '1h' });
  const redisKey = `${NS}:l2~v:k`; // the cache's key layout (l2.ts)
  const json = (s: string) => s.slice(s.indexOf('|', s.indexOf('|') + 1) + 1);
  const stored = await client.get(redisKey);
  const other = await client.get(`${NS}:l2~v:a`);
  if (stored === null || other === null || json(stored) !== json(other) || stored.length !== other.length) {
    throw new Error('the cached value is not where the bench expects it');
  }
  let turn = 0;
  const ab = () => {
    turn ^= 1;
    return turn === 0 ? 'a' : 'b';
  };
  const ops: Op[] = [
    { name: 'raw ioredis GET', op: () => client.get(redisKey) },
    { name: 'raw GET + decode', op: async () => decode(json((await client.get(redisKey))!)) },
    { name: 'L2 cache.get (l1: false)', op: () => cache.get('k') },
    { name: 'L2 cache.getOrSet (l1: false)', op: () => cache.getOrSet('k', () => value, { ttl: '1h' }) },
    { name: 'L1 miss, L2 hit: get (L1 on)', op: () => withL1.get(ab()) },
    { name: 'L1 miss, L2 hit: getOrSet (L1 on)', op: () => withL1.getOrSet(ab(), () => value, { ttl: '1h' }) },
  ];
  const before = [cache.stats(), withL1.stats()];
  const results = await measure(ops, L2_SAMPLES);
  const after = [cache.stats(), withL1.stats()];
  if (after[0]!.l1.entries !== 0 || after[1]!.l1.hits !== before[1]!.l1.hits || after[1]!.loader.calls !== 0) {
    throw new Error('L1 served hits (or the loader ran): not an L2 benchmark');
  }
  addRows('L2 hit', results, 'raw ioredis GET');
  const base = results.find((r) => r.name === 'raw ioredis GET')!;
  for (const name of ['L2 cache.get (l1: false)', 'L2 cache.getOrSet (l1: false)']) {
    const r = results.find((x) => x.name === name)!;
    const p50 = r.p50us / base.p50us;
    const p99 = r.p99us / base.p99us;
    goals[`${name} within 1.2x raw GET`] =
      `${p50 <= 1.2 && p99 <= 1.2 ? 'met' : 'MISSED'} (p50 ${p50.toFixed(2)}x, p99 ${p99.toFixed(2)}x)`;
  }
  for (const name of ['L1 miss, L2 hit: get (L1 on)', 'L1 miss, L2 hit: getOrSet (L1 on)']) {
    const r = results.find((x) => x.name === name)!;
    const p50 = r.p50us / base.p50us;
    const p99 = r.p99us / base.p99us;
    goals[`${name} within 1.2x raw GET (extra)`] =
      `${p50 <= 1.2 && p99 <= 1.2 ? 'met' : 'MISSED'} (p50 ${p50.toFixed(2)}x, p99 ${p99.toFixed(2)}x)`;
  }
  await cache.clear();
  await Promise.all([cache.close(), withL1.close()]);
  await client.quit();
}

// ------------------------------------------------- 3. cached repository
{
  const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('drop database if exists ferry_bench_cache with (force)');
  await admin.query('create database ferry_bench_cache');
  const url = new URL(adminUrl);
  url.pathname = '/ferry_bench_cache';
  const ferry = await connect({ schema, url: url.href, pool: { max: 10 } });
  try {
    await (ferry as Ferry<unknown>).createSchema();
    await sql
      .raw(`insert into users (telegram_id, username, first_name, language_code)
        select 5000000 + g, 'user_' || g, 'First ' || g, 'en' from generate_series(1, 10000) g`)
      .execute(ferry.db);
    const repo = ferry.repo(schema.users);
    const cache = createCache({ namespace: `${NS}:repo`, redis: REDIS_URL, logger: false });
    const l2only = createCache({ namespace: `${NS}:repo2`, redis: REDIS_URL, logger: false, l1: false });
    await Promise.all([cache.ready(5_000), l2only.ready(5_000)]);
    const cached = cachedRepository(repo, cache, { ttl: '1h' });
    const cachedL2 = cachedRepository(repo, l2only, { ttl: '1h' });
    const KEYS = 1_000; // a working set that fits L1 (default 10,000 entries)
    let n = 0;
    const nextId = () => {
      n = (n * 7919 + 1) % KEYS;
      return n + 1;
    };
    for (let id = 1; id <= KEYS; id++) {
      await cached.get(id);
      await cachedL2.get(id);
    }
    const results = await measure(
      [
        { name: 'repo.get (Postgres)', op: () => repo.get(nextId()) },
        { name: 'cached get (L1 + Redis)', op: () => cached.get(nextId()) },
        { name: 'cached get (Redis only)', op: () => cachedL2.get(nextId()) },
      ],
      20_000,
    );
    addRows('repository get', results, 'repo.get (Postgres)');
    const base = results.find((r) => r.name === 'repo.get (Postgres)')!;
    for (const name of ['cached get (L1 + Redis)', 'cached get (Redis only)']) {
      const r = results.find((x) => x.name === name)!;
      const x = r.opsPerSec / base.opsPerSec;
      const label = name.includes('Redis only') ? `${name} >= 5x repo.get (extra: L1 off)` : `${name} >= 5x repo.get`;
      goals[label] =
        `${x >= 5 ? 'met' : 'MISSED'} (${x.toFixed(1)}x ops/s, p50 ${(base.p50us / r.p50us).toFixed(1)}x faster)`;
    }
    await cache.clear();
    await l2only.clear();
    await Promise.all([cache.close(), l2only.close()]);
  } finally {
    await ferry.close();
    await admin.query('drop database if exists ferry_bench_cache with (force)');
    await admin.end();
  }
}
// The lease counters survive clear() by design (tokens are never reused); a bench leaves nothing behind.
{
  const r = new Redis(REDIS_URL);
  const keys = await r.keys(`${NS}*`);
  if (keys.length > 0) await r.del(...keys);
  await r.quit();
}

printTable(`cache: sequential awaited calls, ${ROUNDS} interleaved chunks per contender`, table);
printTable(
  'goals (issue 5)',
  Object.entries(goals).map(([goal, result]) => ({ goal, result })),
);
saveResult('cache', { table, goals });
