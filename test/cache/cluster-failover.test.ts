/**
 * Ferry on a Redis Cluster (3 masters + 3 replicas of this file's own):
 * pub/sub invalidation reaches every instance whichever master serves the
 * namespace, and a master failing over under continuous load from the cache,
 * the session store and the rate limiter fails no request and leaves no stale
 * read once it has settled.
 */
import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache } from '../../src/cache/index.js';
import { createRateLimiter, type RateLimiter } from '../../src/rate-limit/index.js';
import { keySlot } from '../../src/redis/cluster.js';
import { createSessionStore } from '../../src/sessions/index.js';
import { type OwnRedisCluster, startRedisCluster } from '../support/redis-server.js';
import { eventually, sleep } from './support/redis.js';

let cluster: OwnRedisCluster;
let raw: Cluster;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
  raw = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
}, 120_000);

afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  await raw?.quit().catch(() => raw.disconnect());
  await cluster?.stop();
});

function cache(
  namespace: string,
  options: Parameters<typeof createCache>[0] extends infer O ? Partial<O> : never = {},
) {
  const c = createCache({ namespace, redis: cluster.url, logger: false, ...options });
  closers.push(() => c.close());
  return c;
}

/** A name `make(i)` whose hash tag / key lands on the master at `port`. */
async function nameOn(port: number, make: (i: number) => string, slotOf: (name: string) => number): Promise<string> {
  for (let i = 0; i < 100_000; i++) {
    const name = make(i);
    if ((await cluster.masterOf(slotOf(name))) === port) return name;
  }
  throw new Error(`no name found on 127.0.0.1:${port}`);
}

describe('pub/sub invalidation on a cluster', () => {
  it('reaches the other instance’s L1 for namespaces on every master (sharded pub/sub)', async () => {
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    const tag = randomBytes(3).toString('hex');
    for (const master of masters) {
      const port = Number(master.split(':')[1]);
      const ns = await nameOn(
        port,
        (i) => `inv${tag}${i}`,
        (n) => keySlot(`{${n}}`),
      );
      const a = cache(ns);
      const b = cache(ns);
      expect(await a.ready()).toBe(true);
      expect(await b.ready()).toBe(true);
      await a.set('k', 'v1');
      await eventually(async () => (await b.get('k')) === 'v1', 5_000, 'b to read v1');
      expect(await b.get('k')).toBe('v1');
      const hits = b.stats().l1.hits;
      expect(await b.get('k')).toBe('v1');
      expect(b.stats().l1.hits).toBe(hits + 1); // served from b's L1: only the bus can drop it
      await a.set('k', 'v2');
      await eventually(async () => (await b.get('k')) === 'v2', 5_000, `b to see v2 (namespace on ${master})`);
      await a.delete('k');
      await eventually(async () => (await b.get('k')) === undefined, 5_000, 'b to see the delete');
      expect(a.stats().errors + b.stats().errors).toBe(0);
    }
  });
});

const ways = [
  { how: 'CLUSTER FAILOVER on its replica', killed: false },
  // Nothing answers for the slot until the others notice (cluster-node-timeout, 2 s here): the
  // session store (no fallback without persistence) fails meanwhile; the cache and the rate
  // limiter, which fall back to the loader / memory, never do.
  { how: 'its process killed', killed: true },
];

for (const way of ways)
  describe(`a master fails over under load: ${way.how}`, () => {
    it(`${way.killed ? 'no cache or rate-limit request fails, sessions recover' : 'no request fails'}, and nothing stale is read once it has settled`, async () => {
      const tag = randomBytes(3).toString('hex');
      // Everything on one master: the one that fails over.
      const port = await cluster.masterOf(keySlot(`{f${tag}}`));
      const ns = `f${tag}`;
      const user = await nameOn(
        port,
        (i) => `u${tag}${i}`,
        (n) => keySlot(n),
      );
      const rlPrefix = `rl${tag}`;
      const rlKey = await nameOn(
        port,
        (i) => `k${i}`,
        (k) => keySlot(`${rlPrefix}:${k}`),
      );

      const writer = cache(ns);
      const reader = cache(ns);
      const direct = cache(ns, { l1: false });
      const storeA = createSessionStore<{ n: number }>({ redis: cluster.url, ttl: '5m', logger: false });
      const storeB = createSessionStore<{ n: number }>({ redis: cluster.url, ttl: '5m', logger: false });
      closers.push(
        () => storeA.close(),
        () => storeB.close(),
      );
      const limiter: RateLimiter = createRateLimiter({
        redis: cluster.url,
        points: 1_000_000,
        duration: '10m',
        keyPrefix: rlPrefix,
        logger: false,
      });
      closers.push(() => limiter.close());
      for (const c of [writer, reader, direct]) expect(await c.ready()).toBe(true);

      // The truth the cache caches: a counter only the writer advances.
      let truth = 0;
      await writer.set('n', truth);
      const failures: string[] = [];
      const counts = { cache: 0, sessions: 0, rateLimit: 0 };
      let running = true;
      const loop = async (name: keyof typeof counts, op: () => Promise<void>) => {
        while (running) {
          try {
            await op();
            counts[name]++;
          } catch (err) {
            failures.push(`${name}: ${(err as Error).message}`);
          }
          await new Promise((r) => setImmediate(r));
        }
      };
      const loops = [
        loop('cache', async () => {
          truth++;
          await writer.set('n', truth);
        }),
        loop('cache', async () => {
          await reader.getOrSet('n', () => truth);
        }),
        loop('sessions', async () => {
          const s = await storeA.create(user, { n: 1 });
          const seen = await storeB.get(s.id);
          if (seen?.jti !== s.jti) throw new Error(`session ${s.jti} created on A not read on B`);
          await storeA.revoke(s.id);
          if ((await storeB.get(s.id)) !== null) throw new Error(`session ${s.jti} revoked on A still read on B`);
        }),
        loop('rateLimit', async () => {
          const r = await limiter.consume(rlKey);
          if (!r.allowed) throw new Error('rate limit denied below its budget');
        }),
      ];
      await sleep(300);
      const before = { ...counts };
      const replica = await cluster.replicaOf(port);
      if (way.killed) await cluster.kill(port);
      else await cluster.failover(replica);
      expect(await cluster.masterOf(keySlot(`{${ns}}`))).toBe(replica);
      // Load goes on a while on the new master, then stops: a cache whose breaker
      // opened closes only when no write overtakes its probe's replay (breaker.ts).
      const during = { ...counts };
      await sleep(1_000);
      running = false;
      await Promise.all(loops);
      const state = () => JSON.stringify({ writer: writer.stats(), reader: reader.stats(), direct: direct.stats() });
      await eventually(
        () => [writer, reader, direct].every((c) => c.stats().bus === 'up' && c.stats().breaker === 'closed'),
        20_000,
        'the caches to be back on the new master',
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${state()}`);
      });
      if (way.killed) {
        // Only the sessions failed, with E_SESSION_UNAVAILABLE, while no node served the slot.
        expect(failures.filter((f) => !/^sessions: .*(unavailable|Redis)/i.test(f))).toEqual([]);
      } else expect(failures).toEqual([]);
      // Load really ran through the failover, and after it.
      for (const k of Object.keys(counts) as Array<keyof typeof counts>) {
        expect(during[k]).toBeGreaterThan(before[k]);
        expect(counts[k]).toBeGreaterThan(during[k]);
      }
      // Every consume was decided by Redis (none by the in-memory fallback), and Redis has them all
      // (a killed master may take some to the grave: the limiter counted in memory meanwhile).
      const decided = limiter.stats();
      if (!way.killed) {
        expect(decided.allowed.memory).toBe(0);
        expect(Number(await raw.get(`${rlPrefix}:${rlKey}`))).toBe(decided.allowed.redis);
      }

      // Settling: after the bus came back on the new master, L2 values are not trusted for a
      // quarantine (misses, never stale values); then reads see the last write again.
      // (A write the breaker skipped during the outage left the key invalidated, not written: write once more.)
      await writer.set('n', truth);
      await eventually(
        async () => {
          const v = await direct.get('n');
          if (v !== undefined && v !== truth) throw new Error(`stale read: ${v}, last written ${truth}`);
          return v === truth;
        },
        10_000,
        'L2 reads to be served again',
      );
      // Settled: what one instance writes, the others read (L2 at once; L1 once the bus has told it).
      for (let round = 0; round < 20; round++) {
        truth++;
        await writer.set('n', truth);
        expect(await direct.get('n')).toBe(truth);
        await eventually(async () => (await reader.get('n')) === truth, 5_000, `reader to see ${truth}`);
      }
      const s = await storeA.create(user, { n: 2 });
      expect((await storeB.get(s.id))?.data).toEqual({ n: 2 });
      await storeA.revoke(s.id);
      expect(await storeB.get(s.id)).toBeNull();
    }, 120_000);
  });
