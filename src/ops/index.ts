/**
 * `ferry/ops`: what running Ferry in production needs around the app —
 * health and readiness endpoints, graceful shutdown, Prometheus metrics,
 * backup and restore that verify themselves, CSV/NDJSON export.
 * Each part loads only what it needs (prom-client only for metrics).
 */
export { createLogger, type Logger } from './logger.js';
export { createMetrics, type Metrics, type MetricsDatabase, type MetricsOptions } from './metrics.js';
