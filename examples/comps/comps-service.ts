/**
 * Kuya Comps on Ferry: the seed's `/comps` (sold) and `/active` searches
 * answered from the fastest tier that has a fresh answer —
 *
 *   1. Redis, through Ferry's cache (`src/cache`, no in-process tier: the
 *      seed's cache is Redis, and instances share it), 30 min for sold and
 *      5 min for active results;
 *   2. the database, when its result is fresh (younger than the same TTL:
 *      the seed's phase 3 "return database data if fresh");
 *   3. the upstream APIs (upstream.ts), whose answer is kept in both.
 *
 * — plus what the database makes possible: a price snapshot per card and
 * day from every sold search fetched, the saved-search alerts it fires, the
 * analytics, the search history and a CSV export.
 *
 * The search results live behind `results` (a `CutoverStore`, default
 * `postgresSearchStore`): a live cutover from the old Redis keys passes its
 * own store there and nothing else changes.
 */
import type { Writable } from 'node:stream';
import { type Cache, type CacheLogger, createCache } from '../../src/cache/index.js';
import type { CutoverStore } from '../../src/cutover/store.js';
import { literal } from '../../src/index.js';
import type { ExportSummary } from '../../src/ops/export.js';
import { alertsFor, recordAlerts, type SaveSearchInput, saveSearch } from './alerts.js';
import { popularSearches, priceTrend } from './analytics.js';
import { type PriceSummary, summarize } from './pricing.js';
import type { SearchFilters } from './schema.js';
import {
  type CompsFerry,
  normalizeFilters,
  postgresSearchStore,
  RESULT_TTL_MS,
  recordSearch,
  remainingMs,
  type SearchResult,
  searchKey,
  writeSnapshot,
} from './store.js';
import { cardIdentifier, createUpstream, type SearchKind, type Upstream } from './upstream.js';

export type SearchSource = 'redis' | 'database' | 'upstream';

export interface SearchAnswer {
  source: SearchSource;
  result: SearchResult;
  /** The prices' summary (sold searches; for active ones, the asking prices). */
  summary: PriceSummary | null;
}

export interface CompsOptions {
  ferry: CompsFerry;
  /** A Redis URL for the cache; `null` for none (every search goes to the database). Default `REDIS_URL`. */
  redis?: string | null;
  /** Prefix of the cache's Redis keys (default `comps`). */
  namespace?: string;
  upstream?: Upstream;
  /** Where search results are kept (default: Postgres); a cutover passes its own. */
  results?: CutoverStore<SearchResult>;
  /** The clock deciding freshness and snapshot days (tests move it). */
  now?: () => Date;
  /** Redis command timeout of the cache, ms (default 100). */
  cacheTimeoutMs?: number;
  /** Warnings of the cache (Redis unreachable...). Default: none. */
  logger?: CacheLogger;
  /**
   * Told of every search answered, with its result (serve.ts counts them in
   * /metrics by kind and tier; the cutover demo keeps the results fetched
   * from upstream, which the service wrote, to check none was lost).
   */
  onSearch?: (kind: SearchKind, source: SearchSource, result: SearchResult) => void;
}

const quiet: CacheLogger = { warn: () => {}, info: () => {}, debug: () => {} } as CacheLogger;

export class Comps {
  readonly ferry: CompsFerry;
  readonly cache: Cache;
  readonly upstream: Upstream;
  readonly results: CutoverStore<SearchResult>;
  readonly #now: () => Date;
  readonly #onSearch: CompsOptions['onSearch'];

  constructor(options: CompsOptions) {
    this.ferry = options.ferry;
    this.#onSearch = options.onSearch;
    this.#now = options.now ?? (() => new Date());
    const redis = options.redis === undefined ? process.env.REDIS_URL?.trim() || null : options.redis;
    this.cache = createCache({
      redis,
      namespace: options.namespace ?? 'comps',
      l1: false,
      logger: options.logger ?? quiet,
      ...(options.cacheTimeoutMs !== undefined ? { timeoutMs: options.cacheTimeoutMs } : {}),
    });
    this.upstream = options.upstream ?? createUpstream({ now: this.#now });
    this.results = options.results ?? postgresSearchStore(this.ferry, { now: this.#now });
  }

  /**
   * Search sold (`/comps`) or active (`/active`) listings; see the module
   * comment for the tiers. Concurrent searches of one key share one load.
   */
  async search(
    kind: SearchKind,
    query: string,
    filters: SearchFilters = {},
    options: { userId?: number | null } = {},
  ): Promise<SearchAnswer> {
    const key = searchKey(kind, query, filters);
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      // Set by the loader when it runs (TypeScript cannot see that, hence the cast).
      let source = 'redis' as SearchSource;
      const result = await this.cache.getOrSet<SearchResult>(
        key,
        async () => {
          const stored = await this.results.get(key);
          if (stored && remainingMs(stored, this.#now()) > 0) {
            source = 'database';
            return stored;
          }
          source = 'upstream';
          return this.#fetch(kind, query, filters, key);
        },
        { ttl: RESULT_TTL_MS[kind] },
      );
      // A cached copy never outlives its result (one served from the database had less than a full TTL left).
      if (source === 'redis' && remainingMs(result, this.#now()) <= 0 && attempt === 0) {
        await this.cache.delete(key);
        continue;
      }
      if (source !== 'upstream') {
        await recordSearch(this.ferry, {
          query,
          kind,
          filters,
          result_count: result.items.length,
          source,
          execution_time_ms: performance.now() - started,
          user_id: options.userId ?? null,
        });
      }
      this.#onSearch?.(kind, source, result);
      return { source, result, summary: summarize(result.items) };
    }
  }

  async #fetch(kind: SearchKind, query: string, filters: SearchFilters, key: string): Promise<SearchResult> {
    const fetchedAt = this.#now();
    const items = await this.upstream.search(kind, query, filters);
    const result: SearchResult = {
      key,
      kind,
      query: query.trim(),
      filters: normalizeFilters(filters),
      fetched_at: fetchedAt.toISOString(),
      items,
    };
    await this.results.put(key, result);
    // Every sold search fetched is a sample of the card's market; the day's latest one is its snapshot.
    const summary = kind === 'sold' ? summarize(items) : null;
    if (summary) {
      const snapshot = await writeSnapshot(this.ferry, {
        card_identifier: cardIdentifier(query),
        snapshot_date: fetchedAt.toISOString().slice(0, 10),
        ...summary,
        taken_at: fetchedAt,
      });
      await recordAlerts(this.ferry, snapshot);
    }
    return result;
  }

  priceTrend(card: string, options: { days?: number; today?: string } = {}) {
    return priceTrend(this.ferry, card, {
      ...options,
      today: options.today ?? this.#now().toISOString().slice(0, 10),
    });
  }

  popularSearches(options: { days?: number; limit?: number } = {}) {
    return popularSearches(this.ferry, options);
  }

  saveSearch(input: SaveSearchInput) {
    return saveSearch(this.ferry, input);
  }

  alerts(email: string, limit?: number) {
    return alertsFor(this.ferry, email, limit);
  }

  /**
   * `price_snapshots` as CSV (COPY on Postgres, streamed with backpressure)
   * into `out`, left open; one card's rows with `card`.
   */
  exportPrices(out: Writable, options: { card?: string } = {}): Promise<ExportSummary> {
    return this.ferry.export('price_snapshots', {
      to: out,
      ...(options.card ? { where: `card_identifier = ${literal(cardIdentifier(options.card))}` } : {}),
    });
  }

  /** Close the cache (not the database connection). */
  async close(): Promise<void> {
    await this.cache.close();
  }
}

export function createComps(options: CompsOptions): Comps {
  return new Comps(options);
}
