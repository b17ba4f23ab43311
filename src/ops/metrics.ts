/**
 * Prometheus metrics for a Ferry app, through prom-client (an optional peer,
 * loaded by the first `createMetrics` call):
 *
 *   import { createMetrics } from 'ferry/ops';
 *   const metrics = createMetrics(ferry, { cache, rateLimiter, sessions, slowQuery: '250ms' });
 *   http.createServer((req, res) => (req.url === '/metrics' ? metrics.handler(req, res) : app(req, res)));
 *   // or Express: app.get('/metrics', metrics.handler)
 *   ...
 *   metrics.close();
 *
 * Where the numbers come from, cheapest first:
 * - read at scrape time from counters the components keep anyway (`poolStats()`,
 *   cache/limiter/session `stats()`), in prom-client `collect()` callbacks;
 * - reported on the query path through the handle's query observer
 *   (src/db/observer.ts): query durations, errors, checkout waits;
 * - sampled on an interval, never per scrape: database/table sizes, migration
 *   state, active sessions (see metrics-sampler.ts).
 * Every metric is listed in docs/ops/metrics.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import type { Observable } from '../db/observer.js';
import type { PoolStats } from '../db/pg-pool.js';
import type { ReplicaStatus } from '../db/replicas.js';
import { type Duration, toMs } from '../duration.js';
import { E_CONFIG, FerryError } from '../errors.js';
import {
  type CacheLike,
  type RateLimiterLike,
  registerCacheMetrics,
  registerRateLimitMetrics,
  registerSessionMetrics,
  type SessionStoreLike,
} from './metrics-components.js';
import { queryMetrics, registerPoolMetrics, registerReplicaMetrics } from './metrics-db.js';
import { importMetrics, type ObserveImport } from './metrics-import.js';
import { createProm } from './metrics-registry.js';
import { createSampler, type MigrationsToWatch } from './metrics-sampler.js';

export type { CacheLike, RateLimiterLike, SessionStoreLike } from './metrics-components.js';
export type { ImportWatch } from './metrics-import.js';
export type { MigrationsToWatch } from './metrics-sampler.js';

/** What metrics need of a database: a `Ferry` from `connect()` or a `DbHandle` from `openDatabase()`. */
export interface MetricsDatabase extends Observable {
  readonly backend: 'postgres' | 'pglite';
  readonly db: Kysely<any>;
  poolStats(): PoolStats;
  /** A Ferry's read replicas (their gauges are registered when it has some). */
  replicaStatus?(): readonly ReplicaStatus[];
  /** A DbHandle's read replicas. */
  readonly replicas?: { status(): readonly ReplicaStatus[] };
}

export interface MetricsOptions {
  /** Register into this prom-client registry (the app's, to merge with its own metrics); default a new one. */
  registry?: Registry;
  /** Prepended to every metric name (default `'ferry_'`). */
  prefix?: string;
  /** A `ferry/cache` Cache, or several: requests by tier and result, breaker state, replayed invalidations. */
  cache?: CacheLike | readonly CacheLike[];
  /** A `ferry/rate-limit` RateLimiter, or several: decisions, breaker state. */
  rateLimiter?: RateLimiterLike | readonly RateLimiterLike[];
  /** A `ferry/sessions` store: revocations pending and replayed; active sessions are sampled from `sessionsTable`. */
  sessions?: SessionStoreLike;
  /** The table active sessions are counted in (default `'sessions'` when `sessions` is given). */
  sessionsTable?: string;
  /** Migration state (applied, pending, drift) of this migrations directory, sampled. */
  migrations?: MigrationsToWatch;
  /** Queries at least this long count in `ferry_db_slow_queries_total` (default 1 s). */
  slowQuery?: Duration;
  /** How often sizes, migration state and active sessions are sampled (default 60 s; 0 = only on `sample()`). */
  sampleInterval?: Duration;
  /** A sample failed (the sampled gauges keep their previous values; `ferry_metrics_sample_errors_total` counts it). */
  onSampleError?: (err: unknown) => void;
}

export interface Metrics {
  readonly registry: Registry;
  /** The exposition's Content-Type (`text/plain; version=0.0.4; charset=utf-8`). */
  readonly contentType: string;
  /** A node:http (and Express) handler: GET/HEAD answer the text exposition; other methods get 405. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The text exposition (for Fastify: `reply.type(metrics.contentType).send(await metrics.text())`). */
  text(): Promise<string>;
  /** Counters for one import run; see ImportWatch. */
  readonly observeImport: ObserveImport;
  /** Refresh the sampled gauges now. */
  sample(): Promise<void>;
  /** Stop sampling, detach from the database and take the metrics out of the registry; idempotent. */
  close(): void;
}

const DEFAULT_SLOW_QUERY_MS = 1_000;
const DEFAULT_SAMPLE_INTERVAL_MS = 60_000;

export function createMetrics(database: MetricsDatabase, options: MetricsOptions = {}): Metrics {
  const slowQueryMs = toMs(options.slowQuery ?? DEFAULT_SLOW_QUERY_MS, 'createMetrics option slowQuery', E_CONFIG);
  const intervalMs = toMs(
    options.sampleInterval ?? DEFAULT_SAMPLE_INTERVAL_MS,
    'createMetrics option sampleInterval',
    E_CONFIG,
  );
  const slot = database?.observers;
  if (slot === undefined || typeof database.poolStats !== 'function') {
    throw new FerryError(
      E_CONFIG,
      'createMetrics needs a Ferry (from connect()) or a DbHandle (from openDatabase()) as its first argument.',
      { details: { option: 'database' } },
    );
  }
  if (slot.current !== undefined) {
    throw new FerryError(
      E_CONFIG,
      `createMetrics: the database ${database.backend === 'pglite' ? '(PGlite) ' : ''}already has a query observer, most likely another createMetrics: close() that one first, or share its registry.`,
      { details: { option: 'database' } },
    );
  }

  const prom = createProm({ registry: options.registry, prefix: options.prefix ?? 'ferry_' });
  const list = <T>(value: T | readonly T[] | undefined): readonly T[] =>
    value === undefined ? [] : Array.isArray(value) ? value : [value as T];
  let sampler: ReturnType<typeof createSampler>;
  let observeImport: ObserveImport;
  try {
    registerPoolMetrics(prom, database);
    const replicaStatus = (): readonly ReplicaStatus[] =>
      database.replicaStatus?.() ?? database.replicas?.status() ?? [];
    if (replicaStatus().length > 0) registerReplicaMetrics(prom, { replicaStatus });
    slot.current = queryMetrics(prom, slowQueryMs);
    const caches = list(options.cache);
    if (caches.length > 0) registerCacheMetrics(prom, caches);
    const limiters = list(options.rateLimiter);
    if (limiters.length > 0) registerRateLimitMetrics(prom, limiters);
    if (options.sessions) registerSessionMetrics(prom, options.sessions);
    observeImport = importMetrics(prom);
    sampler = createSampler(prom, database.db, {
      migrations: options.migrations,
      sessionsTable: options.sessionsTable ?? (options.sessions ? 'sessions' : undefined),
      onError: options.onSampleError,
    });
  } catch (err) {
    prom.unregisterAll();
    slot.current = undefined;
    throw err;
  }
  const observer = slot.current;

  let timer: NodeJS.Timeout | undefined;
  if (intervalMs > 0) {
    void sampler.sample();
    timer = setInterval(() => void sampler.sample(), intervalMs);
    // Metrics never keep a process alive.
    timer.unref();
  }

  const { registry } = prom;
  let closed = false;
  return {
    registry,
    contentType: registry.contentType,
    handler(req, res) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Method Not Allowed\n');
        return;
      }
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end(`# metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
    },
    text: () => registry.metrics(),
    observeImport,
    sample: () => sampler.sample(),
    close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      sampler.stop();
      if (slot.current === observer) slot.current = undefined;
      prom.unregisterAll();
    },
  };
}
