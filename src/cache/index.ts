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
export type { Duration } from './duration.js';
export * from './errors.js';
export {
  createRateLimiter,
  E_RATE_ARGUMENT,
  E_RATE_CLOSED,
  E_RATE_CONFIG,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitKey,
  type RateLimitResult,
} from './rate-limit.js';
export { E_REDIS_URL, type RedisInput } from './redis-client.js';
export type { BreakerState } from './remote.js';
export {
  type RefreshTokensTable,
  type SessionsTable,
  type SessionTablesOptions,
  sessionTables,
} from './session-tables.js';
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
  type Session,
  type SessionRef,
  type SessionStore,
  type SessionStoreOptions,
} from './sessions.js';
