/** Helpers for cache tests against the shared Redis (REDIS_URL or 127.0.0.1:6379). */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach } from 'vitest';
import { type Cache, type CacheOptions, createCache } from '../../../src/cache/index.js';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** A namespace no other test (or test file) uses. */
export function uniqueNamespace(label = 't'): string {
  return `ferrytest:${label}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/** The Redis key of a cached value (the layout of src/cache/leases.ts). */
export const valueKey = (ns: string, key: string): string => `${ns}~v:${key}`;

/** A raw client for inspecting Redis; closed after the file. */
let raw: Redis | undefined;
export function rawRedis(): Redis {
  raw ??= new Redis(REDIS_URL, { lazyConnect: false });
  return raw;
}

/** Delete every key of a namespace (values, leases, the token counter) — and of namespaces it prefixes. */
export async function dropNamespace(ns: string): Promise<void> {
  const r = rawRedis();
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${ns}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await r.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * Caches made with `makeCache` are closed and their namespaces dropped after
 * each test; the raw client after the file.
 */
const made: Cache[] = [];
const namespaces = new Set<string>();
export async function makeCache(options: Partial<CacheOptions> & { namespace: string }): Promise<Cache> {
  const cache = createCache({ redis: REDIS_URL, logger: false, ...options });
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
