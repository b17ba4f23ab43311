/**
 * `ferry/ops`: what running Ferry in production needs around the app —
 * health and readiness endpoints, graceful shutdown, Prometheus metrics,
 * backup and restore that verify themselves, CSV/NDJSON export.
 * Each part loads only what it needs (prom-client only for metrics).
 */

export { type BackupOptions, type BackupResult, backup, prune } from './backup.js';
export * from './errors.js';
export {
  type ExportFormat,
  type ExportOptions,
  type ExportStream,
  type ExportSummary,
  exportRows,
  exportTo,
} from './export.js';
export { E_EXPORT_OPTIONS, E_EXPORT_OUTPUT, E_EXPORT_QUERY, E_EXPORT_TABLE } from './export-errors.js';
export {
  type CacheLike,
  type CheckOutcome,
  type CheckResult,
  type CheckStatus,
  Health,
  type HealthCheck,
  type HealthOptions,
  type HealthReport,
  type HealthResponse,
  type HealthTarget,
  health,
  type SessionsLike,
} from './health.js';
export { createLogger, type Logger } from './logger.js';
export {
  type BackupFile,
  type BackupManifest,
  readManifest,
  type TableDifference,
  type TableStats,
} from './manifest.js';
export { createMetrics, type Metrics, type MetricsDatabase, type MetricsOptions } from './metrics.js';
export { type RestoreMethod, type RestoreOptions, type RestoreResult, restore, verifyAgainst } from './restore.js';
export { type Shutdownable, type SignalShutdownOptions, shutdownOnSignals } from './shutdown.js';
