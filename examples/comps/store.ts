/**
 * Where Kuya Comps keeps things, one small module per collection, each the
 * shape of a cutover store (`CutoverStore` in src/cutover/store.ts:
 * get/put/delete/list by string key), so a live cutover can later wrap the
 * pair without the service changing:
 *
 * - search results, keyed by `searchKey()` (`sold:<card>|<filters>`):
 *   `redisSearchStore` is the old app's Redis-only cache (keys
 *   `<prefix>:<searchKey>`, JSON, 30 min for sold and 5 min for active, as the
 *   seed describes), `postgresSearchStore` the new home (a `searches` row
 *   with the result's `item_ids` and `expires_at`, the listings' metadata in
 *   `listing_cache`);
 * - price snapshots, keyed `<card>|<YYYY-MM-DD>`: `snapshotStore` (Postgres
 *   only: the old app kept no history), with `readSnapshot`/`writeSnapshot`;
 * - the search history (`recordSearch`): append-only, new with the database,
 *   nothing to move.
 *
 *   const results = postgresSearchStore(ferry);
 *   await results.put(key, { key, kind: 'sold', query, filters, fetched_at, items });
 *   const fresh = await results.get(key); // undefined once older than 30 min
 */
import type { Redis } from 'ioredis';
import type { CutoverStore, StoreEntry } from '../../src/cutover/store.js';
import { jsonFileStore } from '../../src/cutover/stores/json-file.js';
import type { DatabaseOf, Ferry, Row } from '../../src/index.js';
import { alerts, listingCache, priceSnapshots, type SearchFilters, savedSearches, searches, users } from './schema.js';
import { cardIdentifier, type Listing, type SearchKind } from './upstream.js';

export const compsSchema = { users, searches, priceSnapshots, listingCache, savedSearches, alerts };
export type DB = DatabaseOf<typeof compsSchema>;
export type CompsFerry = Ferry<DB>;
export type SnapshotRow = Row<typeof priceSnapshots>;

/** How long a result is served from Redis and from the database, by kind (the seed's 30 and 5 minutes). */
export const RESULT_TTL_MS: Readonly<Record<SearchKind, number>> = { sold: 30 * 60_000, active: 5 * 60_000 };

/** One search's answer: what `/comps` and `/active` return, less the summary computed from it. */
export interface SearchResult {
  key: string;
  kind: SearchKind;
  query: string;
  filters: SearchFilters;
  /** ISO instant the upstream was asked: the result is served until `fetched_at` + its kind's TTL. */
  fetched_at: string;
  items: Listing[];
}

const FILTER_NAMES = ['raw_only', 'base_only', 'exclude_auto'] as const;

/** The filters that are on, and only those (so `{raw_only: false}` and `{}` are one key). */
export function normalizeFilters(filters: SearchFilters = {}): SearchFilters {
  const out: SearchFilters = {};
  for (const name of FILTER_NAMES) if (filters[name]) out[name] = true;
  return out;
}

/** The key of a search: `sold:2020 topps chrome luis robert|raw_only,base_only`. */
export function searchKey(kind: SearchKind, query: string, filters: SearchFilters = {}): string {
  return `${kind}:${cardIdentifier(query)}|${Object.keys(normalizeFilters(filters)).join(',')}`;
}

/** Milliseconds `result` has left to be served at `now` (≤ 0: expired). */
export function remainingMs(result: Pick<SearchResult, 'kind' | 'fetched_at'>, now: Date): number {
  return Date.parse(result.fetched_at) + RESULT_TTL_MS[result.kind] - now.getTime();
}

export interface StoreClock {
  /** The clock deciding freshness (tests move it). Default: now. */
  now?: () => Date;
}

/**
 * The old app's cache: one Redis string per search, `<prefix>:<searchKey>`,
 * holding the result as JSON with a TTL of what the result has left (a put
 * of an older result keeps its original expiry; an expired one is not
 * written). `list` scans the prefix.
 */
export function redisSearchStore(
  redis: Redis,
  options: StoreClock & { prefix?: string } = {},
): CutoverStore<SearchResult> & { readonly prefix: string } {
  const prefix = options.prefix ?? 'kuya';
  const now = options.now ?? (() => new Date());
  const redisKey = (key: string) => `${prefix}:${key}`;
  return {
    label: `redis(${prefix}:*)`,
    prefix,
    async get(key) {
      const raw = await redis.get(redisKey(key));
      return raw === null ? undefined : (JSON.parse(raw) as SearchResult);
    },
    async put(key, value) {
      const ttl = remainingMs(value, now());
      if (ttl <= 0) await redis.del(redisKey(key));
      else await redis.set(redisKey(key), JSON.stringify(value), 'PX', ttl);
    },
    async delete(key) {
      await redis.del(redisKey(key));
    },
    async *list(listOptions = {}) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length === 0) continue;
        const values = await redis.mget(keys);
        for (let i = 0; i < keys.length; i++) {
          if (listOptions.signal?.aborted) return;
          const raw = values[i];
          // Expired between SCAN and MGET: gone, nothing to list.
          if (raw == null) continue;
          yield { key: (keys[i] as string).slice(prefix.length + 1), value: JSON.parse(raw) as SearchResult };
        }
      } while (cursor !== '0');
    },
  };
}

/** The table of the old app's results in `jsonSearchStore`'s file: `{"results": [<SearchResult>, ...]}`. */
export const LEGACY_COLLECTION = 'results';

/**
 * The old app's cache kept in a JSON file instead of Redis (for a machine
 * without Redis: the comps demo, `COMPS_LEGACY_FILE`): Ferry's
 * `jsonFileStore` with the results as a lowdb table, `{"results": [...]}`,
 * each found by its `key`. It keeps Redis' expiry rules: `get` and `list`
 * skip a result past its TTL, and a put of an expired one deletes the key.
 * The backfill reads the same file with the `json.collections` source.
 */
export function jsonSearchStore(file: string, options: StoreClock = {}): CutoverStore<SearchResult> {
  const now = options.now ?? (() => new Date());
  const inner = jsonFileStore<SearchResult>(file, {
    layout: 'collection',
    collection: LEGACY_COLLECTION,
    key: 'key',
    indent: 0,
  });
  const live = (value: SearchResult | undefined) => (value && remainingMs(value, now()) > 0 ? value : undefined);
  return {
    label: inner.label,
    get: async (key) => live(await inner.get(key)),
    put: (key, value) => (remainingMs(value, now()) > 0 ? inner.put(key, value) : inner.delete(key)),
    delete: (key) => inner.delete(key),
    async *list(listOptions) {
      for await (const entry of inner.list?.(listOptions) ?? []) if (live(entry.value)) yield entry;
    },
    close: () => inner.close?.() ?? Promise.resolve(),
  };
}

type SearchRow = Pick<
  Row<typeof searches>,
  'cache_key' | 'search_type' | 'query' | 'filters' | 'created_at' | 'item_ids'
>;
type ListingRow = Row<typeof listingCache>;

function listingOf(row: ListingRow): Listing {
  return {
    item_id: row.item_id,
    title: row.title,
    price: Number(row.price),
    listing_type: row.listing_type as Listing['listing_type'],
    condition: row.condition ?? '',
    sold: row.sold ?? false,
    sold_date: row.sold_date ? row.sold_date.toISOString() : null,
    bids: row.bids,
    watchers: row.watchers,
  };
}

/** When a result stops being served: its fetch time plus its kind's TTL. */
export function expiryOf(result: Pick<SearchResult, 'kind' | 'fetched_at'>): Date {
  return new Date(Date.parse(result.fetched_at) + RESULT_TTL_MS[result.kind]);
}

/**
 * The `searches` row that keeps `result` (under `key`): what
 * `postgresSearchStore().put` upserts and the backfill (backfill.ts) imports,
 * so a result written live and the same result backfilled are one row.
 */
export function searchRowOf(key: string, result: SearchResult) {
  return {
    query: result.query,
    search_type: result.kind,
    filters: normalizeFilters(result.filters),
    result_count: result.items.length,
    pages_scraped: 1,
    source: 'upstream' as const,
    cache_key: key,
    item_ids: result.items.map((i) => i.item_id),
    expires_at: expiryOf(result),
    created_at: new Date(result.fetched_at),
  };
}

/** The `listing_cache` rows of `result`'s listings (without `search_id`), as of its fetch. */
export function listingRowsOf(result: SearchResult) {
  const fetched = new Date(result.fetched_at);
  const expires = expiryOf(result);
  return result.items.map((item) => ({
    item_id: item.item_id,
    title: item.title,
    price: item.price,
    listing_type: item.listing_type,
    condition: item.condition,
    sold: item.sold,
    sold_date: item.sold_date ? new Date(item.sold_date) : null,
    bids: item.bids,
    watchers: item.watchers,
    last_updated: fetched,
    ttl: expires,
  }));
}

/**
 * Search results in Postgres: `put` adds a `searches` row (source
 * `upstream`, `created_at` = `fetched_at`, `expires_at` = `fetched_at` + the
 * kind's TTL, the listings' ids in order) and upserts the listings into
 * `listing_cache` (their `ttl` = the result's expiry); `get` serves the
 * newest row of the key that has not expired; `delete` stops serving the
 * key (the rows stay: they are the search history).
 */
export function postgresSearchStore(ferry: CompsFerry, options: StoreClock = {}): CutoverStore<SearchResult> {
  const now = options.now ?? (() => new Date());

  async function assemble(rows: readonly SearchRow[]): Promise<StoreEntry<SearchResult>[]> {
    const ids = [...new Set(rows.flatMap((r) => r.item_ids ?? []))];
    const listings =
      ids.length === 0
        ? []
        : await ferry.db.selectFrom('listing_cache').selectAll().where('item_id', 'in', ids).execute();
    const byId = new Map(listings.map((l) => [l.item_id, listingOf(l as ListingRow)]));
    return rows.map((r) => ({
      key: r.cache_key as string,
      value: {
        key: r.cache_key as string,
        kind: r.search_type as SearchKind,
        query: r.query,
        filters: r.filters,
        fetched_at: r.created_at.toISOString(),
        // A listing deleted by hand is left out rather than failing the whole result.
        items: (r.item_ids ?? []).flatMap((id) => byId.get(id) ?? []),
      },
    }));
  }

  const columns = ['cache_key', 'search_type', 'query', 'filters', 'created_at', 'item_ids'] as const;
  return {
    label: 'postgres(searches, listing_cache)',
    async get(key) {
      const row = await ferry.db
        .selectFrom('searches')
        .select(columns)
        .where('cache_key', '=', key)
        .where('expires_at', '>', now())
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (!row) return undefined;
      const [entry] = await assemble([row as SearchRow]);
      return entry?.value;
    },
    async put(key, value) {
      await ferry.transaction(async (tx) => {
        // Idempotent: the same result put twice (a replayed write) updates its one row.
        const [search] = await tx.repo(searches).upsert(searchRowOf(key, value), {
          conflict: ['cache_key', 'created_at'],
        });
        if (value.items.length === 0) return;
        await tx.repo(listingCache).upsert(
          listingRowsOf(value).map((row) => ({ ...row, search_id: search!.id })),
          { conflict: ['item_id'] },
        );
      });
    },
    async delete(key) {
      await ferry.db
        .updateTable('searches')
        .set({ expires_at: null })
        .where('cache_key', '=', key)
        .where('expires_at', 'is not', null)
        .execute();
    },
    async *list(listOptions = {}) {
      // Keyset pages over the keys: the newest unexpired row of each, 200 keys at a time.
      let after = '';
      for (;;) {
        if (listOptions.signal?.aborted) return;
        const rows = await ferry.db
          .selectFrom('searches')
          .select(columns)
          .distinctOn('cache_key')
          .where('cache_key', '>', after)
          .where('expires_at', '>', now())
          .orderBy('cache_key')
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(200)
          .execute();
        if (rows.length === 0) return;
        yield* await assemble(rows as SearchRow[]);
        after = rows[rows.length - 1]?.cache_key as string;
      }
    },
  };
}

/** What is written for one card and day; prices in dollars. */
export interface PriceSnapshot {
  card_identifier: string;
  /** YYYY-MM-DD (UTC). */
  snapshot_date: string;
  market_value: number;
  fmv_low?: number | null;
  fmv_high?: number | null;
  quick_sale?: number | null;
  patient_sale?: number | null;
  sample_size?: number | null;
  min_price?: number | null;
  max_price?: number | null;
  avg_price?: number | null;
  volume_confidence?: string | null;
  search_id?: number | null;
  /** When the snapshot was taken (default now): a later one of the same day replaces an earlier one. */
  taken_at?: Date;
}

export const snapshotKey = (card: string, day: string) => `${cardIdentifier(card)}|${day}`;

/** Insert the card's snapshot of the day, or update it (the unique card/day pair). */
export async function writeSnapshot(ferry: CompsFerry, snapshot: PriceSnapshot): Promise<SnapshotRow> {
  const { taken_at, ...values } = snapshot;
  const at = taken_at ?? new Date();
  const [row] = await ferry
    .repo(priceSnapshots)
    .upsert(
      { ...values, card_identifier: cardIdentifier(values.card_identifier), created_at: at, updated_at: at },
      { conflict: ['card_identifier', 'snapshot_date'], update: updatable },
    );
  return row!;
}

/** Every column a same-day snapshot replaces: all but the key, `id` and `created_at` (when the day's first was taken). */
const updatable = [
  'search_id',
  'fmv_low',
  'fmv_high',
  'market_value',
  'quick_sale',
  'patient_sale',
  'sample_size',
  'min_price',
  'max_price',
  'avg_price',
  'volume_confidence',
  'updated_at',
] as const;

export async function readSnapshot(ferry: CompsFerry, card: string, day: string): Promise<SnapshotRow | undefined> {
  return (await ferry.db
    .selectFrom('price_snapshots')
    .selectAll()
    .where('card_identifier', '=', cardIdentifier(card))
    .where('snapshot_date', '=', day)
    .executeTakeFirst()) as SnapshotRow | undefined;
}

/** The snapshots as a cutover store, keyed `<card>|<day>`. */
export function snapshotStore(ferry: CompsFerry): CutoverStore<PriceSnapshot> {
  const split = (key: string) => {
    const at = key.lastIndexOf('|');
    return [key.slice(0, at), key.slice(at + 1)] as const;
  };
  const toSnapshot = (row: SnapshotRow): PriceSnapshot => ({
    card_identifier: row.card_identifier,
    snapshot_date: row.snapshot_date,
    market_value: Number(row.market_value),
    fmv_low: row.fmv_low === null ? null : Number(row.fmv_low),
    fmv_high: row.fmv_high === null ? null : Number(row.fmv_high),
    quick_sale: row.quick_sale === null ? null : Number(row.quick_sale),
    patient_sale: row.patient_sale === null ? null : Number(row.patient_sale),
    sample_size: row.sample_size,
    min_price: row.min_price === null ? null : Number(row.min_price),
    max_price: row.max_price === null ? null : Number(row.max_price),
    avg_price: row.avg_price === null ? null : Number(row.avg_price),
    volume_confidence: row.volume_confidence,
    search_id: row.search_id,
    taken_at: row.updated_at,
  });
  return {
    label: 'postgres(price_snapshots)',
    async get(key) {
      const [card, day] = split(key);
      const row = await readSnapshot(ferry, card, day);
      return row ? toSnapshot(row) : undefined;
    },
    async put(key, value) {
      const [card, day] = split(key);
      await writeSnapshot(ferry, { ...value, card_identifier: card, snapshot_date: day });
    },
    async delete(key) {
      const [card, day] = split(key);
      await ferry.db
        .deleteFrom('price_snapshots')
        .where('card_identifier', '=', card)
        .where('snapshot_date', '=', day)
        .execute();
    },
    async *list() {
      let after = 0;
      for (;;) {
        const rows = (await ferry.db
          .selectFrom('price_snapshots')
          .selectAll()
          .where('id', '>', after)
          .orderBy('id')
          .limit(500)
          .execute()) as SnapshotRow[];
        if (rows.length === 0) return;
        for (const row of rows)
          yield { key: snapshotKey(row.card_identifier, row.snapshot_date), value: toSnapshot(row) };
        after = rows[rows.length - 1]?.id as number;
      }
    },
  };
}

/** One search served, for the history and the analytics' popular searches. */
export interface SearchRecord {
  query: string;
  kind: SearchKind;
  filters: SearchFilters;
  result_count: number;
  source: 'redis' | 'database';
  execution_time_ms: number;
  user_id?: number | null;
}

/**
 * Record a search answered from a cache tier (an upstream fetch is recorded
 * by `postgresSearchStore().put`, whose row also serves the result).
 */
export async function recordSearch(ferry: CompsFerry, record: SearchRecord): Promise<void> {
  await ferry.repo(searches).insert({
    query: record.query,
    search_type: record.kind,
    filters: normalizeFilters(record.filters),
    result_count: record.result_count,
    execution_time_ms: Math.round(record.execution_time_ms),
    cache_hit: true,
    source: record.source,
    user_id: record.user_id ?? null,
  });
}
