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
export type { BreakerState } from './remote.js';
