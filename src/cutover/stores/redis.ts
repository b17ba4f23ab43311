/**
 * Redis keys under one prefix as a cutover store (seeds 001 and 004: caches
 * and sessions that lived only in Redis, with TTLs).
 *
 *   const redis = new Redis(process.env.REDIS_URL);          // the app's own client (ioredis)
 *   const old = redisStore<Snapshot>(redis, { prefix: 'price:', type: 'json', ttl: '30m' });
 *   await old.put('card-42:2026-12-03', snapshot);           // SET price:card-42:2026-12-03 '{…}' PX 1800000
 *
 * `type`:
 * - `json` (default): a string value holding JSON (GET/SET; what most apps
 *   cache). RedisJSON's JSON.SET is not used: it is rarely installed.
 * - `string`: a plain string value, stored and returned as it is.
 * - `hash`: an object of fields (HGETALL / DEL+HSET in one script, so a
 *   reader never sees half a hash). Field values come back as strings, as
 *   Redis holds them; objects are written as JSON.
 *
 * TTLs: `ttl` sets the same one on every put (`SET … PX`, `PEXPIRE`);
 * `ttlOf(value)` computes one per value (a session's `expires_at`); when
 * neither applies (no option, or ttlOf returned undefined) a put keeps the
 * key's current TTL (`SET … KEEPTTL`, or PTTL re-applied to a hash), so
 * writing through the store never makes a cache entry immortal.
 *
 * `list()` pages through the prefix with SCAN (never KEYS, which blocks the
 * server), COUNT 1000 per step (`TYPE`-filtered, Redis 6+), and fetches
 * values in pipelines; a key that expires meanwhile is skipped. The keys
 * already yielded are remembered (SCAN may return one twice), so a listing
 * holds the key names, not the values, of the whole prefix. Puts without a
 * TTL use `SET … KEEPTTL` (Redis 6+). The client is the app's: `close()`
 * does not quit it.
 */
import type { Redis } from 'ioredis';
import { type Duration, toMs } from '../../duration.js';
import { FerryError } from '../../errors.js';
import { E_CUTOVER_CONFIG, E_CUTOVER_STORE } from '../errors.js';
import type { CutoverStore, StoreEntry } from '../store.js';

export interface RedisStoreOptions<V> {
  /** Prepended to every key (`session:`); list() scans only these keys. */
  prefix: string;
  /** How a value is held: `json` (default), `string` or `hash`. */
  type?: 'string' | 'hash' | 'json';
  /** TTL of every key written (ms or e.g. '30m'). */
  ttl?: Duration;
  /** TTL of the key for this value; undefined keeps the key's current TTL, 0 or less expires it at once. Beats `ttl`. */
  ttlOf?: (value: V) => Duration | undefined;
  /** SCAN COUNT hint of list() (default 1000). */
  scanCount?: number;
  label?: string;
}

/**
 * KEYS[1] the key; ARGV[1] the TTL in ms (0 = keep the current one); ARGV[2..] field, value, ...
 * Replaces the whole hash atomically: a reader never sees old and new fields mixed.
 */
const PUT_HASH = `
local ttl = tonumber(ARGV[1])
if ttl == 0 then ttl = redis.call('PTTL', KEYS[1]) end
redis.call('DEL', KEYS[1])
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

export function redisStore<V = unknown>(redis: Redis, options: RedisStoreOptions<V>): CutoverStore<V> {
  if (!redis || typeof (redis as { scan?: unknown }).scan !== 'function') {
    throw new FerryError(E_CUTOVER_CONFIG, 'redisStore(redis, options): pass an ioredis client (new Redis(url)).');
  }
  const prefix = options?.prefix;
  if (typeof prefix !== 'string' || prefix === '') {
    throw new FerryError(
      E_CUTOVER_CONFIG,
      "redisStore(): `prefix` is required (e.g. 'session:'): list() scans only the keys under it.",
    );
  }
  const type = options.type ?? 'json';
  if (!['string', 'hash', 'json'].includes(type)) {
    throw new FerryError(
      E_CUTOVER_CONFIG,
      `redisStore(): type must be 'string', 'hash' or 'json', got ${JSON.stringify(type)}.`,
    );
  }
  const label = options.label ?? `redis(${prefix}*)`;
  const fixedTtl = options.ttl === undefined ? undefined : ttlMs(options.ttl, label);
  if (options.ttlOf !== undefined && typeof options.ttlOf !== 'function') {
    throw new FerryError(E_CUTOVER_CONFIG, `${label}: ttlOf must be a function (value) => Duration | undefined.`);
  }
  const scanCount = options.scanCount ?? 1000;
  const match = `${escapeGlob(prefix)}*`;

  const fail = (operation: 'get' | 'put' | 'delete' | 'list', key: string | undefined, err: unknown) => {
    if (err instanceof FerryError) return err;
    const what = key === undefined ? operation : `${operation} of key "${prefix}${key}"`;
    const reason = (err as Error)?.message ?? String(err);
    const advice = /WRONGTYPE/.test(reason)
      ? `the key holds another Redis type than the store's type '${type}': give the store the right type, or a prefix only its keys use`
      : 'check that Redis is up and reachable';
    return new FerryError(E_CUTOVER_STORE, `${label}: ${what} failed: ${reason}. ${advice}.`, {
      cause: err,
      details: { store: label, key, operation },
    });
  };

  const decode = (key: string, raw: unknown): V | undefined => {
    if (type === 'hash') {
      const fields = raw as Record<string, string> | null;
      return fields && Object.keys(fields).length > 0 ? ({ ...fields } as V) : undefined;
    }
    if (raw === null || raw === undefined) return undefined;
    if (type === 'string') return raw as V;
    try {
      return JSON.parse(raw as string) as V;
    } catch {
      throw new FerryError(
        E_CUTOVER_STORE,
        `${label}: key "${prefix}${key}" does not hold JSON. Use type 'string' for plain strings, or a prefix only JSON values use.`,
        { details: { store: label, key, operation: 'get' } },
      );
    }
  };

  const ttlFor = (value: V): number | undefined => {
    const own = options.ttlOf?.(value);
    if (own === undefined) return fixedTtl;
    // A value already past its expiry (a session's expires_at) is written to expire at once, not refused.
    return typeof own === 'number' && own <= 0 ? 1 : Math.max(1, toMs(own, `${label}: ttlOf()`, E_CUTOVER_CONFIG));
  };

  return {
    label,
    async get(key) {
      let raw: unknown;
      try {
        raw = type === 'hash' ? await redis.hgetall(prefix + key) : await redis.get(prefix + key);
      } catch (err) {
        throw fail('get', key, err);
      }
      return decode(key, raw);
    },
    async put(key, value) {
      const ttl = ttlFor(value);
      try {
        if (type === 'hash') {
          if (typeof value !== 'object' || value === null || Array.isArray(value)) {
            throw new FerryError(
              E_CUTOVER_STORE,
              `${label}: put of key "${prefix}${key}": a hash value must be an object of fields.`,
              {
                details: { store: label, key, operation: 'put' },
              },
            );
          }
          const args: string[] = [];
          for (const [f, v] of Object.entries(value)) {
            if (v === undefined) continue;
            args.push(f, typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));
          }
          await redis.eval(PUT_HASH, 1, prefix + key, String(ttl ?? 0), ...args);
          return;
        }
        const text = type === 'string' ? value : JSON.stringify(value);
        if (typeof text !== 'string') {
          const want = type === 'string' ? 'a string' : 'JSON (not undefined or a function)';
          throw new FerryError(E_CUTOVER_STORE, `${label}: put of key "${prefix}${key}": the value is not ${want}.`, {
            details: { store: label, key, operation: 'put' },
          });
        }
        if (ttl === undefined) await redis.set(prefix + key, text, 'KEEPTTL');
        else await redis.set(prefix + key, text, 'PX', ttl);
      } catch (err) {
        throw fail('put', key, err);
      }
    },
    async delete(key) {
      try {
        await redis.del(prefix + key);
      } catch (err) {
        throw fail('delete', key, err);
      }
    },
    async *list(opts): AsyncIterable<StoreEntry<V>> {
      // SCAN may return a key twice (when the table is rehashed mid-scan): each key is yielded once.
      const seen = new Set<string>();
      let cursor = '0';
      do {
        opts?.signal?.throwIfAborted();
        let keys: string[];
        let values: [Error | null, unknown][];
        try {
          const [next, batch] = await redis.scan(
            cursor,
            'MATCH',
            match,
            'COUNT',
            scanCount,
            'TYPE',
            type === 'hash' ? 'hash' : 'string',
          );
          cursor = next;
          keys = batch.filter((k) => !seen.has(k));
          if (keys.length === 0) continue;
          const p = redis.pipeline();
          for (const k of keys) {
            if (type === 'hash') p.hgetall(k);
            else p.get(k);
          }
          values = ((await p.exec()) ?? []) as [Error | null, unknown][];
        } catch (err) {
          throw fail('list', undefined, err);
        }
        for (let i = 0; i < keys.length; i++) {
          const full = keys[i] as string;
          const [err, raw] = values[i] ?? [null, null];
          seen.add(full);
          if (err) throw fail('list', full.slice(prefix.length), err);
          const key = full.slice(prefix.length);
          const value = decode(key, raw);
          if (value !== undefined) yield { key, value }; // expired or deleted since the SCAN
        }
      } while (cursor !== '0');
    },
  };
}

function ttlMs(value: Duration, label: string): number {
  const ms = toMs(value, `${label}: ttl`, E_CUTOVER_CONFIG);
  if (!(ms > 0)) throw new FerryError(E_CUTOVER_CONFIG, `${label}: a TTL must be more than 0, got ${String(value)}.`);
  return Math.ceil(ms);
}

/** The prefix as a SCAN MATCH glob that matches only itself (`*?[]\` escaped). */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
