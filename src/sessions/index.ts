/** `ferry/sessions`: login sessions in Redis (or memory), optionally persisted to Postgres. */

export type { Duration } from '../duration.js';
export type { Logger } from '../logger.js';
export type { RedisInput, RedisLike } from '../redis/connection.js';
export { E_REDIS_CROSSSLOT, E_REDIS_URL } from '../redis/errors.js';
export * from './errors.js';
export { createSessionStore } from './store.js';
export {
  type RefreshTokensTable,
  type SessionOutboxTable,
  type SessionsTable,
  type SessionTablesOptions,
  sessionTables,
} from './tables.js';
export type {
  CreateOptions,
  PersistOptions,
  RefreshToken,
  Session,
  SessionRef,
  SessionStore,
  SessionStoreOptions,
  SessionStoreStats,
  UserId,
} from './types.js';
