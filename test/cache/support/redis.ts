/**
 * Helpers for cache tests against the shared Redis (REDIS_URL or
 * 127.0.0.1:6379), or, inside a `describeEachRedis` suite
 * (test/support/redis-targets.ts), against that suite's target: `makeCache`,
 * `rawRedis`, `valueKey` and the cleanup follow it.
 */
import { randomBytes } from 'node:crypto';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, afterEach } from 'vitest';
import { type Cache, type CacheOptions, createCache } from '../../../src/cache/index.js';
import { currentRedis } from '../../support/redis-targets.js';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** The URL caches of the current test use: the suite's target, else REDIS_URL. */
export const redisUrl = (): string => currentRedis()?.url() ?? REDIS_URL;

/** A namespace no other test (or test file) uses. */
export function uniqueNamespace(label = 't'): string {
  return `ferrytest:${label}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** The Redis key of a cached value (the layout of src/cache/leases.ts; a hash tag on a cluster). */
export const valueKey = (ns: string, key: string): string =>
  currentRedis()?.target === 'cluster' ? `{${ns}}~v:${key}` : `${ns}~v:${key}`;

/** The pub/sub channel of a namespace (a sharded one on a cluster). */
export const busChannel = (ns: string): string => (currentRedis()?.target === 'cluster' ? `{${ns}}~bus` : `${ns}~bus`);

/** A raw client for inspecting Redis (the suite's target's, or one on REDIS_URL closed after the file). */
let raw: Redis | undefined;
export function rawRedis(): Redis {
  const target = currentRedis();
  if (target) return target.raw() as Redis;
  raw ??= new Redis(REDIS_URL, { lazyConnect: false });
  return raw;
}

/** Delete every key of a namespace (values, leases, the token counter) — and of namespaces it prefixes. */
export async function dropNamespace(ns: string): Promise<void> {
  const r = rawRedis() as Redis | Cluster;
  const cluster = 'isCluster' in r && r.isCluster;
  const nodes = cluster ? (r as Cluster).nodes('master') : [r as Redis];
  for (const node of nodes) {
    for (const pattern of cluster ? [`{${ns}*`] : [`${ns}*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (!cluster && keys.length) await r.unlink(...keys);
        // One slot per UNLINK on a cluster (`{ns}*` also matches namespaces that `ns` prefixes).
        else if (keys.length) await Promise.all(keys.map((k) => r.unlink(k)));
      } while (cursor !== '0');
    }
  }
}

/**
 * Caches made with `makeCache` are closed and their namespaces dropped after
 * each test; the raw client after the file.
 */
const made: Cache[] = [];
const namespaces = new Set<string>();
export async function makeCache(options: Partial<CacheOptions> & { namespace: string }): Promise<Cache> {
  const cache = createCache({ redis: redisUrl(), logger: false, ...options });
  made.push(cache);
  namespaces.add(options.namespace);
  return cache;
}

export function autoCleanup(): void {
  afterEach(async () => {
    await Promise.all(made.splice(0).map((c) => c.close()));
    for (const ns of namespaces) await dropNamespace(ns);
    namespaces.clear();
  });
  afterAll(async () => {
    await raw?.quit();
    raw = undefined;
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until `fn` returns true (or throw after `timeoutMs`). */
export async function eventually(
  fn: () => boolean | Promise<boolean>,
  timeoutMs = 3_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}
