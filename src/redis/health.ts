/**
 * Whether a Redis client is worth sending a command to right now, and a
 * timeout for calls whose driver has none of its own (sessions, rate limits).
 */
import type { RedisLike } from './connection.js';

const health = new WeakMap<RedisLike, { down: boolean; lastError: string | null }>();

/** Track whether `client` has lost its connection (idempotent). */
export function watchRedis(client: RedisLike): void {
  if (health.has(client)) return;
  const state: { down: boolean; lastError: string | null } = { down: false, lastError: null };
  health.set(client, state);
  client.on('error', (err: unknown) => {
    state.down = true;
    state.lastError = err instanceof Error ? err.message : String(err);
  });
  client.on('close', () => {
    state.down = true;
  });
  client.on('ready', () => {
    state.down = false;
    state.lastError = null;
  });
}

/** The last connection error of a watched client since it was last ready (for health reports), else null. */
export function redisLastError(client: RedisLike): string | null {
  return health.get(client)?.lastError ?? null;
}

/**
 * Whether a command sent now has a chance: the connection is ready, or it is
 * still making its first attempt. Once a connection failed, commands skip
 * Redis until it is ready again (instead of each waiting out a timeout).
 */
export function redisUsable(client: RedisLike): boolean {
  const s = client.status;
  if (s === 'ready') return true;
  if (s === 'end' || s === 'close' || s === 'reconnecting') return false;
  return !health.get(client)?.down;
}

/** Race `promise` against a timer; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
