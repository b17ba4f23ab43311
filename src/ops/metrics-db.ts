/**
 * Database metrics: the pool's connections (read at scrape time from
 * `poolStats()`), and what the handle's query observer reports — query
 * durations by operation and table, slow queries, errors by code, and
 * connection checkout waits and timeouts.
 *
 * The observer runs on the query's path, so it does as little as it can: a
 * Map lookup for the (operation, table) pair and one histogram observation.
 */
import type { AcquireInfo, QueryInfo, QueryObserver, RouteInfo } from '../db/observer.js';
import type { PoolStats } from '../db/pg-pool.js';
import type { ReplicaStatus } from '../db/replicas.js';
import type { HistogramSeries } from './metrics-histogram.js';
import type { Prom } from './metrics-registry.js';

/** Query durations, in seconds: 0.5 ms (a cached plan on a warm PGlite) up to 10 s (a statement_timeout's order). */
export const QUERY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Checkout waits, in seconds: a free idle connection is ~0, a new one a few ms, a queue up to the connect timeout. */
export const ACQUIRE_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Error label values are codes (`E_CONSTRAINT`, SQLSTATE `42P01`, `ECONNRESET`), never messages: bounded cardinality. */
const CODE = /^[A-Za-z0-9_]{1,40}$/;

export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CODE.test(code) ? code : 'unknown';
}

interface PoolSource {
  poolStats(): PoolStats;
}

/** Register the pool gauges, read from `poolStats()` on every scrape. */
export function registerPoolMetrics(prom: Prom, source: PoolSource): void {
  prom.gauge({
    name: 'db_pool_connections',
    help: 'Database connections open, by state: idle, or in use (checked out by a query, transaction or session).',
    labelNames: ['state'],
    collect() {
      const s = source.poolStats();
      this.set({ state: 'idle' }, s.idle);
      this.set({ state: 'in_use' }, Math.max(0, s.total - s.idle));
    },
  });
  prom.gauge({
    name: 'db_pool_max_connections',
    help: 'Most connections the pool opens (1 for the embedded PGlite).',
    collect() {
      this.set(source.poolStats().max);
    },
  });
  prom.gauge({
    name: 'db_pool_waiting_requests',
    help: 'Checkouts waiting for a free connection right now.',
    collect() {
      this.set(source.poolStats().waiting);
    },
  });
}

interface ReplicaSource {
  replicaStatus(): readonly ReplicaStatus[];
}

/**
 * Read replica gauges (`connect({ replicas })`), read on every scrape from
 * what the health poll last saw: no query runs for a scrape. `replica` is the
 * redacted URL (bounded: the configured list).
 */
export function registerReplicaMetrics(prom: Prom, source: ReplicaSource): void {
  prom.gauge({
    name: 'db_replica_up',
    help: 'Whether a read replica may serve reads now (1) or is skipped (0: unreachable, lagging beyond maxLag, or promoted).',
    labelNames: ['replica'],
    collect() {
      for (const r of source.replicaStatus()) this.set({ replica: r.url }, r.healthy ? 1 : 0);
    },
  });
  prom.gauge({
    name: 'db_replica_lag_bytes',
    help: "The primary's WAL position minus the replica's replay position, at the last health poll.",
    labelNames: ['replica'],
    collect() {
      for (const r of source.replicaStatus()) if (r.lagBytes !== null) this.set({ replica: r.url }, r.lagBytes);
    },
  });
  prom.gauge({
    name: 'db_replica_lag_seconds',
    help: 'Age of the last commit the replica replayed when it is behind, 0 when caught up, at the last health poll.',
    labelNames: ['replica'],
    collect() {
      for (const r of source.replicaStatus()) if (r.lagSeconds !== null) this.set({ replica: r.url }, r.lagSeconds);
    },
  });
}

interface Series {
  duration: HistogramSeries;
  labels: { operation: string; table: string };
}

/** The query observer that feeds the query and checkout metrics. */
export function queryMetrics(prom: Prom, slowQueryMs: number): QueryObserver {
  // Fast histograms: these two are observed on every query and checkout (see metrics-histogram.ts).
  const duration = prom.fastHistogram({
    name: 'db_query_duration_seconds',
    help: 'Time of repository calls (operation = method, table) and raw SQL through handle.session() (operation raw or copy, table "").',
    labelNames: ['operation', 'table'],
    buckets: QUERY_BUCKETS,
  });
  const slow = prom.counter({
    name: 'db_slow_queries_total',
    help: `Queries that took at least the slowQuery threshold (${slowQueryMs} ms), by operation and table.`,
    labelNames: ['operation', 'table'],
  });
  const errors = prom.counter({
    name: 'db_query_errors_total',
    help: 'Queries that failed, by table and error code (a FerryError code such as E_CONSTRAINT, else the SQLSTATE or Node error code).',
    labelNames: ['table', 'code'],
  });
  const waits = prom
    .fastHistogram({
      name: 'db_pool_acquire_wait_seconds',
      help: 'Time from asking the pool for a connection to getting one (on Postgres this includes opening a new connection).',
      buckets: ACQUIRE_BUCKETS,
    })
    .series();
  const timeouts = prom.counter({
    name: 'db_pool_acquire_timeouts_total',
    help: 'Checkouts that gave up after connectionTimeoutMillis (pool exhausted, or no answer from the server). Always 0 on PGlite.',
  });
  timeouts.inc(0);
  const reads = prom.counter({
    name: 'db_reads_routed_total',
    help: 'Reads outside a transaction with read replicas configured, by where they ran (target) and why (reason: replica, forced, behind, recent-write, unavailable, failed).',
    labelNames: ['target', 'reason'],
  });
  // One labels object per (target, reason), built once: routing is on every read's path.
  const routeLabels = new Map<string, { target: string; reason: string }>();

  // One entry per (operation, table), resolved once: two Map lookups and no string building per query.
  const series = new Map<string, Map<string, Series>>();
  const seriesOf = (operation: string, table: string): Series => {
    let byTable = series.get(operation);
    if (byTable === undefined) {
      byTable = new Map();
      series.set(operation, byTable);
    }
    let s = byTable.get(table);
    if (s === undefined) {
      const labels = { operation, table };
      s = { duration: duration.series(labels), labels };
      byTable.set(table, s);
    }
    return s;
  };

  return {
    onQuery(info: QueryInfo) {
      const s = seriesOf(info.operation, info.table);
      s.duration.observe(info.ms / 1000);
      if (info.ms >= slowQueryMs) slow.inc(s.labels);
      if (info.error !== undefined) errors.inc({ table: info.table, code: errorCode(info.error) });
    },
    onAcquire(info: AcquireInfo) {
      waits.observe(info.ms / 1000);
      if (info.timedOut) timeouts.inc();
    },
    onRoute(info: RouteInfo) {
      const key = `${info.target}:${info.reason}`;
      let labels = routeLabels.get(key);
      if (labels === undefined) {
        labels = { target: info.target, reason: info.reason };
        routeLabels.set(key, labels);
      }
      reads.inc(labels);
    },
  };
}
