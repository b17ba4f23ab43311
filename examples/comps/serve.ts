/**
 * Kuya Comps as a long-running HTTP service:
 *
 *   GET  /comps?q=<card>[&raw_only=1&base_only=1&exclude_auto=1][&user=<id>]   sold listings + price summary
 *   GET  /active?q=<card>[...]                                                   active listings
 *   GET  /analytics?card=<card>[&days=90]          daily series, 7/30-day moving averages, low/high, % change,
 *                                                  and the popular searches (without `card`: those alone)
 *   POST /saved-searches  {"email","name","query","filters"?,"alert_threshold"?}
 *   GET  /alerts?email=<email>
 *   GET  /export/prices.csv[?card=<card>]         price_snapshots as CSV, streamed (COPY on Postgres)
 *   GET  /livez /readyz /metrics                   (examples/shared/ops-server.ts)
 *
 *   PORT=8080 npx tsx examples/comps/serve.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/comps REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/comps/serve.ts
 *   (UPSTREAM_DELAY_MS: the stand-in upstream's latency, default 100)
 *
 * With `COMPS_CUTOVER=1` the results go through the `comps-searches` cutover
 * (cutover.ts): the old app's keys are in `REDIS_URL` under
 * `COMPS_LEGACY_PREFIX` (default `kuya`), or, with `COMPS_LEGACY_FILE=<path>`,
 * in that JSON file (`jsonSearchStore`, no Redis needed); `GET /cutover`
 * shows the instance's stage and counters.
 *
 * `node:http`, not Fastify: the service has seven routes and no body but one
 * small JSON, so a framework would add a dependency (and its plugin system)
 * for a router of one `switch`; and every example shares
 * examples/shared/ops-server.ts (a `node:http` server with /livez, /readyz,
 * /metrics and the graceful shutdown on SIGTERM), which this plugs into.
 *
 * Runbook (backups and exports of its tables): see README.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter } from 'prom-client';
import type { Cutover } from '../../src/cutover/index.js';
import { connect, FerryError } from '../../src/index.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { createRedisClient } from '../../src/redis/connection.js';
import { type OpsServer, serverError, startOpsServer } from '../shared/ops-server.js';
import { type Comps, type CompsOptions, createComps } from './comps-service.js';
import { type CompsCutoverOptions, compsCutover, cutoverResults } from './cutover.js';
import type { SearchFilters } from './schema.js';
import { type CompsFerry, compsSchema, jsonSearchStore, type SearchResult } from './store.js';
import { createUpstream } from './upstream.js';

export interface CompsService {
  readonly ferry: CompsFerry;
  readonly comps: Comps;
  readonly metrics: Metrics;
  readonly ops: OpsServer;
  /** The `comps-searches` cutover the results go through, when enabled. */
  readonly cutover: Cutover<SearchResult> | null;
}

/** The cutover's settings; the old app's Redis is `redisUrl` (default `REDIS_URL`, else 127.0.0.1:6379). */
export type ServeCutoverOptions = Omit<CompsCutoverOptions, 'ferry' | 'redis'>;

export interface ServeCompsOptions extends Omit<CompsOptions, 'ferry'> {
  /** Database URL (default `DATABASE_URL`, else the embedded PGlite). */
  url?: string;
  /** An open database to serve from instead of `url` (the demo shares its one PGlite with the backfill). */
  ferry?: CompsFerry;
  port?: number;
  /** Install SIGTERM/SIGINT handlers (a real process, not a test). */
  signals?: boolean;
  /**
   * Keep search results through the `comps-searches` cutover (cutover.ts):
   * from the old app's Redis keys to Postgres, following the stage set with
   * `ferry cutover advance comps-searches`. Default: on when `COMPS_CUTOVER=1`
   * (then `COMPS_LEGACY_PREFIX` is the old keys' prefix, default `kuya`, or
   * `COMPS_LEGACY_FILE` a JSON file holding them instead of Redis). With
   * `old` (a store) the cutover needs no Redis, unless `redisUrl` is given
   * for the stage's pub/sub. Ignored when `results` is given.
   */
  cutover?: boolean | ServeCutoverOptions;
}

export const MIGRATIONS = new URL('./migrations', import.meta.url).pathname;

export async function serveComps(options: ServeCompsOptions = {}): Promise<CompsService> {
  const { url, ferry: given, port, signals, cutover: cutoverOption, ...compsOptions } = options;
  const ferry = given ?? (await connect({ schema: compsSchema, url }));
  await ferry.migrate(MIGRATIONS);
  const cutover = compsOptions.results ? null : await startCutover(ferry, cutoverOption);
  if (cutover) compsOptions.results = cutoverResults(cutover);
  // The counter is created before the service it counts, and registered once the metrics' registry exists.
  const searchesTotal = new Counter({
    name: 'comps_searches_total',
    help: 'Searches answered, by kind (sold, active) and the tier that answered (redis, database, upstream).',
    labelNames: ['kind', 'source'] as const,
    registers: [],
  });
  const onSearch = compsOptions.onSearch;
  const comps = createComps({
    ...compsOptions,
    ferry,
    onSearch: (kind, source, result) => {
      searchesTotal.inc({ kind, source });
      onSearch?.(kind, source, result);
    },
  });
  const metrics = createMetrics(ferry, { cache: comps.cache, migrations: { dir: MIGRATIONS } });
  metrics.registry.registerMetric(searchesTotal);
  const ops = await startOpsServer(ferry, {
    port,
    migrations: MIGRATIONS,
    cache: comps.cache,
    metrics,
    app: compsRoutes(comps, cutover),
    signals,
    close: [comps, metrics],
  });
  return { ferry, comps, metrics, ops, cutover };
}

/** The cutover when enabled (option, else `COMPS_CUTOVER=1`), closed by `ferry.shutdown()` before its Redis client. */
async function startCutover(
  ferry: CompsFerry,
  option: ServeCompsOptions['cutover'],
): Promise<Cutover<SearchResult> | null> {
  // A blank COMPS_CUTOVER (a line of .env) counts as unset.
  const enabled = option === undefined ? truthy(process.env.COMPS_CUTOVER?.trim() || null) : option !== false;
  if (!enabled) return null;
  const settings: ServeCutoverOptions = typeof option === 'object' ? option : {};
  const legacyFile = process.env.COMPS_LEGACY_FILE?.trim();
  const old = settings.old ?? (legacyFile ? jsonSearchStore(legacyFile, { now: settings.now }) : undefined);
  if (old) {
    // The old results are not in Redis: Redis only rings the instances when a URL is given, else they poll.
    const cutover = compsCutover({ ...settings, ferry, old });
    await cutover.ready();
    return cutover;
  }
  const redisUrl = settings.redisUrl ?? (process.env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379');
  const redis = createRedisClient(redisUrl, { mode: 'queue', what: 'comps cutover (old Redis keys)' });
  // Registered before the cutover, which registers itself: closed after it (last registered, first closed).
  ferry.onShutdown({
    close: () =>
      redis.quit().then(
        () => {},
        () => redis.disconnect(),
      ),
  });
  const cutover = compsCutover({
    ...settings,
    ferry,
    redis,
    redisUrl,
    prefix: settings.prefix ?? (process.env.COMPS_LEGACY_PREFIX?.trim() || 'kuya'),
  });
  await cutover.ready();
  return cutover;
}

const truthy = (value: string | null) => value !== null && value !== '0' && value !== 'false';

function filtersOf(params: URLSearchParams): SearchFilters {
  return {
    raw_only: truthy(params.get('raw_only')),
    base_only: truthy(params.get('base_only')),
    exclude_auto: truthy(params.get('exclude_auto')),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 64_000) throw new FerryError('E_BAD_ARGUMENT', 'The request body is over 64 KB.');
  }
  return JSON.parse(text);
}

/** The app's routes, for `startOpsServer`'s `app` (`GET /cutover`: the cutover's stage and counters, when there is one). */
export function compsRoutes(comps: Comps, cutover: Cutover<SearchResult> | null = null) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const params = url.searchParams;
    const route = `${req.method} ${url.pathname}`;
    const fail = (err: unknown) => {
      if (err instanceof SyntaxError || (err instanceof FerryError && err.code === 'E_BAD_ARGUMENT')) {
        json(res, 400, { error: err.message });
      } else if (res.headersSent) res.destroy(err as Error);
      else serverError(res, err);
    };
    switch (route) {
      case 'GET /comps':
      case 'GET /active': {
        const q = params.get('q')?.trim();
        if (!q) {
          json(res, 400, { error: 'Give the card to search as ?q=, e.g. ?q=2020 Topps Chrome Luis Robert' });
          return;
        }
        const user = params.get('user');
        comps
          .search(url.pathname === '/comps' ? 'sold' : 'active', q, filtersOf(params), {
            userId: user ? Number(user) : null,
          })
          .then(({ source, result, summary }) =>
            json(res, 200, { source, ...result, count: result.items.length, summary }),
          )
          .catch(fail);
        return;
      }
      case 'GET /analytics': {
        const card = params.get('card')?.trim();
        const days = params.get('days') ? Number(params.get('days')) : undefined;
        Promise.all([card ? comps.priceTrend(card, { days }) : null, comps.popularSearches()])
          .then(([trend, popular]) => json(res, 200, { ...(trend ?? {}), popular }))
          .catch(fail);
        return;
      }
      case 'POST /saved-searches': {
        readJson(req)
          .then((body) => {
            const b = body as Record<string, unknown>;
            if (typeof b?.email !== 'string' || typeof b.name !== 'string' || typeof b.query !== 'string') {
              throw new FerryError('E_BAD_ARGUMENT', 'A saved search needs "email", "name" and "query" (strings).');
            }
            return comps.saveSearch({
              email: b.email,
              name: b.name,
              query: b.query,
              filters: (b.filters as SearchFilters) ?? {},
              alert_threshold: typeof b.alert_threshold === 'number' ? b.alert_threshold : null,
            });
          })
          .then((saved) => json(res, 201, saved))
          .catch(fail);
        return;
      }
      case 'GET /alerts': {
        const email = params.get('email');
        if (!email) {
          json(res, 400, { error: 'Give the user as ?email=' });
          return;
        }
        comps
          .alerts(email)
          .then((rows) => json(res, 200, rows))
          .catch(fail);
        return;
      }
      case 'GET /export/prices.csv': {
        res.writeHead(200, {
          'content-type': 'text/csv; charset=utf-8',
          'content-disposition': 'attachment; filename="prices.csv"',
        });
        const card = params.get('card')?.trim();
        comps
          .exportPrices(res, card ? { card } : {})
          .then(() => res.end())
          .catch(fail);
        return;
      }
      case 'GET /cutover': {
        if (!cutover) json(res, 404, { error: 'This instance runs without a cutover (COMPS_CUTOVER=1 enables it).' });
        else json(res, 200, { name: cutover.name, ...cutover.stats() });
        return;
      }
      default:
        json(res, 404, { error: `No route ${route}.` });
    }
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const service = await serveComps({
    port: Number(process.env.PORT ?? 8080),
    signals: true,
    upstream: createUpstream({ delayMs: Number(process.env.UPSTREAM_DELAY_MS ?? 100) }),
  });
  console.log(`comps: ${service.ferry.backend} at ${service.ferry.url}; listening on ${service.ops.url}`);
}
