/**
 * A raw Redis client for a session test file, and the key prefixes its stores
 * used: every key under them is deleted after the file.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** Call once at a test file's top level; push each store's prefix to `prefixes`. */
export function redisAdmin(): { readonly client: Redis; prefixes: string[] } {
  const state = { client: undefined as unknown as Redis, prefixes: [] as string[] };
  beforeAll(async () => {
    state.client = new Redis(REDIS_URL);
    await state.client.ping();
  });
  afterAll(async () => {
    for (const p of state.prefixes) {
      const keys = await state.client.keys(`${p}:*`);
      if (keys.length) await state.client.del(...keys);
    }
    await state.client.quit();
  });
  return state;
}
