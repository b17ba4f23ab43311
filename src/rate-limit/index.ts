/** `ferry/rate-limit`: fixed-window rate limits shared through Redis, with an in-memory insurance limiter. */

export type { Duration } from '../duration.js';
export type { Logger } from '../logger.js';
export type { RedisInput, RedisLike } from '../redis/connection.js';
export { E_REDIS_URL } from '../redis/errors.js';
export * from './errors.js';
export {
  createRateLimiter,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimiterStats,
  type RateLimitKey,
  type RateLimitResult,
} from './limiter.js';
