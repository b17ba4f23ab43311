/**
 * `ferry`: the schema DSL, `connect`, repositories and transactions, errors.
 * It loads no Redis client and no optional native addon: the cache, sessions
 * and rate limits live in `ferry/cache`, `ferry/sessions`, `ferry/rate-limit`;
 * the legacy import in `ferry/import`; migrations from code in `ferry/migrate`.
 */
export { defineConfig, type FerryConfig } from './config.js';
export {
  type Closable,
  type ConnectOptions,
  connect,
  Ferry,
  type ShutdownOptions,
  type ShutdownReport,
  type StoppableServer,
} from './connect.js';
export type { RouteInfo } from './db/observer.js';
export type { ReplicaOptions } from './db/replica-options.js';
export type { ReplicaStatus } from './db/replicas.js';
export { parseDatabaseUrl, redactUrl } from './db/url.js';
export type { Duration } from './duration.js';
export * from './errors.js';
export type { Logger } from './logger.js';
export { Repository } from './repo/repository.js';
export type { Scope, TransactionOptions, TransactionScope } from './repo/scope.js';
export type * from './repo/types.js';
export * from './schema/index.js';
export { columnOf, validateValues } from './schema/validate.js';
// A schema helper (tables only, no Redis): apps declare these beside their own tables.
export { sessionTables } from './sessions/tables.js';
