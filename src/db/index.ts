/** Database access: URL parsing, both backends behind one handle, one value policy. */
export { acquireDataDirLock, type DataDirLock, lockFileFor } from './data-dir-lock.js';
export type { AcquireInfo, Observable, ObserverSlot, QueryInfo, QueryObserver, RouteInfo } from './observer.js';
export { type DbHandle, DEFAULT_DATA_DIR, type OpenOptions, openDatabase, resolveDatabaseTarget } from './open.js';
export {
  createPgPool,
  type PgPool,
  type PgPoolOptions,
  POOL_DEFAULTS,
  type PoolOptions,
  type PoolStats,
  type ResolvedPoolOptions,
  resolvePoolOptions,
} from './pg-pool.js';
export { PGliteDialect, type PGliteDialectConfig, type PGliteLike, type PGliteStats } from './pglite-dialect.js';
export { type ReplicaOptions, type ResolvedReplicaOptions, resolveReplicaOptions } from './replica-options.js';
export type { ReplicaRouting, ReplicaStatus } from './replicas.js';
export { isConnectionLoss, type RawResult, type RawSession } from './session.js';
export {
  PG_OID,
  parseArrayLiteral,
  parseTimestamp,
  prepareParam,
  type TextParser,
  TypeRegistry,
  toArrayLiteral,
} from './types.js';
export { ACCEPTED_URL_FORMS, type ParsedUrl, parseDatabaseUrl, redactText, redactUrl, urlSecrets } from './url.js';
