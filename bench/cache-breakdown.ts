/**
 * Where an L2 hit's time goes (companion to cache.bench.ts): the same Redis
 * value read by each step of the cache's hit path added one at a time, on one
 * shared ioredis client, sequential awaited calls, interleaved chunks.
 *
 *   npx tsx bench/cache-breakdown.ts
 */
import { Redis } from 'ioredis';
import { createCache } from '../src/cache/cache.js';
import { decode, deepFreeze } from '../src/cache/codec.js';
import { READ as READ_SCRIPT } from '../src/cache/leases.js';
import { printTable, sampleVehicle } from './lib.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const NS = `ferry-bench-breakdown:${process.pid}`;
const SAMPLES = Number(process.env.SAMPLES ?? 40_000);
const ROUNDS = 10;

const value = sampleVehicle;
const plain = { ...value, decoded_at: value.decoded_at.toISOString(), expires_at: value.expires_at.toISOString() };

const raw = new Redis(REDIS_URL);
const cache = createCache({ namespace: NS, redis: raw, logger: false, l1: false });
const cachePlain = createCache({ namespace: `${NS}p`, redis: raw, logger: false, l1: false });
// L1 on with one entry, two keys read in turn: every read misses L1, hits Redis and fills L1 (decode + freeze + set).
const withL1 = createCache({ namespace: NS, redis: raw, logger: false, l1: { max: 1 } });
await Promise.all([cache.ready(), cachePlain.ready(), withL1.ready()]);
for (const k of ['k', 'a', 'b']) await cache.set(k, value, { ttl: '1h' });
await cachePlain.set('k', plain, { ttl: '1h' });
await raw.script('LOAD', READ_SCRIPT.src);
const key = `${NS}~v:k`;
const stored = (await raw.get(key))!;
const json = stored.slice(stored.indexOf('|', stored.indexOf('|') + 1) + 1);
const OFF = stored.length - json.length;
let turn = 0;

const steps: { name: string; op: () => unknown }[] = [
  { name: '1 raw GET', op: () => raw.get(key) },
  { name: '2 GET + JSON.parse', op: async () => JSON.parse((await raw.get(key))!.slice(OFF)) },
  { name: '3 GET + decode (Date tags restored)', op: async () => decode((await raw.get(key))!.slice(OFF)) },
  { name: '4 GET + decode + deepFreeze', op: async () => deepFreeze(decode((await raw.get(key))!.slice(OFF))) },
  {
    name: '5 EVALSHA READ (the miss path)',
    op: () => raw.evalsha(READ_SCRIPT.sha, 3, key, `${NS}~l:k`, `${NS}~seq`, 10_000, '0'),
  },
  { name: '6 cache.get, l1: false, no Dates', op: () => cachePlain.get('k') },
  { name: '7 cache.get, l1: false', op: () => cache.get('k') },
  { name: '8 cache.getOrSet, l1: false', op: () => cache.getOrSet('k', () => value, { ttl: '1h' }) },
  {
    name: '9 cache.get, L1 miss + fill',
    op: () => {
      turn ^= 1;
      return withL1.get(turn === 0 ? 'a' : 'b');
    },
  },
];

// CPU-only costs, no I/O: per call, µs.
function cpu(name: string, fn: () => unknown, n = 200_000): { name: string; us: number } {
  for (let i = 0; i < 10_000; i++) fn();
  const t = performance.now();
  for (let i = 0; i < n; i++) fn();
  return { name, us: ((performance.now() - t) * 1000) / n };
}
const cpuRows = [
  cpu('JSON.parse(json)', () => JSON.parse(json)),
  cpu('decode(json) (Date tags restored)', () => decode(json)),
  cpu('deepFreeze(decode(json))', () => deepFreeze(decode(json))),
];

const lat = new Map<string, number[]>(steps.map((s) => [s.name, []]));
for (const s of steps) for (let i = 0; i < 2_000; i++) await s.op();
for (let r = 0; r < ROUNDS; r++) {
  for (const s of r % 2 === 0 ? steps : [...steps].reverse()) {
    const out = lat.get(s.name)!;
    for (let i = 0; i < SAMPLES / ROUNDS; i++) {
      const t = performance.now();
      await s.op();
      out.push((performance.now() - t) * 1000);
    }
  }
}
const rows = steps.map((s) => {
  const xs = lat.get(s.name)!.sort((a, b) => a - b);
  const pct = (p: number) => xs[Math.floor(xs.length * p)]!;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    step: s.name,
    'p50 µs': Number(pct(0.5).toFixed(1)),
    'p99 µs': Number(pct(0.99).toFixed(1)),
    'mean µs': Number(mean.toFixed(1)),
  };
});
const base = rows[0]!;
printTable(
  `L2 hit, step by step (${SAMPLES} sequential samples each)`,
  rows.map((r) => ({
    ...r,
    'p50 vs GET': Number((r['p50 µs'] / base['p50 µs']).toFixed(2)),
    'p99 vs GET': Number((r['p99 µs'] / base['p99 µs']).toFixed(2)),
  })),
);
printTable(
  'CPU per call (no I/O)',
  cpuRows.map((r) => ({ step: r.name, 'µs/call': Number(r.us.toFixed(2)) })),
);

await Promise.all([cache.clear(), cachePlain.clear()]);
await Promise.all([cache.close(), cachePlain.close(), withL1.close()]);
const left = await raw.keys(`${NS}*`);
if (left.length > 0) await raw.del(...left);
await raw.quit();
