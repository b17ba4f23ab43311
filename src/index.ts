export { cachedRepository, createCache, createRateLimiter, createSessionStore, sessionTables } from './cache/index.js';
export { defineConfig, type FerryConfig } from './config.js';
export { type ConnectOptions, connect, Ferry } from './connect.js';
export { parseDatabaseUrl, redactUrl } from './db/url.js';
export * from './errors.js';
export {
  type DefinedImport,
  defineImport,
  type ImportReport,
  runImport,
  type VerifyReport,
  verifyImport,
} from './import/index.js';
export { Repository } from './repo/repository.js';
export type { Scope, TransactionOptions, TransactionScope } from './repo/scope.js';
export type * from './repo/types.js';
export * from './schema/index.js';
export { columnOf, validateValues } from './schema/validate.js';
