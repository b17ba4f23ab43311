/**
 * `redis({ url, match, type })`: keys of a Redis database (a cache that was
 * the only store). Key names are SCANned first (never KEYS, which blocks the
 * server) and sorted, so the order is the same on every run; values and TTLs
 * are then fetched in pipelined chunks.
 */
import type { Redis } from 'ioredis';
import { redactText, redactUrl } from '../../db/url.js';
import { FerryError } from '../../errors.js';
import { createRedisClient } from '../../redis/connection.js';
import type { Source, SourceLocation, SourceRecord } from '../source.js';
import { optionsError } from './common.js';
import { E_SOURCE_READ } from './errors.js';
import { parseJson } from './json-error.js';

export type RedisValueType = 'string' | 'hash' | 'json' | 'auto';

export interface RedisSourceOptions {
  /** `redis://[:password@]host:port[/db]` (or `rediss://`). */
  url: string;
  /** SCAN MATCH pattern, default `*`. */
  match?: string;
  /**
   * How to read values: `string` (GET, as-is), `json` (GET, parsed; Keyv
   * envelopes unwrapped), `hash` (HGETALL, as objects), `auto` (TYPE per key:
   * strings as-is, hashes as objects, lists/sets/sorted sets as arrays). Default `auto`.
   */
  type?: RedisValueType;
  /**
   * Treat string values as Keyv entries (`{"value":…,"expires":…}`) even with
   * `type: 'auto'`. With `type: 'json'` envelopes are recognised by shape anyway.
   */
  keyv?: boolean;
  /**
   * The Keyv namespace of the keys: \`id\` drops its prefix (\`ns::ns:\` or \`ns:\`), and
   * \`match\` defaults to \`ns:*\`. Without it, \`ns::ns:id\` and \`keyv:id\` are still recognised.
   */
  namespace?: string;
  /** SCAN COUNT hint, default 1000. */
  scanCount?: number;
  /** Keys fetched per pipeline, default 500. */
  chunkSize?: number;
}

export interface RedisRecord {
  /** The full key, as stored. */
  key: string;
  /** The key without a Keyv namespace prefix (`ns::ns:id` or `ns:id` → `id`); `key` when none. */
  id: string;
  /** The Keyv namespace, when the key has one. */
  namespace: string | null;
  /** Redis type: string, hash, list, set, zset. */
  type: string;
  value: unknown;
  /** Remaining time to live when read (so it changes from one read to the next), null when the key never expires. */
  ttlMs: number | null;
  /**
   * When the entry expires, the same on every read: Keyv's `expires`, else
   * the key's absolute expiry from PEXPIRETIME (Redis 7+, to the
   * millisecond). Older servers have no absolute expiry: read time + ttlMs,
   * rounded to the second (two reads can still differ by one second when the
   * expiry is within a few milliseconds of a half second). null when never.
   */
  expiresAt: Date | null;
}

const TYPES: readonly RedisValueType[] = ['string', 'hash', 'json', 'auto'];

export function redis(options: RedisSourceOptions): Source<RedisRecord> {
  if (typeof options?.url !== 'string' || !/^rediss?:\/\//i.test(options.url.trim())) {
    throw optionsError(
      `redis(): \`url\` must be a redis:// or rediss:// URL, got ${
        typeof options?.url === 'string' ? `"${redactUrl(options.url)}"` : String(options?.url)
      }.`,
    );
  }
  const type = options.type ?? 'auto';
  if (!TYPES.includes(type)) {
    throw optionsError(`redis(): \`type\` must be one of ${TYPES.join(', ')}, got ${JSON.stringify(type)}.`);
  }
  const url = options.url.trim();
  const shownUrl = redactUrl(url);
  const ns = options.namespace;
  if (ns !== undefined && (typeof ns !== 'string' || ns === '')) {
    throw optionsError(`redis(): \`namespace\` must be a non-empty string, got ${JSON.stringify(ns)}.`);
  }
  const match = options.match ?? (ns ? `${ns.replace(/[*?[\]\\]/g, '\\$&')}:*` : '*');
  const scanCount = positive(options.scanCount ?? 1000, 'scanCount');
  const chunkSize = positive(options.chunkSize ?? 500, 'chunkSize');
  const label = `redis(${shownUrl} ${match})`;
  const secrets = urlPasswords(url);
  let client: Redis | null = null;
  /** The server has PEXPIRETIME (Redis 7+): expiries are absolute, not read time + TTL. */
  let absolute = false;

  const fail = (what: string, err: unknown): FerryError =>
    new FerryError(
      E_SOURCE_READ,
      `${label}: ${what}: ${redactText((err as Error)?.message ?? String(err), secrets)}. Check that Redis is running at ${shownUrl} and the password is right.`,
      { details: { url: shownUrl } },
    );

  const connect = async (): Promise<Redis> => {
    if (client) return client;
    const c = createRedisClient(url, { mode: 'once', what: 'redis()' });
    c.on('error', () => {}); // reported through the failing command instead
    try {
      await c.connect();
    } catch (err) {
      c.disconnect();
      throw fail('cannot connect', err);
    }
    // Probe the command rather than parse a version: forks (Valkey...) report their own.
    absolute = await c.call('pexpiretime', '\u0000ferry-probe').then(
      () => true,
      () => false,
    );
    client = c;
    return c;
  };

  const scanKeys = async (c: Redis, signal?: AbortSignal): Promise<string[]> => {
    const keys = new Set<string>(); // SCAN may return a key twice
    let cursor = '0';
    do {
      signal?.throwIfAborted();
      const [next, batch] = await c.scan(cursor, 'MATCH', match, 'COUNT', scanCount);
      for (const k of batch) keys.add(k);
      cursor = next;
    } while (cursor !== '0');
    // Code-unit order: stable across runs, unlike SCAN's.
    return [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  };

  return {
    label,
    async *records(opts): AsyncGenerator<SourceRecord<RedisRecord>> {
      const c = await connect();
      let keys: string[];
      try {
        keys = await scanKeys(c, opts?.signal);
      } catch (err) {
        if (opts?.signal?.aborted) throw err;
        throw fail('SCAN failed', err);
      }
      for (let start = 0; start < keys.length; start += chunkSize) {
        opts?.signal?.throwIfAborted();
        const chunk = keys.slice(start, start + chunkSize);
        let fetched: Fetched[];
        try {
          fetched = await fetchChunk(c, chunk, type, absolute);
        } catch (err) {
          throw fail('reading values failed', err);
        }
        const now = Date.now();
        for (let j = 0; j < chunk.length; j++) {
          const key = chunk[j]!;
          const got = fetched[j]!;
          if (got.type === 'none') continue; // expired or deleted since the SCAN
          const loc: SourceLocation = { source: label, key };
          if (got.error) {
            yield { kind: 'error', reason: got.error, loc };
            continue;
          }
          const ttlMs = got.pttl >= 0 ? got.pttl : null;
          let expiresAt: Date | null = null;
          if (got.expireAt !== undefined) expiresAt = got.expireAt >= 0 ? new Date(got.expireAt) : null;
          else if (ttlMs !== null) expiresAt = new Date(Math.round((now + ttlMs) / 1000) * 1000);
          const record: RedisRecord = {
            key,
            ...splitNamespace(key, ns),
            type: got.type,
            value: got.value,
            ttlMs,
            expiresAt,
          };
          if (typeof got.value === 'string' && (type === 'json' || (options.keyv && got.type === 'string'))) {
            const parsed = parseJson(got.value);
            if (!parsed.ok) {
              yield { kind: 'error', reason: `value of key "${key}": ${parsed.reason}`, loc };
              continue;
            }
            record.value = parsed.value;
            const envelope = keyvEnvelope(parsed.value, got.value);
            if (envelope) {
              record.value = envelope.value;
              if (envelope.expires !== null) record.expiresAt = new Date(envelope.expires);
              if (ttlMs === null && envelope.expires !== null) record.ttlMs = Math.max(0, envelope.expires - now);
            }
          }
          yield { kind: 'record', value: record, loc };
        }
      }
    },
    async files() {
      return [];
    },
    async estimate() {
      // DBSIZE is O(1); it counts every key, not just matching ones, so only when matching all.
      if (match !== '*') return {};
      const c = await connect();
      return { records: await c.dbsize() };
    },
    async close() {
      const c = client;
      client = null;
      if (!c) return;
      try {
        await c.quit();
      } catch {
        c.disconnect();
      }
    },
  };
}

/** `expireAt`: PEXPIRETIME's answer (ms since the epoch; -1 none), when asked for. */
type Fetched = { type: string; pttl: number; expireAt?: number; value?: unknown; error?: string };

async function fetchChunk(c: Redis, keys: string[], type: RedisValueType, absolute: boolean): Promise<Fetched[]> {
  let types: string[];
  if (type === 'auto') {
    const res = await c.pipeline(keys.map((k) => ['type', k])).exec();
    types = res!.map(([err, t]) => {
      if (err) throw err;
      return t as string;
    });
  } else {
    types = keys.map(() => (type === 'hash' ? 'hash' : 'string'));
  }
  const p = c.pipeline();
  const stride = absolute ? 3 : 2;
  keys.forEach((k, i) => {
    const t = types[i]!;
    p.pttl(k);
    if (absolute) p.call('pexpiretime', k);
    if (t === 'string') p.get(k);
    else if (t === 'hash') p.hgetall(k);
    else if (t === 'list') p.lrange(k, 0, -1);
    else if (t === 'set') p.smembers(k);
    else if (t === 'zset') p.zrange(k, 0, -1, 'WITHSCORES');
    else p.echo(''); // placeholder keeps replies aligned
  });
  const res = (await p.exec())!;
  return keys.map((key, i) => {
    const t = types[i]!;
    const [pttlErr, pttl] = res[stride * i]!;
    const [err, raw] = res[stride * i + stride - 1]!;
    if (pttlErr) throw pttlErr;
    let expireAt: number | undefined;
    if (absolute) {
      const [atErr, at] = res[stride * i + 1]!;
      if (atErr) throw atErr;
      expireAt = Number(at);
    }
    if (pttl === -2 || expireAt === -2) return { type: 'none', pttl: -2 };
    if (err) {
      if (/WRONGTYPE/.test(err.message)) {
        const want = type === 'hash' ? 'a hash' : 'a string';
        return {
          type: t,
          pttl: -1,
          error: `key "${key}" does not hold ${want} (WRONGTYPE); read mixed keys with type: 'auto'`,
        };
      }
      throw err;
    }
    if (t === 'string' && raw === null) return { type: 'none', pttl: -2 };
    if (t === 'hash' && type === 'hash' && Object.keys(raw as object).length === 0) return { type: 'none', pttl: -2 };
    if (!['string', 'hash', 'list', 'set', 'zset'].includes(t)) {
      return {
        type: t,
        pttl: pttl as number,
        expireAt,
        error: `key "${key}" holds a ${t}, which this source cannot read`,
      };
    }
    let value = raw;
    if (t === 'set') value = [...(raw as string[])].sort();
    if (t === 'zset') {
      const flat = raw as string[];
      const pairs: { member: string; score: number }[] = [];
      for (let j = 0; j < flat.length; j += 2) pairs.push({ member: flat[j]!, score: Number(flat[j + 1]) });
      value = pairs;
    }
    if (t === 'hash') value = { ...(raw as Record<string, string>) };
    return { type: t, pttl: pttl as number, expireAt, value };
  });
}

/** Keyv stores `{"value": …, "expires": ms}`; Buffers as `:base64:…` and strings starting with `:` escaped. */
function keyvEnvelope(parsed: unknown, text: string): { value: unknown; expires: number | null } | null {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const keys = Object.keys(parsed);
  if (!keys.includes('value') || !keys.every((k) => k === 'value' || k === 'expires')) return null;
  const expires = (parsed as { expires?: unknown }).expires;
  if (expires !== undefined && expires !== null && typeof expires !== 'number') return null;
  const decoded = JSON.parse(text, (_k, v) => {
    if (typeof v !== 'string') return v;
    if (v.startsWith(':base64:')) return Buffer.from(v.slice(8), 'base64');
    return v.startsWith(':') ? v.slice(1) : v;
  }) as { value: unknown };
  return { value: decoded.value, expires: typeof expires === 'number' ? expires : null };
}

/** Keyv namespaces: `ns::ns:id` (@keyv/redis 3+) or `ns:id` (older Keyv, default namespace `keyv`). */
function splitNamespace(key: string, ns: string | undefined): { id: string; namespace: string | null } {
  if (ns !== undefined) {
    for (const prefix of [`${ns}::${ns}:`, `${ns}:`]) {
      if (key.startsWith(prefix)) return { namespace: ns, id: key.slice(prefix.length) };
    }
    return { namespace: null, id: key };
  }
  const modern = /^([^:]+)::\1:(.*)$/s.exec(key);
  if (modern) return { namespace: modern[1]!, id: modern[2]! };
  const legacy = /^(keyv):(.*)$/s.exec(key);
  if (legacy) return { namespace: legacy[1]!, id: legacy[2]! };
  return { namespace: null, id: key };
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n <= 0) throw optionsError(`redis(): \`${name}\` must be a positive integer, got ${n}.`);
  return n;
}

function urlPasswords(url: string): string[] {
  try {
    const pw = new URL(url).password;
    return pw ? [pw, decodeURIComponent(pw)] : [];
  } catch {
    return [];
  }
}
