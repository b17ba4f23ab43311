export type { Duration } from '../duration.js';
export type { Logger } from '../logger.js';
// Sessions and rate limits have their own entries now (`ferry/sessions`,
// `ferry/rate-limit`); re-exported here so imports from `ferry/cache` keep working.
export {
  createRateLimiter,
  E_RATE_ARGUMENT,
  E_RATE_CLOSED,
  E_RATE_CONFIG,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitKey,
  type RateLimitResult,
} from '../rate-limit/index.js';
export type { BreakerState } from '../redis/breaker.js';
export type { RedisInput, RedisLike } from '../redis/connection.js';
export { E_REDIS_CROSSSLOT, E_REDIS_URL } from '../redis/errors.js';
export {
  createSessionStore,
  E_SESSION_ARGUMENT,
  E_SESSION_CLOSED,
  E_SESSION_CONFIG,
  E_SESSION_CONFLICT,
  E_SESSION_EXISTS,
  E_SESSION_NO_PERSIST,
  E_SESSION_REVOKED,
  E_SESSION_UNAVAILABLE,
  type PersistOptions,
  type RefreshToken,
  type RefreshTokensTable,
  type Session,
  type SessionRef,
  type SessionStore,
  type SessionStoreOptions,
  type SessionsTable,
  type SessionTablesOptions,
  sessionTables,
} from '../sessions/index.js';
export {
  Cache,
  type CacheLogger,
  type CacheOptions,
  type CacheStats,
  createCache,
  type GetOrSetOptions,
  type SetOptions,
} from './cache.js';
export { type CachedRepository, type CachedRepositoryOptions, cachedRepository } from './cached-repo.js';
export * from './errors.js';
