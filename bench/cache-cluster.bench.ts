/**
 * Issue 19 (Redis Cluster): a cache read on a Redis Cluster vs on a single
 * Redis, in one run — goal: cache `get` p50 on the cluster within 1.2x the
 * single Redis's.
 *
 * Like with like: both are servers of this bench's own on loopback (a single
 * redis-server, and a 3 masters + 3 replicas cluster, test/support/redis-server.ts),
 * not the shared Redis at 6379 that other processes use; both caches have
 * `l1: false`, so every `get` is a Redis read (checked: no L1 hit, no loader
 * call); each reads keys spread over the namespace. On the cluster a
 * namespace lives in one slot (its hash tag), so every read of it goes to
 * one master: the cluster's cost is the client's slot routing. Raw ioredis
 * GETs (`Redis` vs `Cluster`) are shown for reference. Contenders are
 * interleaved in chunks (A, B, A, B, ...) so machine noise hits each alike.
 *
 * Run: `npm run bench -- cache-cluster`.
 */
import { Cluster, Redis } from 'ioredis';
import { createCache } from '../src/cache/cache.js';
import { startRedisCluster, startRedisServer } from '../test/support/redis-server.js';
import { printTable, sampleVehicle, saveResult } from './lib.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const SAMPLES = Number(process.env.BENCH_L2_SAMPLES ?? 40_000);
const KEYS = 100;

interface Op {
  name: string;
  op: () => unknown;
}

async function measure(ops: Op[], samples: number) {
  const lat = new Map<string, number[]>(ops.map((o) => [o.name, []]));
  for (const o of ops) for (let i = 0; i < Math.min(2_000, samples); i++) await o.op(); // warm up
  const chunk = Math.ceil(samples / ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const o of r % 2 === 0 ? ops : [...ops].reverse()) {
      const out = lat.get(o.name)!;
      for (let i = 0; i < chunk; i++) {
        const t = performance.now();
        await o.op();
        out.push((performance.now() - t) * 1000);
      }
    }
  }
  return new Map(
    ops.map((o) => {
      const xs = lat.get(o.name)!.sort((a, b) => a - b);
      const pct = (p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
      return [o.name, { p50us: pct(0.5), p99us: pct(0.99) }];
    }),
  );
}

const single = await startRedisServer();
const cluster = await startRedisCluster();
try {
  const ns = `ferry-bench-cluster-${process.pid}`;
  const onSingle = createCache({ namespace: ns, redis: single.url, logger: false, l1: false });
  const onCluster = createCache({ namespace: ns, redis: cluster.url, logger: false, l1: false });
  if (!(await onSingle.ready(10_000)) || !(await onCluster.ready(10_000))) throw new Error('a cache did not connect');
  for (let i = 0; i < KEYS; i++) {
    await onSingle.set(`k${i}`, sampleVehicle, { ttl: '1h' });
    await onCluster.set(`k${i}`, sampleVehicle, { ttl: '1h' });
  }
  const rawSingle = new Redis(single.url);
  const rawCluster = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
  await rawSingle.ping();
  await rawCluster.get(`{${ns}}~v:k0`);
  /** Each contender's own walk over the keys. */
  const walk = () => {
    let i = 0;
    return () => {
      i = (i + 1) % KEYS;
      return `k${i}`;
    };
  };
  const [a, b, c, d] = [walk(), walk(), walk(), walk()];
  const ops: Op[] = [
    { name: 'cache.get, single Redis', op: () => onSingle.get(a()) },
    { name: 'cache.get, Redis Cluster', op: () => onCluster.get(b()) },
    { name: 'raw GET, ioredis Redis', op: () => rawSingle.get(`${ns}~v:${c()}`) },
    { name: 'raw GET, ioredis Cluster', op: () => rawCluster.get(`{${ns}}~v:${d()}`) },
  ];
  const results = await measure(ops, SAMPLES);
  for (const cache of [onSingle, onCluster]) {
    const s = cache.stats();
    if (s.l1.hits !== 0 || s.loader.calls !== 0 || s.l2.hits < SAMPLES)
      throw new Error('not every read was a Redis hit');
  }
  const base = results.get('cache.get, single Redis')!;
  const table = ops.map(({ name }) => {
    const r = results.get(name)!;
    return {
      contender: name,
      'p50 µs': Number(r.p50us.toFixed(1)),
      'p99 µs': Number(r.p99us.toFixed(1)),
      'p50 vs cache.get single': Number((r.p50us / base.p50us).toFixed(2)),
      'p99 vs cache.get single': Number((r.p99us / base.p99us).toFixed(2)),
    };
  });
  const ratio = results.get('cache.get, Redis Cluster')!.p50us / base.p50us;
  const goals = {
    'cache.get p50 on a cluster within 1.2x a single Redis': `${ratio <= 1.2 ? 'met' : 'MISSED'} (${ratio.toFixed(2)}x)`,
  };
  printTable(`cache on a Redis Cluster vs a single Redis (l1: false), ${SAMPLES} sequential gets each`, table);
  for (const [goal, verdict] of Object.entries(goals)) console.log(`${goal}: ${verdict}`);
  saveResult('cache-cluster', { table, goals });
  await Promise.all([onSingle.close(), onCluster.close()]);
  await rawSingle.quit();
  await rawCluster.quit();
} finally {
  await cluster.stop();
  await single.stop();
}
