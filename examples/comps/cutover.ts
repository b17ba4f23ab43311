/**
 * The live move of Kuya Comps' search results from the old app's Redis keys
 * (`kuya:sold:<card>|<filters>`, `kuya:active:…`: legacy.ts) to Postgres
 * (`searches` + `listing_cache`): one `defineCutover` named `comps-searches`
 * with `redisSearchStore` as `old` and `postgresSearchStore` as `new`. The
 * service (serve.ts, `cutover: true` or `COMPS_CUTOVER=1`) passes it as its
 * results store, so every search reads and writes through it and follows the
 * stage an operator sets (`ferry cutover advance comps-searches`, or
 * `advance()` in code); the Redis data already there is backfilled by
 * backfill.ts while dual writes run.
 *
 *   const ferry = await connect({ schema: compsSchema });
 *   const searches = compsCutover({ ferry, redis: new Redis(REDIS_URL), redisUrl: REDIS_URL });
 *   const comps = createComps({ ferry, results: searches });   // reads/writes follow the stage
 *   await advance(ferry, COMPS_CUTOVER);                        // off → dual-write
 */
import type { Redis } from 'ioredis';
import {
  type Comparator,
  type Cutover,
  type CutoverStore,
  defineCutover,
  E_CUTOVER_CONFIG,
  valueComparator,
} from '../../src/cutover/index.js';
import type { Duration } from '../../src/duration.js';
import { FerryError } from '../../src/errors.js';
import { type CompsFerry, postgresSearchStore, redisSearchStore, type SearchResult } from './store.js';

/** The cutover's name: its row in `ferry_cutover`, what `ferry cutover … comps-searches` takes. */
export const COMPS_CUTOVER = 'comps-searches';

/**
 * Listing fields the two stores may legitimately disagree on. A Redis result
 * is a copy of its listings as one fetch saw them; in Postgres a listing is
 * one `listing_cache` row shared by every result that contains it, refreshed
 * by the newest fetch. An active auction's bid and watcher counts move
 * between two fetches (of the same card with other filters, say), so the
 * old copy and the shared row differ there without anything being wrong.
 * Everything else of a listing (title, price, type, condition, sold date) is
 * what the result was computed from, and must match.
 */
const LIVE_COUNTERS = /^items\[\d+\]\.(bids|watchers)$/;

/**
 * How a shadow read compares a search result from Redis with the same one
 * from Postgres: structurally (Redis hands back the JSON the app stored,
 * Postgres rebuilds it from rows: `fetched_at` is the same ISO instant,
 * prices the same numbers, a missing `condition` an empty string in both),
 * ignoring only the listings' live counters (see above).
 *
 *   searchResultComparator(fromRedis, fromPostgres);   // [] or ['items[3].price', ...]
 */
export const searchResultComparator: Comparator<SearchResult | undefined> = (() => {
  const structural = valueComparator<SearchResult | undefined>();
  return (a, b) => structural(a, b).filter((path) => !LIVE_COUNTERS.test(path));
})();

export interface CompsCutoverOptions {
  ferry: CompsFerry;
  /** The Redis holding the old app's keys (not closed by the cutover); or give `old`. */
  redis?: Redis;
  /**
   * The old app's results in another store instead of Redis keys (`jsonSearchStore`
   * on a machine without Redis); `redis` and `prefix` are then unused.
   */
  old?: CutoverStore<SearchResult>;
  /** Redis URL for the stage's pub/sub (instances follow a change at once); without it they poll. */
  redisUrl?: string;
  /** The old app's key prefix (default `kuya`). */
  prefix?: string;
  /** The clock deciding freshness in both stores (tests move it). */
  now?: () => Date;
  /** Share of reads shadow-compared in `shadow`/`live` (default 1: all). */
  sample?: number;
  /** How often the stage is re-read and the journal drained (default 1 s). */
  poll?: Duration;
  onError?: (err: unknown, context: string) => void;
}

/** The search results' cutover; see the module comment. Close it (`close()`) before the database and Redis. */
export function compsCutover(options: CompsCutoverOptions): Cutover<SearchResult> {
  const clock = options.now ? { now: options.now } : {};
  if (!options.old && !options.redis) {
    throw new FerryError(E_CUTOVER_CONFIG, "compsCutover: give `redis` (the old app's keys) or `old` (its store).");
  }
  return defineCutover<SearchResult>({
    name: COMPS_CUTOVER,
    old: options.old ?? redisSearchStore(options.redis as Redis, { ...clock, prefix: options.prefix }),
    new: postgresSearchStore(options.ferry, clock),
    key: (result) => result.key,
    db: options.ferry,
    compare: searchResultComparator as Comparator<SearchResult>,
    ...(options.redisUrl ? { redis: options.redisUrl } : {}),
    ...(options.sample !== undefined ? { sample: options.sample } : {}),
    ...(options.poll !== undefined ? { poll: options.poll } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
}

/**
 * The cutover seen as the service's results store (`CompsOptions.results`):
 * `get`/`put`/`delete`/`list` are the cutover's `read`/`write`/`delete`/`list`,
 * so the service needs no other change to follow the stage.
 */
export function cutoverResults(cutover: Cutover<SearchResult>): CutoverStore<SearchResult> {
  return {
    label: `cutover(${cutover.name})`,
    get: (key) => cutover.read(key),
    put: (key, value) => cutover.write(key, value),
    delete: (key) => cutover.delete(key),
    list: (options) => cutover.list(options),
  };
}
