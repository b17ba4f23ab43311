/**
 * The Redis contract-suite helper, after `describeEachBackend`: run the same
 * tests against the shared single Redis (REDIS_URL, default 127.0.0.1:6379)
 * and a Redis Cluster of this file's own (3 masters + 3 replicas on spare
 * loopback ports, started in `beforeAll`, stopped in `afterAll`):
 *
 *   describeEachRedis('cache basics', (t) => {
 *     it('reads what it wrote', async () => {
 *       const cache = createCache({ redis: t.url(), namespace });
 *       await t.raw().get(...);          // an ioredis Redis or Cluster
 *     });
 *   });
 *
 * `FERRY_TEST_REDIS=redis` (or `cluster`) restricts the targets.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { type OwnRedisCluster, startRedisCluster } from './redis-server.js';

export type RedisTarget = 'redis' | 'cluster';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

export const TEST_REDIS_TARGETS: readonly RedisTarget[] = (process.env.FERRY_TEST_REDIS ?? 'redis,cluster')
  .split(',')
  .map((s) => s.trim())
  .filter((s): s is RedisTarget => s === 'redis' || s === 'cluster');

export interface RedisFixture {
  readonly target: RedisTarget;
  /** The URL to give Ferry (`redis+cluster://...` for the cluster); from `beforeAll` on. */
  url(): string;
  /** A raw client on the target for inspecting it (closed after the suite). */
  raw(): Redis | Cluster;
  /** The cluster (failover...), null on a single Redis. */
  cluster(): OwnRedisCluster | null;
}

/** One cluster per test file, shared by its `describeEachRedis` suites, stopped after the file. */
let sharedCluster: Promise<OwnRedisCluster> | undefined;
let stopRegistered = false;

export function describeEachRedis(title: string, fn: (t: RedisFixture) => void): void {
  if (!stopRegistered && TEST_REDIS_TARGETS.includes('cluster')) {
    // Called at a file's top level: the cluster outlives each suite, not the file.
    stopRegistered = true;
    afterAll(async () => {
      const c = sharedCluster;
      sharedCluster = undefined;
      await (await c?.catch(() => undefined))?.stop();
    });
  }
  for (const target of TEST_REDIS_TARGETS) {
    describe(`${title} [${target}]`, () => {
      let url: string | undefined;
      let cluster: OwnRedisCluster | null = null;
      let raw: Redis | Cluster | undefined;
      const fixture: RedisFixture = {
        target,
        url() {
          if (url === undefined) throw new Error('t.url() is only available from beforeAll on');
          return url;
        },
        raw() {
          raw ??=
            target === 'cluster'
              ? new Cluster(cluster!.ports.map((port) => ({ host: '127.0.0.1', port })))
              : new Redis(fixture.url());
          return raw;
        },
        cluster: () => cluster,
      };
      beforeAll(async () => {
        if (target === 'cluster') {
          sharedCluster ??= startRedisCluster();
          cluster = await sharedCluster;
          url = cluster.url;
        } else url = REDIS_URL;
        setCurrentRedis(fixture);
      }, 120_000);
      afterAll(async () => {
        setCurrentRedis(null);
        if (raw) {
          await raw.quit().catch(() => raw!.disconnect());
          raw = undefined;
        }
      });
      fn(fixture);
    });
  }
}

let current: RedisFixture | null = null;
function setCurrentRedis(f: RedisFixture | null): void {
  current = f;
}

/** The fixture of the `describeEachRedis` suite running now, or null outside of one. */
export function currentRedis(): RedisFixture | null {
  return current;
}
