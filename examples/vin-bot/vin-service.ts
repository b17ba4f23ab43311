/**
 * The seed's VIN lookup on Ferry: Redis (30 days) → Postgres `vehicles` (90
 * days, `expires_at`) → the decoder, with the user's history recorded, a
 * per-minute rate limit per user and one-hour sessions.
 *
 * The same code runs in all three deployments; only `redis` differs:
 * - Postgres + Redis: L1 + Redis cache, rate limits shared through Redis,
 *   sessions in Redis with Postgres as their source of truth;
 * - Postgres alone (no REDIS_URL): an in-process L1 cache, an in-memory rate
 *   limiter, sessions in Postgres;
 * - the embedded default (no DATABASE_URL): the same as either, on PGlite.
 * When Redis becomes unreachable the cache's breaker sends reads to Postgres,
 * the rate limiter falls back to its in-memory insurance limiter and sessions
 * are served from Postgres: no lookup fails because Redis did.
 *
 * Upstash (the seed's Redis) is Redis over TLS: `REDIS_URL=rediss://default:<token>@<host>:6379`.
 * A server with a private CA needs `REDIS_TLS_CA=<PEM file>` or the `redisTls`
 * option; a certificate that is refused (a wrong CA) is the same as Redis
 * being unreachable, with a warning saying why.
 */
import {
  type Cache,
  type CachedRepository,
  type CacheLogger,
  cachedRepository,
  createCache,
} from '../../src/cache/index.js';
import type { DatabaseOf, Ferry, Row } from '../../src/index.js';
import { createRateLimiter, type RateLimiter } from '../../src/rate-limit/index.js';
import type { RedisTlsOptions } from '../../src/redis/connection.js';
import { createSessionStore, type Session, type SessionStore } from '../../src/sessions/index.js';
import { createLocalDecoder, normalizeVin, type VinDecoder } from './decoder.js';
import { subscriptionTier, users, userVinHistory, vehicles } from './schema.js';

/**
 * The tables the service queries, for `connect({ schema: appSchema })`. The
 * session tables (in schema.ts, so migrations create them) are left out:
 * their names are not literal types, which would widen Kysely's table map.
 */
export const appSchema = { subscriptionTier, users, vehicles, userVinHistory };
export type DB = DatabaseOf<typeof appSchema>;
export type User = Row<typeof users>;
export type Vehicle = Row<typeof vehicles>;

const DAY_MS = 86_400_000;
/** How long a decoded vehicle is trusted in Postgres (the seed's 90-day TTL). */
export const VEHICLE_TTL_MS = 90 * DAY_MS;
/** How long a vehicle stays in Redis (the seed's 30-day TTL). */
export const VIN_CACHE_TTL = '30d';

export interface TelegramUser {
  id: number;
  username?: string | null;
  first_name?: string | null;
  last_name?: string | null;
}

export interface SessionData {
  lastVin?: string;
  lookups: number;
}

export interface BotLogger {
  info(line: string): void;
  warn(line: string): void;
}

/** Lines like the seed's `INFO | Cache hit for VIN: 1HGBH41JXMN109186`. */
export const consoleLogger: BotLogger = {
  info: (line) => console.log(`INFO | ${line}`),
  warn: (line) => console.log(`WARNING | ${line}`),
};

export interface VinBotOptions {
  ferry: Ferry<DB>;
  /** A Redis URL; `null` for none. Default `REDIS_URL`, else none. */
  redis?: string | null;
  /** TLS settings of a `rediss://` URL (a private CA: `{ caFile }`); default `REDIS_TLS_CA` / `REDIS_TLS_REJECT_UNAUTHORIZED`. */
  redisTls?: RedisTlsOptions;
  /** Prefix of every Redis key (cache namespace, `<ns>:rate:*`, `<ns>:sess:*`). Default `vinbot`. */
  namespace?: string;
  decoder?: VinDecoder;
  /** Lookups per user per minute (default 10). */
  lookupsPerMinute?: number;
  /** Session idle lifetime in seconds (default 3600). */
  sessionTtlSeconds?: number;
  /** The clock deciding whether a Postgres vehicle has expired (tests move it). */
  now?: () => Date;
  logger?: BotLogger;
  /** Redis command timeout of the cache, ms (default 100). */
  cacheTimeoutMs?: number;
}

export type LookupResult =
  | { status: 'ok'; vehicle: Vehicle; source: 'cache' | 'postgres' | 'decoder' }
  | { status: 'invalid'; message: string }
  | { status: 'rate_limited'; retryAfterMs: number };

export class VinBot {
  readonly ferry: Ferry<DB>;
  readonly cache: Cache;
  readonly limiter: RateLimiter;
  readonly sessions: SessionStore<SessionData>;
  readonly decoder: VinDecoder;
  readonly users: CachedRepository<typeof users>;
  /** 'redis' when a Redis URL was configured (reachable or not), else 'memory'. */
  readonly cacheMode: 'redis' | 'memory';
  readonly #now: () => Date;
  readonly #log: BotLogger;

  constructor(options: VinBotOptions) {
    const ns = options.namespace ?? 'vinbot';
    const redis = options.redis === undefined ? process.env.REDIS_URL?.trim() || null : options.redis;
    this.ferry = options.ferry;
    this.cacheMode = redis ? 'redis' : 'memory';
    this.decoder = options.decoder ?? createLocalDecoder();
    this.#now = options.now ?? (() => new Date());
    this.#log = options.logger ?? consoleLogger;
    const log = this.#log;
    const cacheLogger: CacheLogger = {
      warn: (_obj, msg) => log.warn(msg ?? 'cache warning'),
      info: (_obj, msg) => log.info(msg ?? 'cache'),
      debug: () => {},
    };
    const client = options.redisTls ? { tls: options.redisTls } : {};
    this.cache = createCache({
      redis,
      client,
      namespace: ns,
      logger: cacheLogger,
      ...(options.cacheTimeoutMs !== undefined ? { timeoutMs: options.cacheTimeoutMs } : {}),
    });
    this.limiter = createRateLimiter({
      redis,
      client,
      points: options.lookupsPerMinute ?? 10,
      duration: '1m',
      keyPrefix: `${ns}:rate`,
    });
    this.sessions = createSessionStore<SessionData>({
      redis,
      client,
      ttl: (options.sessionTtlSeconds ?? 3600) * 1000,
      prefix: `${ns}:sess`,
      persist: { db: this.ferry },
      onError: (err) => log.warn(`session store: ${(err as Error)?.message ?? String(err)}`),
    });
    // The seed caches users for an hour; by Telegram id, invalidated after commit.
    this.users = cachedRepository(this.ferry.repo(users), this.cache, { ttl: '1h', by: 'telegram_id' });
  }

  /** The user, created on the first visit (an upsert on the unique telegram_id: safe under concurrent visits). */
  async ensureUser(tg: TelegramUser): Promise<User> {
    const cached = await this.users.get(tg.id);
    if (cached) return cached;
    const [user] = await this.ferry.repo(users).upsert(
      {
        telegram_id: tg.id,
        username: tg.username ?? null,
        first_name: tg.first_name ?? null,
        last_name: tg.last_name ?? null,
      },
      { conflict: ['telegram_id'] },
    );
    return user!;
  }

  /** Change preferences; the cached user is invalidated once the transaction commits. */
  async setPreferences(tg: TelegramUser, preferences: User['preferences']): Promise<User | undefined> {
    const user = await this.ensureUser(tg);
    return this.ferry.transaction((tx) => this.users.update(tx, user.id, { preferences }));
  }

  /**
   * Decode `vin` for `tg`: the Redis cache (30 days), else a Postgres vehicle
   * that has not expired, else the decoder (stored for 90 days). Every
   * successful lookup is recorded in the user's history; `session` (an id
   * from `startSession`) remembers the last VIN.
   */
  async lookupVin(tg: TelegramUser, input: string, options: { session?: string } = {}): Promise<LookupResult> {
    const vin = normalizeVin(input);
    if (!vin) return { status: 'invalid', message: 'A VIN is 17 letters and digits, without I, O or Q.' };
    const limit = await this.limiter.consume(String(tg.id));
    if (!limit.allowed) {
      this.#log.info(`Rate limit exceeded for user ${tg.id} (retry in ${Math.ceil(limit.retryAfterMs / 1000)} s)`);
      return { status: 'rate_limited', retryAfterMs: limit.retryAfterMs };
    }
    const user = await this.ensureUser(tg);
    const { vehicle, source } = await this.#vehicle(vin);
    await this.ferry.repo(userVinHistory).insert({ user_id: user.id, vehicle_id: vehicle.id, vin });
    if (options.session) {
      await this.sessions.update(options.session, (d) => ({ lastVin: vin, lookups: (d.lookups ?? 0) + 1 }));
    }
    return { status: 'ok', vehicle, source };
  }

  async #vehicle(vin: string): Promise<{ vehicle: Vehicle; source: 'cache' | 'postgres' | 'decoder' }> {
    const key = `vin:${vin}`;
    for (let attempt = 0; ; attempt++) {
      let source: 'cache' | 'postgres' | 'decoder' = 'cache';
      const vehicle = await this.cache.getOrSet<Vehicle>(
        key,
        async () => {
          const now = this.#now();
          const stored = await this.ferry.db
            .selectFrom('vehicles')
            .selectAll()
            .where('vin', '=', vin)
            .where('expires_at', '>', now)
            .executeTakeFirst();
          if (stored) {
            source = 'postgres';
            return stored as Vehicle;
          }
          const decoded = await this.decoder.decode(vin);
          source = 'decoder';
          const [saved] = await this.ferry.repo(vehicles).upsert(
            {
              vin,
              make: decoded.make,
              model: decoded.model,
              year: decoded.year,
              raw_data: decoded.raw,
              decoded_at: now,
              expires_at: new Date(now.getTime() + VEHICLE_TTL_MS),
            },
            { conflict: ['vin'] },
          );
          return saved!;
        },
        { ttl: VIN_CACHE_TTL },
      );
      // A cached copy never outlives the Postgres row it came from.
      if (source === 'cache' && vehicle.expires_at.getTime() <= this.#now().getTime() && attempt === 0) {
        this.#log.info(`Cache entry expired for VIN: ${vin}`);
        await this.cache.delete(key);
        continue;
      }
      if (source === 'cache') this.#log.info(`Cache hit for VIN: ${vin}`);
      else this.#log.info(`Cache miss for VIN: ${vin} (${source === 'postgres' ? 'found in Postgres' : 'decoded'})`);
      return { vehicle, source };
    }
  }

  /** The user's latest lookups, newest first. */
  history(tg: TelegramUser, limit = 10) {
    return this.ferry.db
      .selectFrom('user_vin_history as h')
      .innerJoin('users as u', 'u.id', 'h.user_id')
      .innerJoin('vehicles as v', 'v.id', 'h.vehicle_id')
      .select(['h.vin', 'v.make', 'v.model', 'v.year', 'h.looked_up_at'])
      .where('u.telegram_id', '=', tg.id)
      .orderBy('h.looked_up_at', 'desc')
      .orderBy('h.id', 'desc')
      .limit(limit)
      .execute();
  }

  /** A one-hour session (sliding): its id goes to the client. */
  startSession(tg: TelegramUser): Promise<Session<SessionData>> {
    return this.sessions.create(tg.id, { lookups: 0 });
  }

  /** The live session, its hour extended; `null` once expired or ended. */
  resumeSession(id: string): Promise<Session<SessionData> | null> {
    return this.sessions.touch(id);
  }

  endSession(id: string): Promise<boolean> {
    return this.sessions.revoke(id);
  }

  stats() {
    return { cache: this.cache.stats(), decoderCalls: this.decoder.calls };
  }

  /** Close the cache, limiter and session store (not the database connection). */
  async close(): Promise<void> {
    await Promise.all([this.cache.close(), this.limiter.close(), this.sessions.close()]);
  }
}

export function createVinBot(options: VinBotOptions): VinBot {
  return new VinBot(options);
}
