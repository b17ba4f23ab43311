/**
 * Login sessions in Redis (or in memory), optionally persisted to Postgres.
 *
 *   const store = createSessionStore({ redis: process.env.REDIS_URL, ttl: 3600 });
 *   const s = await store.create(user.id, { role: 'admin' });   // s.id goes in the cookie / token
 *   const live = await store.touch(s.id);                        // sliding expiry; null once gone
 *   await store.revoke(s.id);                                    // logout: final
 *
 * Guarantees (the bugs of connect-redis #75 / #328 made impossible):
 * - a revoke is final: once `revoke` resolves, no concurrent or later
 *   `touch`, `set`, `update` (or Postgres read-through) brings the session
 *   back. Every write is a Lua script that only changes a session that
 *   exists, is unexpired and belongs to the user's current generation; only
 *   `create` makes a session, and never under a revoked id (tombstone).
 * - `revokeAllForUser` bumps the user's generation and deletes the user's
 *   sessions in one script: sessions created before it are dead, whichever
 *   order concurrent requests land in.
 * - an expired session is never returned: Redis expires the key, and every
 *   script also compares `expiresAt` with Redis's clock.
 *
 * Redis keys (`prefix` default `sess`; the braces are a cluster hash tag, so
 * one user's keys share a slot): `sess:{user}:<jti>` (hash), `sess:{user}:<jti>~revoked`
 * (tombstone), `sess:{user}:~gen` (generation, no TTL), `sess:{user}:~index`
 * (sorted set of jtis by expiry).
 *
 * With `persist`, Postgres is the source of truth and Redis the fast path:
 * writes go to Postgres first; a Redis miss reads Postgres and refills Redis
 * only if no revocation happened meanwhile (generation compare-and-set and
 * tombstones); with Redis unreachable everything is served from Postgres.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { FerryError } from '../errors.js';
import { isTable, type Table } from '../schema/table.js';
import { type RedisClientOptions, type RedisInput, redisUsable, resolveRedis } from './redis-client.js';

/** `createSessionStore` options are invalid. */
export const E_SESSION_CONFIG = 'E_SESSION_CONFIG';
/** A session id, user id or data passed to the store is invalid. */
export const E_SESSION_ARGUMENT = 'E_SESSION_ARGUMENT';
/** `create` was given a jti that is already in use (or was revoked). */
export const E_SESSION_EXISTS = 'E_SESSION_EXISTS';
/** `create` lost a race with `revokeAllForUser`: the new session was revoked at once. */
export const E_SESSION_REVOKED = 'E_SESSION_REVOKED';
/** `update` kept losing compare-and-set races with concurrent writes. */
export const E_SESSION_CONFLICT = 'E_SESSION_CONFLICT';
/** Without persistence, Redis could not be reached: the store cannot answer. */
export const E_SESSION_UNAVAILABLE = 'E_SESSION_UNAVAILABLE';
/** A refresh-token operation needs `persist`. */
export const E_SESSION_NO_PERSIST = 'E_SESSION_NO_PERSIST';
/** The store was used after `close()`. */
export const E_SESSION_CLOSED = 'E_SESSION_CLOSED';

export type UserId = string | number;
/** A session id as returned by `create` (`<userId>:<jti>`), or its parts. */
export type SessionRef = string | { userId: UserId; jti: string };

export interface Session<T = Record<string, unknown>> {
  /** `<userId>:<jti>`: what the client holds. */
  id: string;
  userId: string;
  /** The random part (the access token's JWT id; `sessions.access_jti`). */
  jti: string;
  data: T;
  createdAt: Date;
  lastActivityAt: Date;
  expiresAt: Date;
  /** Bumped by every data write. */
  version: number;
}

export interface PersistOptions {
  /** A Kysely instance or anything with `.db` (a Ferry connection). */
  db: Kysely<any> | { db: Kysely<any> };
  /** The sessions table (from `sessionTables()`) or its name; default `sessions`. */
  sessions?: Table | string;
  /** The refresh-tokens table or its name; default `refresh_tokens`. */
  refreshTokens?: Table | string;
  /** Write `last_activity`/`expires_at` of a touched session to Postgres at most this often, ms. Default min(60 s, ttl / 4). */
  touchWriteIntervalMs?: number;
}

export interface SessionStoreOptions {
  /** A Redis URL, an ioredis client, `null` for in-memory; default `REDIS_URL`, else in-memory. */
  redis?: RedisInput;
  /** Idle lifetime in seconds (sliding: `touch` extends it); fractions allowed. */
  ttl: number;
  /** Redis key prefix; default `sess`. */
  prefix?: string;
  persist?: PersistOptions;
  /** Refresh-token lifetime in seconds; default 30 days. */
  refreshTtl?: number;
  client?: RedisClientOptions;
  /** Background failures (a Redis invalidation that must be retried...). Default: a process warning. */
  onError?: (err: unknown) => void;
}

export interface CreateOptions {
  /** Use this jti (e.g. the access token's JWT id) instead of a random one. 8-128 of [A-Za-z0-9_-]. */
  jti?: string;
}

export interface RefreshToken {
  /** The secret to give the client (only its SHA-256 is stored). */
  token: string;
  userId: string;
  sessionId: string | null;
  expiresAt: Date;
}

export interface SessionStore<T = Record<string, unknown>> {
  readonly ttlMs: number;
  create(userId: UserId, data: T, options?: CreateOptions): Promise<Session<T>>;
  /** The live session, or `null` (missing, expired or revoked). */
  get(ref: SessionRef): Promise<Session<T> | null>;
  /** Extend the session by `ttl` from now and return it; `null` when it is gone. */
  touch(ref: SessionRef): Promise<Session<T> | null>;
  /** Replace the data of a live session; `null` (and no effect) when it is gone. */
  set(ref: SessionRef, data: T): Promise<Session<T> | null>;
  /** Read-modify-write of the data (compare-and-set on `version`); `null` when gone. */
  update(ref: SessionRef, fn: (data: T) => T): Promise<Session<T> | null>;
  /** End the session for good. Resolves `true` when it was live. */
  revoke(ref: SessionRef): Promise<boolean>;
  /** End every session (and refresh token) of the user, including ones created concurrently but landing first. */
  revokeAllForUser(userId: UserId): Promise<number>;
  /** The user's live sessions, oldest first. */
  list(userId: UserId): Promise<Session<T>[]>;
  /** Issue a refresh token (needs `persist`). */
  issueRefreshToken(userId: UserId, options?: { session?: SessionRef; ttl?: number }): Promise<RefreshToken>;
  /**
   * Exchange a refresh token for a new one (the old one is revoked). `null` for
   * an unknown, expired or revoked token; presenting an already-rotated token
   * (a stolen copy) revokes all of the user's sessions.
   */
  rotateRefreshToken(token: string): Promise<RefreshToken | null>;
  revokeRefreshToken(token: string): Promise<boolean>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Records and backends

interface Rec {
  data: string; // JSON
  createdAt: number;
  lastActivityAt: number;
  expiresAt: number;
  version: number;
}

type Read =
  | { status: 'hit'; rec: Rec; gen: number }
  | { status: 'miss'; gen: number }
  | { status: 'gone'; gen: number };
type CreateResult = { status: 'ok'; rec: Rec } | { status: 'taken' } | { status: 'revoked' };
type WriteResult = { status: 'hit'; rec: Rec } | { status: 'miss' } | { status: 'gone' } | { status: 'conflict' };
type TouchResult = { status: 'hit'; rec: Rec; persistDue: boolean } | { status: 'miss' } | { status: 'gone' };

/** The primitive, atomic operations every backend provides. */
interface Backend {
  create(u: string, jti: string, data: string, ttlMs: number, expectGen: number | null): Promise<CreateResult>;
  read(u: string, jti: string): Promise<Read>;
  touch(u: string, jti: string, ttlMs: number, persistEveryMs: number): Promise<TouchResult>;
  write(u: string, jti: string, data: string, expectVersion: number | null): Promise<WriteResult>;
  revoke(u: string, jti: string, tombstoneMs: number): Promise<boolean>;
  revokeAll(u: string): Promise<number>;
  /** Live sessions; `order` breaks ties between equal `createdAt` (creation order), when the backend has one. */
  list(u: string): Promise<Array<{ jti: string; rec: Rec; order?: string }>>;
  /** Copy a record read from the source of truth, unless the session was revoked or the generation moved. */
  fill(u: string, jti: string, rec: Rec, expectGen: number): Promise<boolean>;
  gen(u: string): Promise<number>;
  close(): Promise<void>;
}

// ----------------------------------------------------------------- Redis (Lua)

const LUA_LIB = `
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function curgen(k) return tonumber(redis.call('GET', k) or '0') end
local function n2s(x) return string.format('%d', x) end
local function nowus()
  local t = redis.call('TIME')
  return t[1] .. string.format('%06d', tonumber(t[2]))
end
local function index_add(idx, jti, e, now, ttl)
  redis.call('ZADD', idx, e, jti)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
  if redis.call('PTTL', idx) < ttl then redis.call('PEXPIRE', idx, ttl) end
end
-- The session's fields when it is live; deletes an expired or old-generation one.
local function load(skey, g, now)
  local h = redis.call('HMGET', skey, 'd', 'c', 'a', 'e', 'g', 'v', 'p', 'o')
  if not h[1] then return nil, false end
  if tonumber(h[4]) <= now or tonumber(h[5]) ~= g then
    redis.call('DEL', skey)
    return nil, true
  end
  return h, false
end
`;

// KEYS: sess, tomb, gen, index. ARGV: data, ttlMs, jti, expectGen|''
const LUA_CREATE = `${LUA_LIB}
local now = nowms()
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return {'taken'} end
local g = curgen(KEYS[3])
if ARGV[4] ~= '' and tonumber(ARGV[4]) ~= g then return {'revoked'} end
local ttl = tonumber(ARGV[2])
local e = now + ttl
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'c', n2s(now), 'a', n2s(now), 'e', n2s(e), 'g', n2s(g), 'v', '1', 'p', n2s(now), 'o', nowus())
redis.call('PEXPIRE', KEYS[1], ttl)
index_add(KEYS[4], ARGV[3], e, now, ttl)
return {'ok', ARGV[1], n2s(now), n2s(now), n2s(e), '1'}
`;

// KEYS: sess, tomb, gen
const LUA_READ = `${LUA_LIB}
local now = nowms()
local g = curgen(KEYS[3])
local h, dead = load(KEYS[1], g, now)
if h then return {'hit', n2s(g), h[1], h[2], h[3], h[4], h[6]} end
if dead or redis.call('EXISTS', KEYS[2]) == 1 then return {'gone', n2s(g)} end
return {'miss', n2s(g)}
`;

// KEYS: sess, tomb, gen, index. ARGV: ttlMs, jti, persistEveryMs
const LUA_TOUCH = `${LUA_LIB}
local now = nowms()
local g = curgen(KEYS[3])
local h, dead = load(KEYS[1], g, now)
if not h then
  if dead or redis.call('EXISTS', KEYS[2]) == 1 then return {'gone'} end
  return {'miss'}
end
local ttl = tonumber(ARGV[1])
local e = now + ttl
local due = '0'
if now - tonumber(h[7] or '0') >= tonumber(ARGV[3]) then
  due = '1'
  redis.call('HSET', KEYS[1], 'p', n2s(now))
end
redis.call('HSET', KEYS[1], 'a', n2s(now), 'e', n2s(e))
redis.call('PEXPIRE', KEYS[1], ttl)
index_add(KEYS[4], ARGV[2], e, now, ttl)
return {'hit', h[1], h[2], n2s(now), n2s(e), h[6], due}
`;

// KEYS: sess, tomb, gen. ARGV: data, expectVersion|''
const LUA_WRITE = `${LUA_LIB}
local now = nowms()
local h, dead = load(KEYS[1], curgen(KEYS[3]), now)
if not h then
  if dead or redis.call('EXISTS', KEYS[2]) == 1 then return {'gone'} end
  return {'miss'}
end
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= tonumber(h[6]) then return {'conflict'} end
local v = tonumber(h[6]) + 1
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', n2s(v))
return {'hit', ARGV[1], h[2], h[3], h[4], n2s(v)}
`;

// KEYS: sess, tomb, index. ARGV: tombstoneMs, jti
const LUA_REVOKE = `
local existed = redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[2])
return existed
`;

// KEYS: gen, index. ARGV: the user's key prefix ('sess:{u}:')
const LUA_REVOKE_ALL = `
redis.call('INCR', KEYS[1])
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
local n = 0
for _, j in ipairs(ids) do n = n + redis.call('DEL', ARGV[1] .. j) end
redis.call('DEL', KEYS[2])
return n
`;

// KEYS: index, gen. ARGV: the user's key prefix
const LUA_LIST = `${LUA_LIB}
local now = nowms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local g = curgen(KEYS[2])
local out = {}
for _, j in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local h = load(ARGV[1] .. j, g, now)
  if h then
    table.insert(out, j)
    table.insert(out, h[1]); table.insert(out, h[2]); table.insert(out, h[3]); table.insert(out, h[4]); table.insert(out, h[6]); table.insert(out, h[8] or '')
  else
    redis.call('ZREM', KEYS[1], j)
  end
end
return out
`;

// KEYS: sess, tomb, gen, index. ARGV: data, c, a, e, expectGen, jti, v
const LUA_FILL = `${LUA_LIB}
local now = nowms()
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local g = curgen(KEYS[3])
if g ~= tonumber(ARGV[5]) then return 0 end
local e = tonumber(ARGV[4])
if e <= now then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'c', ARGV[2], 'a', ARGV[3], 'e', ARGV[4], 'g', n2s(g), 'v', ARGV[7], 'p', ARGV[3], 'o', ARGV[2] .. '000')
redis.call('PEXPIREAT', KEYS[1], e)
index_add(KEYS[4], ARGV[6], e, now, e - now)
return 1
`;

type Script = (...args: (string | number)[]) => Promise<any>;
type RedisWithScripts = Redis & { [K in keyof typeof SCRIPTS]: Script };

const SCRIPTS = {
  ferrySessCreate: [4, LUA_CREATE],
  ferrySessRead: [3, LUA_READ],
  ferrySessTouch: [4, LUA_TOUCH],
  ferrySessWrite: [3, LUA_WRITE],
  ferrySessRevoke: [3, LUA_REVOKE],
  ferrySessRevokeAll: [2, LUA_REVOKE_ALL],
  ferrySessList: [2, LUA_LIST],
  ferrySessFill: [4, LUA_FILL],
} as const;

function recFrom(a: string[], from: number): Rec {
  return {
    data: a[from]!,
    createdAt: Number(a[from + 1]),
    lastActivityAt: Number(a[from + 2]),
    expiresAt: Number(a[from + 3]),
    version: Number(a[from + 4]),
  };
}

class RedisBackend implements Backend {
  readonly #c: RedisWithScripts;
  readonly #prefix: string;
  readonly #close: () => Promise<void>;

  constructor(client: Redis, prefix: string, close: () => Promise<void>) {
    for (const [name, [numberOfKeys, lua]] of Object.entries(SCRIPTS)) {
      if (!(name in client)) client.defineCommand(name, { numberOfKeys, lua });
    }
    this.#c = client as RedisWithScripts;
    this.#prefix = prefix;
    this.#close = close;
  }

  get client(): Redis {
    return this.#c;
  }

  #user(u: string) {
    return `${this.#prefix}:{${u}}:`;
  }
  #keys(u: string, jti: string) {
    const p = this.#user(u);
    return { sess: p + jti, tomb: `${p}${jti}~revoked`, gen: `${p}~gen`, index: `${p}~index` };
  }

  async create(u: string, jti: string, data: string, ttlMs: number, expectGen: number | null): Promise<CreateResult> {
    const k = this.#keys(u, jti);
    const r: string[] = await this.#c.ferrySessCreate(
      k.sess,
      k.tomb,
      k.gen,
      k.index,
      data,
      ttlMs,
      jti,
      expectGen ?? '',
    );
    if (r[0] === 'ok') return { status: 'ok', rec: recFrom(r, 1) };
    return { status: r[0] as 'taken' | 'revoked' };
  }

  async read(u: string, jti: string): Promise<Read> {
    const k = this.#keys(u, jti);
    const r: string[] = await this.#c.ferrySessRead(k.sess, k.tomb, k.gen);
    const gen = Number(r[1]);
    if (r[0] === 'hit') return { status: 'hit', gen, rec: recFrom(r, 2) };
    return { status: r[0] as 'miss' | 'gone', gen };
  }

  async touch(u: string, jti: string, ttlMs: number, persistEveryMs: number): Promise<TouchResult> {
    const k = this.#keys(u, jti);
    const r: string[] = await this.#c.ferrySessTouch(k.sess, k.tomb, k.gen, k.index, ttlMs, jti, persistEveryMs);
    if (r[0] === 'hit') return { status: 'hit', rec: recFrom(r, 1), persistDue: r[6] === '1' };
    return { status: r[0] as 'miss' | 'gone' };
  }

  async write(u: string, jti: string, data: string, expectVersion: number | null): Promise<WriteResult> {
    const k = this.#keys(u, jti);
    const r: string[] = await this.#c.ferrySessWrite(k.sess, k.tomb, k.gen, data, expectVersion ?? '');
    if (r[0] === 'hit') return { status: 'hit', rec: recFrom(r, 1) };
    return { status: r[0] as 'miss' | 'gone' | 'conflict' };
  }

  async revoke(u: string, jti: string, tombstoneMs: number): Promise<boolean> {
    const k = this.#keys(u, jti);
    return (await this.#c.ferrySessRevoke(k.sess, k.tomb, k.index, tombstoneMs, jti)) === 1;
  }

  async revokeAll(u: string): Promise<number> {
    const k = this.#keys(u, '');
    return Number(await this.#c.ferrySessRevokeAll(k.gen, k.index, this.#user(u)));
  }

  async list(u: string): Promise<Array<{ jti: string; rec: Rec; order?: string }>> {
    const k = this.#keys(u, '');
    const r: string[] = await this.#c.ferrySessList(k.index, k.gen, this.#user(u));
    const out: Array<{ jti: string; rec: Rec; order: string }> = [];
    for (let i = 0; i < r.length; i += 7) out.push({ jti: r[i]!, rec: recFrom(r, i + 1), order: r[i + 6]! });
    return out;
  }

  async fill(u: string, jti: string, rec: Rec, expectGen: number): Promise<boolean> {
    const k = this.#keys(u, jti);
    const r = await this.#c.ferrySessFill(
      k.sess,
      k.tomb,
      k.gen,
      k.index,
      rec.data,
      rec.createdAt,
      rec.lastActivityAt,
      rec.expiresAt,
      expectGen,
      jti,
      rec.version,
    );
    return r === 1;
  }

  async gen(u: string): Promise<number> {
    return Number((await this.#c.get(this.#keys(u, '').gen)) ?? 0);
  }

  close(): Promise<void> {
    return this.#close();
  }
}

// ----------------------------------------------------------------- memory

/**
 * The same operations in one process. Each method does its work without
 * awaiting in between, so it is as atomic as a Lua script.
 */
class MemoryBackend implements Backend {
  readonly #sessions = new Map<string, Map<string, Rec & { gen: number; persistedAt: number }>>();
  readonly #tombs = new Map<string, number>();
  readonly #gens = new Map<string, number>();
  readonly #sweeper: NodeJS.Timeout;

  constructor() {
    this.#sweeper = setInterval(() => this.#sweep(), 30_000);
    this.#sweeper.unref();
  }

  #sweep() {
    const now = Date.now();
    for (const [u, m] of this.#sessions) {
      for (const [j, r] of m) if (r.expiresAt <= now) m.delete(j);
      if (m.size === 0) this.#sessions.delete(u);
    }
    for (const [k, until] of this.#tombs) if (until <= now) this.#tombs.delete(k);
  }

  #userMap(u: string) {
    let m = this.#sessions.get(u);
    if (!m) {
      m = new Map();
      this.#sessions.set(u, m);
    }
    return m;
  }

  #tombed(u: string, jti: string, now: number) {
    const until = this.#tombs.get(`${u}\0${jti}`);
    return until !== undefined && until > now;
  }

  #load(
    u: string,
    jti: string,
    now: number,
  ): { rec: (Rec & { gen: number; persistedAt: number }) | null; dead: boolean } {
    const m = this.#sessions.get(u);
    const r = m?.get(jti);
    if (!r) return { rec: null, dead: false };
    if (r.expiresAt <= now || r.gen !== (this.#gens.get(u) ?? 0)) {
      m!.delete(jti);
      return { rec: null, dead: true };
    }
    return { rec: r, dead: false };
  }

  async create(u: string, jti: string, data: string, ttlMs: number, expectGen: number | null): Promise<CreateResult> {
    const now = Date.now();
    if (this.#load(u, jti, now).rec || this.#tombed(u, jti, now)) return { status: 'taken' };
    const gen = this.#gens.get(u) ?? 0;
    if (expectGen !== null && expectGen !== gen) return { status: 'revoked' };
    const rec = {
      data,
      createdAt: now,
      lastActivityAt: now,
      expiresAt: now + ttlMs,
      version: 1,
      gen,
      persistedAt: now,
    };
    const m = this.#userMap(u);
    m.set(jti, rec);
    return { status: 'ok', rec: plain(rec) };
  }

  async read(u: string, jti: string): Promise<Read> {
    const now = Date.now();
    const gen = this.#gens.get(u) ?? 0;
    const { rec, dead } = this.#load(u, jti, now);
    if (rec) return { status: 'hit', gen, rec: plain(rec) };
    return { status: dead || this.#tombed(u, jti, now) ? 'gone' : 'miss', gen };
  }

  async touch(u: string, jti: string, ttlMs: number, persistEveryMs: number): Promise<TouchResult> {
    const now = Date.now();
    const { rec, dead } = this.#load(u, jti, now);
    if (!rec) return { status: dead || this.#tombed(u, jti, now) ? 'gone' : 'miss' };
    rec.lastActivityAt = now;
    rec.expiresAt = now + ttlMs;
    const persistDue = now - rec.persistedAt >= persistEveryMs;
    if (persistDue) rec.persistedAt = now;
    return { status: 'hit', rec: plain(rec), persistDue };
  }

  async write(u: string, jti: string, data: string, expectVersion: number | null): Promise<WriteResult> {
    const now = Date.now();
    const { rec, dead } = this.#load(u, jti, now);
    if (!rec) return { status: dead || this.#tombed(u, jti, now) ? 'gone' : 'miss' };
    if (expectVersion !== null && expectVersion !== rec.version) return { status: 'conflict' };
    rec.data = data;
    rec.version += 1;
    return { status: 'hit', rec: plain(rec) };
  }

  async revoke(u: string, jti: string, tombstoneMs: number): Promise<boolean> {
    const now = Date.now();
    const live = this.#load(u, jti, now).rec !== null;
    this.#sessions.get(u)?.delete(jti);
    this.#tombs.set(`${u}\0${jti}`, now + tombstoneMs);
    return live;
  }

  async revokeAll(u: string): Promise<number> {
    this.#gens.set(u, (this.#gens.get(u) ?? 0) + 1);
    const n = this.#sessions.get(u)?.size ?? 0;
    this.#sessions.delete(u);
    return n;
  }

  async list(u: string): Promise<Array<{ jti: string; rec: Rec }>> {
    const now = Date.now();
    const out: Array<{ jti: string; rec: Rec }> = [];
    for (const jti of [...(this.#sessions.get(u)?.keys() ?? [])]) {
      const { rec } = this.#load(u, jti, now);
      if (rec) out.push({ jti, rec: plain(rec) });
    }
    return out;
  }

  async fill(u: string, jti: string, rec: Rec, expectGen: number): Promise<boolean> {
    const now = Date.now();
    if (this.#load(u, jti, now).rec || this.#tombed(u, jti, now)) return false;
    const gen = this.#gens.get(u) ?? 0;
    if (gen !== expectGen || rec.expiresAt <= now) return false;
    const m = this.#userMap(u);
    m.set(jti, { ...rec, gen, persistedAt: rec.lastActivityAt });
    return true;
  }

  async gen(u: string): Promise<number> {
    return this.#gens.get(u) ?? 0;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
  }
}

function plain(r: Rec): Rec {
  return {
    data: r.data,
    createdAt: r.createdAt,
    lastActivityAt: r.lastActivityAt,
    expiresAt: r.expiresAt,
    version: r.version,
  };
}

// ----------------------------------------------------------------- Postgres

interface PgRow {
  access_jti: string;
  data: unknown;
  version: number | string;
  created_at: Date;
  last_activity: Date;
  expires_at: Date;
}

class PgStore {
  readonly db: Kysely<any>;
  readonly sessions: string;
  readonly refresh: string;

  constructor(options: PersistOptions) {
    const db = 'db' in options.db && !('selectFrom' in options.db) ? options.db.db : options.db;
    if (!db || typeof (db as Kysely<any>).selectFrom !== 'function') {
      throw new FerryError(E_SESSION_CONFIG, 'persist.db must be a Kysely instance or a Ferry connection (with .db).');
    }
    this.db = db as Kysely<any>;
    this.sessions = tableName(options.sessions, 'sessions');
    this.refresh = tableName(options.refreshTokens, 'refresh_tokens');
  }

  static rec(row: PgRow): Rec {
    return {
      data: JSON.stringify(row.data ?? null),
      createdAt: new Date(row.created_at).getTime(),
      lastActivityAt: new Date(row.last_activity).getTime(),
      expiresAt: new Date(row.expires_at).getTime(),
      version: Number(row.version),
    };
  }

  #live(u: string, jti: string) {
    return (eb: any) =>
      eb.and([
        eb('access_jti', '=', jti),
        eb('user_id', '=', u),
        eb('revoked', '=', false),
        eb('expires_at', '>', sql`now()`),
      ]);
  }

  async insert(u: string, jti: string, rec: Rec): Promise<boolean> {
    const r = await this.db
      .insertInto(this.sessions)
      .values({
        user_id: u,
        access_jti: jti,
        data: rec.data,
        version: rec.version,
        created_at: new Date(rec.createdAt),
        last_activity: new Date(rec.lastActivityAt),
        expires_at: new Date(rec.expiresAt),
      })
      .onConflict((oc) => oc.column('access_jti').doNothing())
      .returning('access_jti')
      .executeTakeFirst();
    return r !== undefined;
  }

  async read(u: string, jti: string): Promise<Rec | null> {
    const row = await this.db.selectFrom(this.sessions).selectAll().where(this.#live(u, jti)).executeTakeFirst();
    return row ? PgStore.rec(row as PgRow) : null;
  }

  /** Slide the expiry to `rec`'s (from Redis), never backwards, never on a revoked row. */
  async touchTo(u: string, jti: string, rec: Rec): Promise<void> {
    await this.db
      .updateTable(this.sessions)
      .set({ last_activity: new Date(rec.lastActivityAt), expires_at: new Date(rec.expiresAt) })
      .where(this.#live(u, jti))
      .where('expires_at', '<', new Date(rec.expiresAt))
      .execute();
  }

  /** Touch on Postgres alone (Redis unreachable). */
  async touch(u: string, jti: string, ttlMs: number): Promise<Rec | null> {
    const row = await this.db
      .updateTable(this.sessions)
      .set({
        last_activity: sql`now()`,
        expires_at: sql`now() + make_interval(secs => ${ttlMs / 1000})`,
      })
      .where(this.#live(u, jti))
      .returningAll()
      .executeTakeFirst();
    return row ? PgStore.rec(row as PgRow) : null;
  }

  /** Write data at `version` unless a newer version is already there (from Redis), or the session is gone. */
  async writeVersion(u: string, jti: string, data: string, version: number): Promise<void> {
    await this.db
      .updateTable(this.sessions)
      .set({ data, version })
      .where(this.#live(u, jti))
      .where('version', '<', version)
      .execute();
  }

  /** Compare-and-set write on Postgres alone. */
  async write(u: string, jti: string, data: string, expectVersion: number | null): Promise<WriteResult> {
    let q = this.db.updateTable(this.sessions).set({ data, version: sql`version + 1` }).where(this.#live(u, jti));
    if (expectVersion !== null) q = q.where('version', '=', expectVersion);
    const row = await q.returningAll().executeTakeFirst();
    if (row) return { status: 'hit', rec: PgStore.rec(row as PgRow) };
    if (expectVersion !== null && (await this.read(u, jti))) return { status: 'conflict' };
    return { status: 'gone' };
  }

  async revoke(u: string, jti: string): Promise<boolean> {
    const row = await this.db
      .updateTable(this.sessions)
      .set({ revoked: true, revoked_at: sql`now()` })
      .where('access_jti', '=', jti)
      .where('user_id', '=', u)
      .where('revoked', '=', false)
      .returning(sql<boolean>`expires_at > now()`.as('live'))
      .executeTakeFirst();
    return Boolean(row?.live);
  }

  async revokeAll(u: string): Promise<number> {
    const rows = await this.db
      .updateTable(this.sessions)
      .set({ revoked: true, revoked_at: sql`now()` })
      .where('user_id', '=', u)
      .where('revoked', '=', false)
      .returning(sql<boolean>`expires_at > now()`.as('live'))
      .execute();
    await this.db
      .updateTable(this.refresh)
      .set({ revoked: true, revoked_at: sql`now()` })
      .where('user_id', '=', u)
      .where('revoked', '=', false)
      .execute();
    return rows.filter((r) => r.live).length;
  }

  async list(u: string): Promise<Array<{ jti: string; rec: Rec }>> {
    const rows = await this.db
      .selectFrom(this.sessions)
      .selectAll()
      .where('user_id', '=', u)
      .where('revoked', '=', false)
      .where('expires_at', '>', sql`now()`)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({ jti: (row as PgRow).access_jti, rec: PgStore.rec(row as PgRow) }));
  }
}

function tableName(t: Table | string | undefined, fallback: string): string {
  if (t === undefined) return fallback;
  if (typeof t === 'string') return t;
  if (isTable(t)) return t.name;
  throw new FerryError(E_SESSION_CONFIG, 'persist.sessions / persist.refreshTokens must be a table or a table name.');
}

// ----------------------------------------------------------------- the store

const JTI_RE = /^[A-Za-z0-9_-]{8,128}$/;
const USER_RE = /^[^\s{}]{1,128}$/;
const PREFIX_RE = /^[A-Za-z0-9_.\-:]{1,100}$/;

export function createSessionStore<T = Record<string, unknown>>(options: SessionStoreOptions): SessionStore<T> {
  if (typeof options.ttl !== 'number' || !(options.ttl > 0) || !Number.isFinite(options.ttl)) {
    throw new FerryError(E_SESSION_CONFIG, `ttl must be a positive number of seconds, got ${String(options.ttl)}.`);
  }
  const ttlMs = Math.max(1, Math.round(options.ttl * 1000));
  const refreshTtlMs = Math.round((options.refreshTtl ?? 30 * 24 * 3600) * 1000);
  if (!(refreshTtlMs > 0)) throw new FerryError(E_SESSION_CONFIG, 'refreshTtl must be a positive number of seconds.');
  const prefix = options.prefix ?? 'sess';
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) {
    throw new FerryError(
      E_SESSION_CONFIG,
      `prefix must be 1-100 characters of letters, digits and _ . - :, got ${JSON.stringify(prefix)}.`,
    );
  }
  const onError =
    options.onError ?? ((err: unknown) => process.emitWarning(`ferry sessions: ${(err as Error)?.message ?? err}`));
  const pg = options.persist ? new PgStore(options.persist) : null;
  const persistEveryMs = options.persist?.touchWriteIntervalMs ?? Math.min(60_000, Math.floor(ttlMs / 4));
  const connection = resolveRedis(options.redis, options.client);
  // With persistence and no Redis, Postgres alone serves (a per-process memory cache would go stale across processes).
  const fast: Backend | null = connection
    ? new RedisBackend(connection.client, prefix, () => connection.close())
    : pg
      ? null
      : new MemoryBackend();
  const redisClient = connection?.client ?? null;
  // Tombstones outlive any session they could shadow (sessions slide, so be generous).
  const tombstoneMs = Math.max(ttlMs * 2, 60_000);
  let closed = false;
  // Redis invalidations that failed (Redis unreachable) and are retried until they land.
  const pending = new Map<string, () => Promise<unknown>>();
  let retryTimer: NodeJS.Timeout | null = null;

  const ensureOpen = () => {
    if (closed) throw new FerryError(E_SESSION_CLOSED, 'This session store was closed.');
  };

  /** Run on the fast backend; `undefined` when it is Redis and Redis is unusable or failed. */
  async function onFast<R>(fn: (b: Backend) => Promise<R>): Promise<R | undefined> {
    if (!fast) return undefined;
    if (redisClient && !redisUsable(redisClient)) {
      if (!pg) throw unavailable();
      return undefined;
    }
    try {
      return await fn(fast);
    } catch (err) {
      if (err instanceof FerryError) throw err;
      if (!pg) throw unavailable(err);
      return undefined;
    }
  }

  const unavailable = (cause?: unknown) =>
    new FerryError(
      E_SESSION_UNAVAILABLE,
      `The session store cannot reach Redis at ${connection?.shown ?? '(none)'}${cause ? `: ${(cause as Error).message}` : ''}. ` +
        (pg
          ? 'Postgres (persist) holds the sessions; Redis is caught up when it is back.'
          : 'Sessions live only in Redis unless `persist` is set.'),
      { cause },
    );

  function schedule(key: string, op: () => Promise<unknown>) {
    pending.set(key, op);
    if (retryTimer || closed) return;
    retryTimer = setInterval(async () => {
      if (redisClient && !redisUsable(redisClient)) return;
      for (const [k, fn] of [...pending]) {
        try {
          await fn();
          if (pending.get(k) === fn) pending.delete(k);
        } catch {
          return; // still down; next tick
        }
      }
      if (pending.size === 0 && retryTimer) {
        clearInterval(retryTimer);
        retryTimer = null;
      }
    }, 500);
    retryTimer.unref();
  }

  const toSession = (u: string, jti: string, rec: Rec): Session<T> => ({
    id: `${u}:${jti}`,
    userId: u,
    jti,
    data: JSON.parse(rec.data) as T,
    createdAt: new Date(rec.createdAt),
    lastActivityAt: new Date(rec.lastActivityAt),
    expiresAt: new Date(rec.expiresAt),
    version: rec.version,
  });

  /** Read through: fast path, then Postgres (refilling the fast path unless a revocation intervened). */
  async function read(u: string, jti: string): Promise<Rec | null> {
    if (pending.has(`${u}:${jti}`) || pending.has(`${u}:*`)) return null; // revoked here, Redis not told yet
    const r = await onFast((b) => b.read(u, jti));
    if (r?.status === 'hit') return r.rec;
    if (r?.status === 'gone' || !pg) return null;
    const rec = await pg.read(u, jti);
    if (rec && r?.status === 'miss') {
      await onFast((b) => b.fill(u, jti, rec, r.gen)); // may refuse: then the next read tries again
    }
    return rec;
  }

  async function touch(u: string, jti: string, retry = true): Promise<Rec | null> {
    if (pending.has(`${u}:${jti}`) || pending.has(`${u}:*`)) return null;
    const r = await onFast((b) => b.touch(u, jti, ttlMs, persistEveryMs));
    if (r === undefined) return pg ? pg.touch(u, jti, ttlMs) : null;
    if (r.status === 'gone') return null;
    if (r.status === 'miss') {
      if (!pg || !retry) return null;
      if (!(await read(u, jti))) return null; // fills the fast path
      return touch(u, jti, false);
    }
    if (pg && r.persistDue) await pg.touchTo(u, jti, r.rec);
    return r.rec;
  }

  async function write(u: string, jti: string, data: string, expectVersion: number | null, retry = true) {
    if (pending.has(`${u}:${jti}`) || pending.has(`${u}:*`)) return { status: 'gone' } as WriteResult;
    const r = await onFast((b) => b.write(u, jti, data, expectVersion));
    if (r === undefined) return pg ? pg.write(u, jti, data, expectVersion) : ({ status: 'gone' } as WriteResult);
    if (r.status === 'miss') {
      if (!pg || !retry) return { status: 'gone' } as WriteResult;
      if (!(await read(u, jti))) return { status: 'gone' } as WriteResult;
      return write(u, jti, data, expectVersion, false);
    }
    if (r.status === 'hit' && pg) await pg.writeVersion(u, jti, data, r.rec.version);
    return r;
  }

  const store: SessionStore<T> = {
    ttlMs,

    async create(userId, data, createOptions = {}) {
      ensureOpen();
      const u = userIdOf(userId);
      const jti = createOptions.jti ?? randomBytes(24).toString('base64url');
      if (!JTI_RE.test(jti)) {
        throw new FerryError(E_SESSION_ARGUMENT, 'A jti must be 8-128 characters of letters, digits, _ and -.');
      }
      const json = serialize(data);
      if (!pg) {
        const r = await onFast((b) => b.create(u, jti, json, ttlMs, null));
        if (!r) throw unavailable();
        if (r.status !== 'ok') throw exists(jti);
        return toSession(u, jti, r.rec);
      }
      // Persisted: Postgres first (the truth), then Redis, only if no revokeAllForUser ran in between.
      const gen = await onFast((b) => b.gen(u));
      const now = Date.now();
      const rec: Rec = { data: json, createdAt: now, lastActivityAt: now, expiresAt: now + ttlMs, version: 1 };
      if (!(await pg.insert(u, jti, rec))) throw exists(jti);
      if (gen === undefined) return toSession(u, jti, rec);
      const r = await onFast((b) => b.create(u, jti, json, ttlMs, gen));
      if (r?.status === 'revoked') {
        await pg.revoke(u, jti);
        throw new FerryError(
          E_SESSION_REVOKED,
          `The new session of user ${u} was revoked by a concurrent revokeAllForUser; log in again.`,
          { details: { userId: u } },
        );
      }
      if (r?.status === 'taken') {
        await pg.revoke(u, jti);
        throw exists(jti);
      }
      return toSession(u, jti, r?.status === 'ok' ? r.rec : rec);
    },

    async get(ref) {
      ensureOpen();
      const { u, jti } = parseRef(ref);
      const rec = await read(u, jti);
      return rec ? toSession(u, jti, rec) : null;
    },

    async touch(ref) {
      ensureOpen();
      const { u, jti } = parseRef(ref);
      const rec = await touch(u, jti);
      return rec ? toSession(u, jti, rec) : null;
    },

    async set(ref, data) {
      ensureOpen();
      const { u, jti } = parseRef(ref);
      const r = await write(u, jti, serialize(data), null);
      return r.status === 'hit' ? toSession(u, jti, r.rec) : null;
    },

    async update(ref, fn) {
      ensureOpen();
      const { u, jti } = parseRef(ref);
      for (let attempt = 0; attempt < 50; attempt++) {
        const current = await read(u, jti);
        if (!current) return null;
        const next = serialize(fn(JSON.parse(current.data) as T));
        const r = await write(u, jti, next, current.version);
        if (r.status === 'hit') return toSession(u, jti, r.rec);
        if (r.status !== 'conflict') return null;
        // Lost a race: back off a random, growing while so contenders spread out.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)));
      }
      throw new FerryError(E_SESSION_CONFLICT, `update of session ${u}:${jti} kept racing concurrent writes; retry.`);
    },

    async revoke(ref) {
      ensureOpen();
      const { u, jti } = parseRef(ref);
      let live = false;
      if (pg) live = await pg.revoke(u, jti);
      const op = () => fast!.revoke(u, jti, tombstoneMs);
      if (fast) {
        try {
          if (redisClient && !redisUsable(redisClient)) throw unavailable();
          live = (await op()) || live;
        } catch (err) {
          if (!pg) throw err instanceof FerryError ? err : unavailable(err);
          // Postgres has it; Redis is told as soon as it is back (and this process refuses the session meanwhile).
          schedule(`${u}:${jti}`, op);
          onError(err);
        }
      }
      return live;
    },

    async revokeAllForUser(userId) {
      ensureOpen();
      const u = userIdOf(userId);
      let n = 0;
      if (pg) n = await pg.revokeAll(u);
      const op = () => fast!.revokeAll(u);
      if (fast) {
        try {
          if (redisClient && !redisUsable(redisClient)) throw unavailable();
          const m = await op();
          if (!pg) n = m;
        } catch (err) {
          if (!pg) throw err instanceof FerryError ? err : unavailable(err);
          schedule(`${u}:*`, op);
          onError(err);
        }
      }
      return n;
    },

    async list(userId) {
      ensureOpen();
      const u = userIdOf(userId);
      if (pending.has(`${u}:*`)) return [];
      if (!pg) {
        const r = await onFast((b) => b.list(u));
        if (!r) throw unavailable();
        // Memory lists in creation order already (a stable sort keeps it); Redis breaks ties with microseconds.
        return r.sort(byCreation).map(({ jti, rec }) => toSession(u, jti, rec));
      }
      // Postgres says which sessions are live; Redis has their freshest activity and data.
      const truth = await pg.list(u);
      const cached = new Map((await onFast((b) => b.list(u)))?.map((x) => [x.jti, x.rec]) ?? []);
      return truth
        .filter(({ jti }) => !pending.has(`${u}:${jti}`))
        .map(({ jti, rec }) => toSession(u, jti, cached.get(jti) ?? rec));
    },

    async issueRefreshToken(userId, issueOptions = {}) {
      ensureOpen();
      if (!pg) throw noPersist();
      const u = userIdOf(userId);
      let sessionJti: string | null = null;
      if (issueOptions.session !== undefined) {
        const ref = parseRef(issueOptions.session);
        if (ref.u !== u) throw new FerryError(E_SESSION_ARGUMENT, 'The session belongs to another user.');
        sessionJti = ref.jti;
      }
      const ttl = issueOptions.ttl === undefined ? refreshTtlMs : Math.round(issueOptions.ttl * 1000);
      return insertRefresh(pg, u, sessionJti, ttl);
    },

    async rotateRefreshToken(token) {
      ensureOpen();
      if (!pg) throw noPersist();
      if (typeof token !== 'string' || token.length < 16) return null;
      const hash = sha256(token);
      const next = randomBytes(32).toString('base64url');
      const nextHash = sha256(next);
      // One statement: only one of two concurrent rotations of the same token wins.
      const row = await pg.db
        .updateTable(pg.refresh)
        .set({ revoked: true, revoked_at: sql`now()`, replaced_by: nextHash })
        .where('token_hash', '=', hash)
        .where('revoked', '=', false)
        .where('expires_at', '>', sql`now()`)
        .returning(['user_id', 'session_jti', 'expires_at'])
        .executeTakeFirst();
      if (!row) {
        const old = await pg.db
          .selectFrom(pg.refresh)
          .select(['user_id', 'replaced_by'])
          .where('token_hash', '=', hash)
          .executeTakeFirst();
        // A token that was already exchanged is being replayed: assume it was stolen.
        if (old?.replaced_by) await store.revokeAllForUser(String(old.user_id));
        return null;
      }
      const u = String(row.user_id);
      const sessionJti = (row.session_jti as string | null) ?? null;
      if (sessionJti && !(await read(u, sessionJti))) return null; // its session has ended
      return insertRefresh(pg, u, sessionJti, refreshTtlMs, next);
    },

    async revokeRefreshToken(token) {
      ensureOpen();
      if (!pg) throw noPersist();
      const r = await pg.db
        .updateTable(pg.refresh)
        .set({ revoked: true, revoked_at: sql`now()` })
        .where('token_hash', '=', sha256(String(token)))
        .where('revoked', '=', false)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },

    async close() {
      if (closed) return;
      closed = true;
      if (retryTimer) clearInterval(retryTimer);
      await fast?.close();
    },
  };
  return store;
}

async function insertRefresh(
  pg: PgStore,
  u: string,
  sessionJti: string | null,
  ttlMs: number,
  token = randomBytes(32).toString('base64url'),
): Promise<RefreshToken> {
  const expiresAt = new Date(Date.now() + ttlMs);
  await pg.db
    .insertInto(pg.refresh)
    .values({
      user_id: u,
      token_hash: sha256(token),
      session_jti: sessionJti,
      expires_at: expiresAt,
      created_at: new Date(),
    })
    .execute();
  return { token, userId: u, sessionId: sessionJti ? `${u}:${sessionJti}` : null, expiresAt };
}

function byCreation(a: { rec: Rec; order?: string }, b: { rec: Rec; order?: string }): number {
  if (a.rec.createdAt !== b.rec.createdAt) return a.rec.createdAt - b.rec.createdAt;
  const x = a.order ?? '';
  const y = b.order ?? '';
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const noPersist = () =>
  new FerryError(
    E_SESSION_NO_PERSIST,
    'Refresh tokens are stored in Postgres: create the session store with `persist`.',
  );

const exists = (jti: string) =>
  new FerryError(E_SESSION_EXISTS, `A session with jti ${jti} exists or was revoked; jtis are single-use.`, {
    details: { jti },
  });

function userIdOf(userId: UserId): string {
  const u = typeof userId === 'number' && Number.isSafeInteger(userId) ? String(userId) : userId;
  if (typeof u !== 'string' || !USER_RE.test(u)) {
    throw new FerryError(
      E_SESSION_ARGUMENT,
      'A user id must be an integer or a string of 1-128 characters without whitespace or braces.',
    );
  }
  return u;
}

function parseRef(ref: SessionRef): { u: string; jti: string } {
  let u: string;
  let jti: string;
  if (typeof ref === 'string') {
    const at = ref.lastIndexOf(':');
    if (at <= 0) throw badRef();
    u = ref.slice(0, at);
    jti = ref.slice(at + 1);
  } else if (typeof ref === 'object' && ref !== null) {
    u = typeof ref.userId === 'number' ? String(ref.userId) : ref.userId;
    jti = ref.jti;
  } else {
    throw badRef();
  }
  if (typeof u !== 'string' || !USER_RE.test(u) || typeof jti !== 'string' || !JTI_RE.test(jti)) throw badRef();
  return { u, jti };
}

const badRef = () =>
  new FerryError(E_SESSION_ARGUMENT, 'A session id is "<userId>:<jti>" as returned by create(), or { userId, jti }.');

function serialize(data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    throw new FerryError(E_SESSION_ARGUMENT, `Session data must be JSON-serialisable: ${(err as Error).message}`);
  }
  if (json === undefined) throw new FerryError(E_SESSION_ARGUMENT, 'Session data must be JSON-serialisable.');
  return json;
}
