/**
 * `createCache`: an in-process L1 (lru-cache, size-bounded) in front of an
 * optional Redis L2, correct first and fast second.
 *
 * - One loader call per key per process however many callers miss at once.
 * - Redis failures never reach callers: a circuit breaker with a short
 *   per-command timeout sends reads to the loader and skips writes;
 *   invalidations that could not be written are replayed before Redis is
 *   read again (see l2.ts), so nothing written before an outage can
 *   resurface after it.
 * - Every write revokes the key's Redis lease, and a loader's result is
 *   stored only under the lease it took before loading (stale-fill race).
 * - Invalidations reach other instances through pub/sub (keys only). An
 *   instance serves L1 entries, and L2 values read by commands it sent, only
 *   while a heartbeat on the bus sent less than `bus.maxStale` ago has been
 *   answered: every invalidation Redis ran before that heartbeat has then
 *   been heard (bus.ts), so nothing served is older than `maxStale` after
 *   Redis ran the invalidation — however loaded or stalled this process is.
 *   When the bus comes back after being down, or the breaker closes after an
 *   outage, L1 is cleared and neither L1 nor L2 is served for `quarantineMs`:
 *   other instances may still be replaying invalidations Redis missed.
 * - A value in Redis that cannot be decoded is a miss (deleted, counted,
 *   warned once per key prefix), never a throw; keys and values have size
 *   limits (limits.ts).
 *
 * Over 600 lines: one class whose two read paths (`get` and `getOrSet`'s
 * flights) share its private state — L1, invalidation tickets, flights in
 * progress — which splitting it would have to expose.
 */

import { LRUCache } from 'lru-cache';
import { redactText } from '../db/url.js';
import type { Duration } from '../duration.js';
import type { FerryError } from '../errors.js';
import type { LayerLogger, Logger } from '../logger.js';
import { RedisAnnouncer } from '../redis/announce.js';
import { openRedis } from '../redis/connection.js';
import type { CachedRepository, CachedRepositoryOptions, Repository, RepositoryCache } from '../repo/repository.js';
import type { Table } from '../schema/table.js';
import { OncePer, type Warn, warner } from '../warnings.js';
import { cachedRepository } from './cached-repo.js';
import { decode, deepFreeze, encode } from './codec.js';
import { cacheError, E_CACHE_CLOSED, E_CACHE_KEY, E_CACHE_VALUE } from './errors.js';
import { type Entry, Flight, type Graced, type Ticket } from './flight.js';
import { type BreakerState, checkCacheSlots, FAIL, type Fail, type ReadResult, Remote, type Sent } from './l2.js';
import { bytesOver, checkKeySize, keyPrefix } from './limits.js';
import {
  type CacheOptions,
  cacheMs,
  DEFAULTS,
  type GetOrSetOptions,
  resolveCacheOptions,
  type SetOptions,
} from './options.js';
import { msAt, parseStored, stored } from './stored.js';

export type { Duration } from '../duration.js';
export type { BreakerState } from './l2.js';
export type { CacheOptions, GetOrSetOptions, SetOptions } from './options.js';

/** The logger the cache accepts (any pino-compatible logger; see src/logger.ts). */
export type CacheLogger = Logger;

export interface CacheStats {
  l1: { hits: number; misses: number; entries: number; bytes: number };
  l2: { hits: number; misses: number };
  loader: { calls: number; errors: number; coalesced: number };
  /** Graced values served because the loader failed or was slow. */
  graceServed: number;
  /** Loader results not stored because the key was written while loading. */
  staleFillsRefused: number;
  /** Redis errors (timeouts included). */
  errors: number;
  /**
   * Values read from Redis that could not be decoded (truncated, broken JSON,
   * bad tags, another program's data): each was deleted and served as a miss.
   */
  corrupt: number;
  breaker: BreakerState | 'off';
  bus: 'up' | 'down' | 'off';
  /** Invalidations waiting for Redis to come back. */
  pendingInvalidations: number;
  /** Invalidations replayed to Redis once it answered again (a namespace flush counts as one). */
  replayedInvalidations: number;
}

/** Keys remembered as invalidated while reads were in flight, at most (beyond: every read in flight is stale). */
const MAX_RECENT = 10_000;

/**
 * Longest pause between reconnection attempts of the clients the cache
 * creates: after an outage, an instance must rejoin (and replay what it could
 * not invalidate) well within the quarantine of the others (2 × breakMs).
 */
const RECONNECT_MAX_MS = 200;

/** What #hit returns when Redis has no servable value. */
const MISS: unique symbol = Symbol('ferry.cache.miss');
/** What #hit returns when the value in Redis cannot be decoded (see #corrupt). */
const CORRUPT: unique symbol = Symbol('ferry.cache.corrupt');

export class Cache implements RepositoryCache {
  readonly namespace: string;
  readonly #l1: LRUCache<string, Entry> | null;
  readonly #remote: Remote | null;
  readonly #l1Ttl: number;
  readonly #ttl: number;
  /**
   * Until when (performance.now()) L1 may be served and L2 read: the only
   * field the L1 hit path reads besides the entry (see Remote.trustUntil).
   * Infinity without Redis or without a bus.
   */
  #trustUntil = Number.POSITIVE_INFINITY;
  readonly #freeze: boolean;
  /** l1.maxBytes, if set: larger values are never offered to L1. */
  readonly #maxBytes: number | undefined;
  /**
   * Loads in progress by key. It always holds one more entry, under '' (never
   * a key): a Map emptied by a delete shrinks its table, a runtime call and
   * an allocation that every getOrSet would otherwise pay.
   */
  readonly #flights = new Map<string, Flight | null>([['', null]]);
  /** Invalidations so far (a ticket is this count when a read starts). */
  #seq = 0;
  /** #seq of the last invalidation of everything. */
  #allAt = 0;
  /** Keys invalidated while reads were in flight -> #seq then; emptied whenever no read is. */
  readonly #recent = new Map<string, number>();
  /** Reads and loads in flight. */
  #reading = 0;
  readonly #log: LayerLogger;
  readonly #onError: ((err: FerryError) => void) | undefined;
  readonly #maxValueBytes: number;
  /** Operator warnings (logger, else process.emitWarning; see src/warnings.ts). */
  readonly #warn: Warn;
  readonly #corruptWarned = new OncePer();
  readonly #tooLargeWarned = new OncePer();
  readonly #announcer: RedisAnnouncer | null = null;
  #closed = false;
  readonly #s = {
    l1Hits: 0,
    l1Misses: 0,
    l2Hits: 0,
    l2Misses: 0,
    loaderCalls: 0,
    loaderErrors: 0,
    coalesced: 0,
    graceServed: 0,
    staleFillsRefused: 0,
    corrupt: 0,
  };

  constructor(options: CacheOptions) {
    const o = resolveCacheOptions(options);
    this.namespace = o.namespace;
    if (o.l1 === null) {
      this.#l1 = null;
      this.#maxBytes = undefined;
      this.#freeze = false;
    } else {
      this.#l1 = new LRUCache<string, Entry>({
        max: o.l1.max,
        ...(o.l1.maxBytes !== undefined ? { maxSize: o.l1.maxBytes } : {}),
        ttlAutopurge: false,
      });
      this.#maxBytes = o.l1.maxBytes;
      this.#freeze = o.l1.freeze;
    }
    this.#l1Ttl = o.l1TtlMs;
    this.#ttl = o.ttlMs;
    this.#onError = o.onError;
    this.#log = o.log.cache;
    this.#maxValueBytes = o.maxValueBytes;
    this.#warn = warner(options.logger, 'cache');

    const connection = openRedis(options.redis, {
      ...options.client,
      mode: 'fail-fast',
      env: options.env,
      what: 'createCache',
      logger: options.logger,
      // Instances must rejoin well within the quarantine of the others after
      // an outage, to replay the invalidations they could not write.
      maxReconnectDelayMs: RECONNECT_MAX_MS,
    });
    if (!connection) {
      this.#remote = null;
      return;
    }
    try {
      checkCacheSlots(connection.client, o.namespace);
    } catch (err) {
      void connection.close();
      throw err;
    }
    // Nothing is proven until the bus is up and a heartbeat answered.
    if (o.bus !== null) this.#trustUntil = 0;
    const secrets = connection.secrets;
    const redact = (text: string) => redactText(text, secrets);
    const ns = { namespace: this.namespace };
    const announcer = new RedisAnnouncer({
      what: `createCache "${this.namespace}"`,
      shown: connection.shown,
      fallback: 'reads go to the loader and writes skip Redis',
      logger: options.logger,
      layer: 'l2',
    });
    this.#announcer = announcer;
    /** The last Redis error, for the reason of the warning when the breaker opens. */
    let lastError = 'no answer';
    this.#remote = new Remote({
      client: connection.client,
      ownsClient: connection.owned,
      namespace: o.namespace,
      timeoutMs: o.timeoutMs,
      threshold: o.threshold,
      breakMs: o.breakMs,
      quarantineMs: o.quarantineMs,
      leaseTtlMs: o.leaseTtlMs,
      bus: o.bus,
      redact,
      events: {
        onInvalidate: (keys) => {
          if (keys === 'all') this.#invalidateAll();
          else for (const k of keys) this.#invalidate(k);
        },
        // Invalidations may have been missed while the bus was down: nothing in L1 can be trusted.
        onBusUp: () => {
          this.#invalidateAll();
          o.log.bus.info(ns, 'cache: invalidation bus up (L1 cleared)');
        },
        onBusDown: () =>
          o.log.bus.warn(ns, 'cache: invalidation bus down; L1 and Redis values are not served until it is back'),
        onTrust: (until) => {
          this.#trustUntil = until;
        },
        // Never silent (no logger: a process warning): other instances may serve the old value meanwhile.
        onUnconfirmed: (keys) =>
          this.#warn(
            'warn',
            'FERRY_CACHE_INVALIDATION_UNCONFIRMED',
            `createCache "${this.namespace}": ${keys} invalidation(s) not confirmed by Redis; replayed when Redis answers (other instances may serve the old value until then).`,
            { ...ns, keys },
          ),
        // Once per transition (the announcer ignores repeats: a failed probe re-opens an open breaker).
        onBreaker: (state, reason) => {
          o.log.l2.debug({ ...ns, state, reason }, `cache: circuit breaker ${state}`);
          if (state === 'open') announcer.down(`${reason}: ${lastError}`);
          else if (state === 'closed') announcer.up();
        },
        onError: (err, op) => {
          lastError = err.message;
          o.log.l2.debug({ ...ns, op, code: err.code, msg: err.message }, 'cache: Redis error');
          // The first connection failure opens no breaker (it starts open): say it now.
          if (op === 'connection') announcer.down(err.message);
          this.#onError?.(err);
        },
      },
    });
  }

  // ---------------------------------------------------------------- public

  /** The cached value, or undefined (a negative entry also reads as its cached undefined/null). */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    this.#check(key);
    const l1 = this.#l1;
    let now = performance.now();
    // See getOrSet: wait for one heartbeat rather than answer a miss.
    if (!(now < this.#trustUntil) && this.#remote?.provable) {
      await this.#remote.proof();
      now = performance.now();
    }
    if (l1 !== null) {
      const e = l1.get(key);
      if (e !== undefined && this.#fresh(e, now)) {
        this.#s.l1Hits++;
        return e.v as T;
      }
      this.#s.l1Misses++;
    }
    // Untrusted (see #trustUntil): Redis may answer before running an invalidation it already holds.
    const sent = now < this.#trustUntil ? this.#remote?.send(key) : null;
    if (sent == null) return undefined;
    const ticket = this.#watch();
    let raw: string | null | Fail;
    let value: unknown;
    try {
      try {
        raw = await sent.promise;
        this.#remote!.received(sent, raw);
      } catch (err) {
        raw = this.#remote!.failed(sent, err);
      }
      value = raw === FAIL ? MISS : this.#hit(key, raw, ticket);
      if (value === CORRUPT) {
        await this.#corrupt(key);
        value = MISS;
      }
    } finally {
      this.#unwatch();
    }
    if (value === MISS) {
      if (raw !== FAIL) this.#s.l2Misses++;
      return undefined;
    }
    return value as T;
  }

  /** Store a value in L1 and Redis and invalidate it on other instances. Last writer wins: prefer `delete` after a commit. */
  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    this.#check(key);
    if (value === undefined) {
      throw cacheError(E_CACHE_VALUE, `cache.set("${key}", undefined): undefined cannot be cached; use delete().`);
    }
    const ttl = options.ttl === undefined ? this.#ttl : cacheMs(options.ttl, 'ttl');
    const grace = options.grace === undefined ? 0 : cacheMs(options.grace, 'grace');
    const json = encode(value);
    const bytes = bytesOver(json, this.#maxValueBytes);
    if (bytes > 0) {
      throw cacheError(
        E_CACHE_VALUE,
        `cache.set("${key}"): the value is ${bytes} bytes encoded, over maxValueBytes (${this.#maxValueBytes}); cache something smaller or raise maxValueBytes.`,
      );
    }
    const now = Date.now();
    this.#invalidate(key);
    if (this.#l1 !== null) this.#l1Set(key, this.#freezeValue(value), ttl, ttl + grace, json.length);
    await this.#remote?.set(key, stored(now + ttl, now + ttl + grace, json), ttl + grace);
  }

  /**
   * Remove keys from L1 and Redis and from every other instance's L1. Call it
   * after the write commits (`scope.afterCommit`). Never throws for Redis:
   * an invalidation that cannot be written is replayed before this instance
   * reads Redis again.
   */
  async delete(key: string | readonly string[]): Promise<void> {
    const keys = typeof key === 'string' ? [key] : [...key];
    for (const k of keys) {
      this.#check(k);
      this.#invalidate(k);
    }
    await this.#remote?.delete(keys);
  }

  /** Drop every entry of the namespace, everywhere. */
  async clear(): Promise<void> {
    this.#check();
    this.#invalidateAll();
    await this.#remote?.clear();
  }

  /**
   * A read-through view of `repo` on this cache (what `repo.cached(options)`
   * calls: a `Cache` is the repositories' `RepositoryCache`). Same as
   * `cachedRepository(repo, cache, options)`.
   */
  cachedRepository<T extends Table>(repo: Repository<T>, options: CachedRepositoryOptions<T>): CachedRepository<T> {
    return cachedRepository(repo, this, options);
  }

  /**
   * The cached value, else the loader's (stored for `ttl`). Concurrent misses
   * of a key in this process share one loader call (the first caller's
   * options apply). A loader's error is rethrown unless a graced value can be
   * served. Redis errors never throw.
   */
  getOrSet<T>(key: string, loader: () => T | Promise<T>, options: GetOrSetOptions = {}): Promise<T> {
    try {
      this.#check(key);
    } catch (err) {
      return Promise.reject(err);
    }
    const l1 = this.#l1;
    let e: Entry | undefined;
    const now = performance.now();
    if (l1 !== null) {
      e = l1.get(key);
      if (e !== undefined && this.#fresh(e, now)) {
        this.#s.l1Hits++;
        return Promise.resolve(e.v as T);
      }
    }
    // Not proven lately (this process was busy or stalled, most often): one
    // heartbeat, shared by every such read, usually restores trust within a
    // round trip — cheaper than sending them all to the loader. Also when a
    // load of the key is under way: it may have begun before an invalidation
    // that waits unread in the socket (a stall), and joining it would serve
    // what it loaded however long ago Redis ran that invalidation; the
    // heartbeat's answer comes after it, and the invalidation drops the flight.
    if (!(now < this.#trustUntil) && this.#remote?.provable) {
      return this.#afterProof(key, loader, options) as Promise<T>;
    }
    return this.#miss(key, loader, options, e, now, true) as Promise<T>;
  }

  /** getOrSet once a heartbeat has been answered, or `timeoutMs` has passed without one (then Redis is skipped). */
  async #afterProof(key: string, loader: () => unknown, options: GetOrSetOptions): Promise<unknown> {
    const proven = await this.#remote!.proof();
    const now = performance.now();
    const e = this.#l1?.get(key);
    if (e !== undefined && this.#fresh(e, now)) {
      this.#s.l1Hits++;
      return e.v;
    }
    return this.#miss(key, loader, options, e, now, proven);
  }

  /** getOrSet past L1: join the key's flight or start one (`redis` false: straight to the loader). */
  #miss(
    key: string,
    loader: () => unknown,
    options: GetOrSetOptions,
    e: Entry | undefined,
    now: number,
    redis: boolean,
  ): Promise<unknown> {
    if (this.#l1 !== null) this.#s.l1Misses++;
    let flight = this.#flights.get(key);
    if (flight) this.#s.coalesced++;
    else {
      try {
        flight = this.#start(key, loader, options, e, now, redis);
      } catch (err) {
        return Promise.reject(err); // bad durations in options
      }
    }
    return flight.soft === undefined ? flight.promise : Promise.race([flight.promise, flight.soft]);
  }

  stats(): CacheStats {
    const s = this.#s;
    const r = this.#remote;
    return {
      l1: { hits: s.l1Hits, misses: s.l1Misses, entries: this.#l1?.size ?? 0, bytes: this.#l1?.calculatedSize ?? 0 },
      l2: { hits: s.l2Hits, misses: s.l2Misses },
      loader: { calls: s.loaderCalls, errors: s.loaderErrors, coalesced: s.coalesced },
      graceServed: s.graceServed,
      staleFillsRefused: s.staleFillsRefused,
      errors: r?.errors ?? 0,
      corrupt: s.corrupt,
      breaker: r ? r.state : 'off',
      bus: r === null || !r.hasBus ? 'off' : r.busUp ? 'up' : 'down',
      pendingInvalidations: r?.pendingCount ?? 0,
      replayedInvalidations: r?.replayedCount ?? 0,
    };
  }

  /**
   * Resolves true once Redis is connected (breaker closed) and the bus
   * subscribed and proven by an answered heartbeat, false after `timeoutMs`
   * (default 5000) — the cache works either way (reading the loader until
   * then). Always true without Redis.
   */
  ready(timeoutMs = 5_000): Promise<boolean> {
    return this.#remote ? this.#remote.ready(timeoutMs) : Promise.resolve(true);
  }

  /** Close Redis connections the cache opened (not a client passed in) and empty L1. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = this.#remote?.pendingCount ?? 0;
    if (pending > 0) {
      this.#log.warn(
        { namespace: this.namespace, pending },
        'cache: closing with invalidations Redis never received; other instances may serve those keys until they expire',
      );
    }
    this.#announcer?.close();
    this.#invalidateAll();
    await this.#remote?.close();
  }

  // ------------------------------------------------------------- internals

  #check(key?: string): void {
    if (this.#closed) throw cacheError(E_CACHE_CLOSED, `Cache "${this.namespace}" was used after close().`);
    if (key !== undefined && (typeof key !== 'string' || key === '')) {
      throw cacheError(
        E_CACHE_KEY,
        `Cache keys must be non-empty strings, received ${JSON.stringify(key) ?? String(key)}.`,
      );
    }
    if (key !== undefined) checkKeySize(key);
  }

  /**
   * A value in Redis that cannot be decoded is a miss, whatever made it
   * (a truncated write, another program, a bug): delete it through the
   * normal path (other instances' L1 too) so the next read loads again
   * instead of failing until it expires, count it, warn once per key prefix.
   */
  async #corrupt(key: string): Promise<void> {
    this.#s.corrupt++;
    const prefix = keyPrefix(key);
    if (this.#corruptWarned.first(prefix)) {
      this.#warn(
        'warn',
        'FERRY_CACHE_CORRUPT',
        `createCache "${this.namespace}": a value in Redis under "${prefix}" (key "${key.slice(0, 100)}") could not be decoded; it was deleted and read as a miss. Later ones under this prefix are only counted in stats().corrupt.`,
        { namespace: this.namespace, key },
      );
    }
    await this.#remote?.delete([key]);
  }

  /**
   * Fresh and trustworthy: not expired, and this instance is known to hear
   * invalidations (an entry it still holds was not invalidated more than
   * `maxStale` ago; see Remote.trustUntil).
   */
  #fresh(e: Entry, now: number): boolean {
    return now < e.exp && now < this.#trustUntil;
  }

  #freezeValue<T>(value: T): T {
    return this.#freeze ? deepFreeze(value) : value;
  }

  #l1Set(key: string, value: unknown, ttlMs: number, hardMs: number, size: number): void {
    const l1 = this.#l1;
    if (l1 === null || this.#closed) return;
    const maxBytes = this.#maxBytes;
    if (maxBytes !== undefined && size > maxBytes) {
      // Too large to keep (lru-cache would refuse it): only the older entry must go.
      l1.delete(key);
      return;
    }
    const now = performance.now();
    const life = Math.min(ttlMs, this.#l1Ttl);
    // Kept past `life` only when there is a grace period to serve it in.
    const hard = hardMs > ttlMs ? Math.max(life, hardMs) : life;
    if (hard <= 0) return;
    const entry: Entry = { v: value, at: now, exp: now + life, hard: now + hard };
    l1.set(
      key,
      entry,
      maxBytes !== undefined ? { ttl: Math.ceil(hard), size: Math.max(1, size) } : { ttl: Math.ceil(hard) },
    );
  }

  /**
   * A Redis value just read: the decoded value (frozen if L1 freezes), stored
   * in L1 unless the key was invalidated meanwhile; MISS when absent, expired
   * or not to be trusted (just after an outage). Counts L2 hits only.
   */
  #hit(key: string, raw: string | null, ticket: Ticket): unknown {
    if (raw === null) return MISS;
    const a = raw.indexOf('|');
    const b = a < 0 ? -1 : raw.indexOf('|', a + 1);
    if (b < 0) return CORRUPT;
    const exp = msAt(raw, 0, a);
    const hard = msAt(raw, a + 1, b);
    if (Number.isNaN(exp) || Number.isNaN(hard)) return CORRUPT;
    const now = Date.now();
    // Not decoded when expired: a corrupt expired value is a miss anyway (and goes with its PX).
    if (!(exp > now) || this.#remote!.suspect) return MISS;
    let decoded: unknown;
    try {
      decoded = decode(raw.slice(b + 1));
    } catch {
      return CORRUPT;
    }
    this.#s.l2Hits++;
    const value = this.#freezeValue(decoded);
    if (this.#l1 !== null && !this.#stale(key, ticket)) {
      this.#l1Set(key, value, exp - now, hard - now, raw.length);
    }
    return value;
  }

  #watch(): Ticket {
    this.#reading++;
    return this.#seq;
  }

  #unwatch(): void {
    if (--this.#reading === 0 && this.#recent.size > 0) this.#recent.clear();
  }

  /** The key was invalidated since `ticket` was taken (conservatively: true when that can no longer be told). */
  #stale(key: string, ticket: Ticket): boolean {
    return this.#seq !== ticket && (this.#allAt > ticket || (this.#recent.get(key) ?? 0) > ticket);
  }

  /** The key changed: drop it from L1, and stop every read in progress from storing what it read. */
  #invalidate(key: string): void {
    this.#l1?.delete(key);
    const seq = ++this.#seq;
    if (this.#reading > 0) {
      this.#recent.set(key, seq);
      if (this.#recent.size > MAX_RECENT) this.#staleAll();
    }
    // Later callers must not join a load that may predate the change.
    this.#flights.delete(key);
  }

  #invalidateAll(): void {
    this.#l1?.clear();
    this.#staleAll();
    this.#flights.clear();
    this.#flights.set('', null);
  }

  /** Every read and load in flight is stale. */
  #staleAll(): void {
    this.#allAt = ++this.#seq;
    this.#recent.clear();
  }

  #start(
    key: string,
    loader: () => unknown,
    options: GetOrSetOptions,
    l1Entry: Entry | undefined,
    now: number,
    redis: boolean,
  ): Flight {
    const grace = options.grace === undefined ? 0 : cacheMs(options.grace, 'grace');
    const graceTimeout =
      options.graceTimeout === undefined ? DEFAULTS.graceTimeout : cacheMs(options.graceTimeout, 'graceTimeout');
    const remote = this.#remote;
    // An L2 hit, the common case, is one plain GET: sent first, the bookkeeping
    // below happens while it travels. Only a miss or an expired value pays for
    // the lease-taking script (#fly). Untrusted (see #trustUntil), a value
    // Redis returns may be one it is about to invalidate: reload under a lease.
    const trusted = now < this.#trustUntil;
    const sent = trusted ? (remote?.send(key) ?? null) : null;
    const viaLease = !trusted && redis && remote?.usable === true;
    const flight = new Flight(key, this.#watch());
    const graced = grace > 0 ? this.#graced(flight, graceTimeout) : null;
    // The last value, servable if the loader fails (or is slow) — only while nothing invalidated it.
    if (graced !== null && l1Entry !== undefined && now < l1Entry.hard && trusted) graced.offer(l1Entry.v);
    flight.promise = this.#fly(key, loader, options, grace, flight, graced, sent, viaLease);
    // Not when the flight already ended (a loader that threw synchronously).
    if (!flight.done) this.#flights.set(key, flight);
    return flight;
  }

  /** A graced value from Redis (logically expired, within grace), unless it cannot be decoded. */
  async #offerStored(key: string, raw: string, graced: Graced): Promise<void> {
    const found = parseStored(raw);
    if (found === null || !(found.hard > Date.now())) return;
    let value: unknown;
    try {
      value = found.value();
    } catch {
      return this.#corrupt(key);
    }
    graced.offer(this.#freezeValue(value));
  }

  /** The error of a loader result over maxValueBytes (warned once per key prefix). */
  #tooLarge(key: string, bytes: number): FerryError {
    const message = `cache.getOrSet("${key}"): the loaded value is ${bytes} bytes encoded, over maxValueBytes (${this.#maxValueBytes}); it is returned but not cached.`;
    if (this.#tooLargeWarned.first(keyPrefix(key))) {
      this.#warn('warn', 'FERRY_CACHE_VALUE_TOO_LARGE', `createCache "${this.namespace}": ${message}`, {
        namespace: this.namespace,
        key,
      });
    }
    return cacheError(E_CACHE_VALUE, message, { details: { key, bytes, maxValueBytes: this.#maxValueBytes } });
  }

  /** Grace bookkeeping of a flight: the value to fall back on, and `flight.soft`, which serves it once the loader is slow. */
  #graced(flight: Flight, graceTimeout: number): Graced {
    const graced: Graced = { v: undefined, has: false, timer: undefined, offer: () => {} };
    flight.soft = new Promise<unknown>((resolve) => {
      graced.offer = (v) => {
        graced.v = v;
        graced.has = true;
        if (graced.timer !== undefined) return;
        graced.timer = setTimeout(() => {
          if (this.#stale(flight.key, flight.ticket)) return;
          this.#s.graceServed++;
          resolve(v);
        }, graceTimeout);
        graced.timer.unref();
      };
    });
    return graced;
  }

  /** The load of a flight: Redis (a plain GET first), else the loader under a lease; then cleanup. */
  async #fly(
    key: string,
    loader: () => unknown,
    options: GetOrSetOptions,
    grace: number,
    flight: Flight,
    graced: Graced | null,
    sent: Sent | null,
    /** Untrusted: no plain GET, straight to the lease (a reload that also refreshes Redis). */
    viaLease: boolean,
  ): Promise<unknown> {
    const ticket = flight.ticket;
    try {
      const remote = this.#remote;
      let lease: string | undefined;
      let r: ReadResult | Fail | null = null;
      if (sent !== null && remote !== null) {
        let raw: string | null | Fail;
        try {
          raw = await sent.promise;
          remote.received(sent, raw);
        } catch (err) {
          raw = remote.failed(sent, err);
        }
        if (raw !== FAIL) {
          const value = this.#hit(key, raw, ticket);
          if (value === CORRUPT) await this.#corrupt(key);
          else if (value !== MISS) return value;
        }
        // The READ may return a value only if it is sent while trusted too.
        const trusted = performance.now() < this.#trustUntil;
        r = raw === FAIL ? raw : await remote.read(key, !trusted);
        if (r !== FAIL && r.kind === 'hit') {
          const value = this.#hit(key, r.raw, ticket);
          if (value === CORRUPT) await this.#corrupt(key);
          else if (value !== MISS) return value;
          // Logically expired (kept for grace), or just after an outage: take a lease and reload.
          else if (graced !== null && !graced.has && !remote.suspect) await this.#offerStored(key, r.raw, graced);
          r = await remote.read(key, true);
        }
      } else if (viaLease && remote !== null) {
        r = await remote.read(key, true);
      }
      if (r !== null && r !== FAIL && r.kind === 'miss') {
        this.#s.l2Misses++;
        lease = r.lease;
      }

      this.#s.loaderCalls++;
      let value: unknown;
      try {
        value = await loader();
      } catch (err) {
        this.#s.loaderErrors++;
        if (graced?.has && !this.#stale(key, ticket)) {
          this.#s.graceServed++;
          return graced.v;
        }
        throw err;
      }

      const absent = value === undefined || value === null;
      if (absent && !options.negative) return value;
      const ttl = absent
        ? options.negative === true
          ? DEFAULTS.negativeTtl
          : cacheMs(options.negative as Duration, 'negative')
        : options.ttl === undefined
          ? this.#ttl
          : cacheMs(options.ttl, 'ttl');
      const keep = absent ? ttl : ttl + grace;
      let json: string;
      try {
        json = encode(value);
      } catch (err) {
        // The caller still gets its value; it just is not cached.
        this.#onError?.(err as FerryError);
        this.#log.warn({ namespace: this.namespace, key, msg: (err as Error).message }, 'cache: value not cacheable');
        return value;
      }
      const bytes = bytesOver(json, this.#maxValueBytes);
      if (bytes > 0) {
        this.#onError?.(this.#tooLarge(key, bytes));
        return value;
      }
      value = this.#freezeValue(value);
      if (this.#stale(key, ticket)) {
        // Invalidated while loading (here or, via the bus, elsewhere): what we loaded may predate it.
        this.#s.staleFillsRefused++;
        return value;
      }
      if (lease !== undefined && remote !== null) {
        const now = Date.now();
        const ok = await remote.fill(key, lease, stored(now + ttl, now + keep, json), keep);
        if (ok === false) {
          // The key was written (or the lease expired) while loading: what we loaded may predate it.
          this.#s.staleFillsRefused++;
          return value;
        }
      }
      if (this.#stale(key, ticket)) this.#s.staleFillsRefused++;
      // Quarantined: a load may have raced a write whose invalidation is still being replayed.
      else if (remote === null || !remote.suspect) this.#l1Set(key, value, ttl, keep, json.length);
      return value;
    } finally {
      flight.done = true;
      clearTimeout(graced?.timer);
      this.#unwatch();
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    }
  }
}

/** Create a cache (see CacheOptions). Connecting happens in the background; `await cache.ready()` to wait for it. */
export function createCache(options: CacheOptions): Cache {
  return new Cache(options);
}
