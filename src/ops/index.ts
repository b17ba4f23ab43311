/**
 * `ferry/ops`: what running Ferry in production needs around the app —
 * health and readiness endpoints, graceful shutdown, Prometheus metrics,
 * backup and restore that verify themselves, CSV/NDJSON export.
 * Each part loads only what it needs (prom-client only for metrics).
 */

export {
  type ExportFormat,
  type ExportOptions,
  type ExportStream,
  type ExportSummary,
  exportRows,
  exportTo,
} from './export.js';
export { E_EXPORT_OPTIONS, E_EXPORT_OUTPUT, E_EXPORT_QUERY, E_EXPORT_TABLE } from './export-errors.js';
export { createLogger, type Logger } from './logger.js';
