/**
 * "A URL or an ioredis client or nothing": how every Redis-backed part of
 * `src/cache` (rate limits, sessions) is told where Redis is.
 *
 * - a string: `redis://`, `rediss://` (TLS: Upstash's Redis endpoint works like
 *   any Redis over TLS) or `unix://`; Ferry creates the client with short
 *   timeouts and owns it (closes it in `close()`);
 * - an ioredis client: used as is and never closed by Ferry;
 * - `null` / `false`: no Redis, in-process only;
 * - `undefined`: `REDIS_URL` when set, else no Redis.
 *
 * URLs are only ever shown redacted (`redis://:****@host:6379`).
 */
import { Redis, type RedisOptions } from 'ioredis';
import { redactUrl } from '../db/url.js';
import { FerryError } from '../errors.js';

/** The Redis URL is not one Ferry understands (`redis://`, `rediss://`, `unix://`). */
export const E_REDIS_URL = 'E_REDIS_URL';

export type RedisInput = string | Redis | null | false | undefined;

export interface RedisConnection {
  readonly client: Redis;
  /** Ferry created the client (from a URL) and closes it. */
  readonly owned: boolean;
  /** The URL with its password masked, or `'(ioredis client)'`. */
  readonly shown: string;
  /** Quit an owned client (waits for pending replies, then disconnects); a caller's client is left alone. */
  close(): Promise<void>;
}

export interface RedisClientOptions {
  /** Fail a command that got no reply within this many ms (queued ones included). Default 500. */
  commandTimeoutMs?: number;
  /** Give up a connection attempt after this many ms. Default 2000. */
  connectTimeoutMs?: number;
  /** Longest pause between reconnection attempts, ms. Default 2000. */
  maxReconnectDelayMs?: number;
  /** Extra ioredis options for clients Ferry creates. */
  ioredis?: RedisOptions;
}

const REDIS_SCHEME = /^(rediss?|unix):\/\//i;

/** True when `value` looks like an ioredis client (duck-typed so a second copy of ioredis still works). */
export function isRedisClient(value: unknown): value is Redis {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).evalsha === 'function' &&
    typeof (value as Redis).status === 'string'
  );
}

/** Resolve `input` (see the module comment) to a connection, or `null` for no Redis. */
export function resolveRedis(input: RedisInput, options: RedisClientOptions = {}): RedisConnection | null {
  let source: RedisInput = input;
  if (source === undefined) source = process.env.REDIS_URL?.trim() || null;
  if (source === null || source === false) return null;
  if (isRedisClient(source)) {
    const client = source;
    watchRedis(client);
    return { client, owned: false, shown: '(ioredis client)', close: async () => {} };
  }
  if (typeof source !== 'string') {
    throw new FerryError(
      E_REDIS_URL,
      `redis must be a URL (redis://, rediss://), an ioredis client or null, got ${typeof source}.`,
    );
  }
  const url = source.trim();
  const shown = redactUrl(url);
  if (!REDIS_SCHEME.test(url)) {
    throw new FerryError(
      E_REDIS_URL,
      `Unsupported Redis URL "${shown}": use redis://[user:password@]host:port[/db], rediss://... for TLS, or pass an ioredis client.`,
      { details: { url: shown } },
    );
  }
  const commandTimeout = options.commandTimeoutMs ?? 500;
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  const client = new Redis(url, {
    connectTimeout: options.connectTimeoutMs ?? 2000,
    commandTimeout,
    // Queue while (re)connecting, but never longer than commandTimeout, and
    // do not replay a command on several reconnections.
    enableOfflineQueue: true,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), maxDelay),
    ...options.ioredis,
  });
  // Failures surface through the commands that fail; without a listener
  // ioredis would print every reconnection error.
  client.on('error', () => {});
  watchRedis(client);
  return {
    client,
    owned: true,
    shown,
    close: async () => {
      if (client.status === 'end') return;
      // quit() waits for the server when connected; when Redis is gone it
      // would wait forever, so disconnect instead.
      if (client.status === 'ready') {
        await Promise.race([client.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
      }
      client.disconnect();
    },
  };
}

const health = new WeakMap<Redis, { down: boolean }>();

/** Track whether `client` has lost its connection (idempotent; called for every client the cache modules use). */
export function watchRedis(client: Redis): void {
  if (health.has(client)) return;
  const state = { down: false };
  health.set(client, state);
  client.on('error', () => {
    state.down = true;
  });
  client.on('close', () => {
    state.down = true;
  });
  client.on('ready', () => {
    state.down = false;
  });
}

/**
 * Whether a command sent now has a chance: the connection is ready, or it is
 * still making its first attempt. Once a connection failed, commands skip
 * Redis until it is ready again (instead of each waiting out a timeout).
 */
export function redisUsable(client: Redis): boolean {
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
