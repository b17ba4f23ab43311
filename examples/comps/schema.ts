/**
 * Seed 001, "Kuya Comps" (a sports-card price tracker): the schema of its
 * migration plan, in Ferry's DSL. Users and their saved searches (with a price
 * alert), every search served (the analytics' "popular searches"), one price
 * snapshot per card and day (a later snapshot of the same day updates it),
 * listing metadata only (eBay's terms: no images, no descriptions) with a
 * `ttl` saying when to refresh, and the alerts a snapshot below a saved
 * search's threshold records.
 *
 * Departures from the seed's SQL, each for a reason:
 * - `searches` also keeps what a result needs to be served again from the
 *   database (the plan's phase 3, "return database data if fresh"):
 *   `cache_key` (the Redis key the old app used), `item_ids` (the listings,
 *   in order) and `expires_at` (until when it is served; null for a search
 *   answered from a cache, which fetched nothing). `(cache_key, created_at)`
 *   is unique, so storing one result twice is idempotent.
 * - `source` says which tier answered (redis, database, upstream).
 * - `price_snapshots.updated_at`: a same-day snapshot updates the row, and a
 *   backfill must not overwrite a newer one with an older (`if-newer`).
 * - `alerts` is new: the seed's `alert_threshold` needs somewhere to record
 *   that it fired (once per saved search and day).
 * - The seed's `idx_listing_cache_item_id` is left out: the unique
 *   constraint on `item_id` already is that index.
 */
import {
  boolean,
  check,
  date,
  index,
  integer,
  jsonb,
  numeric,
  serial,
  sql,
  table,
  text,
  timestamps,
  timestamptz,
  unique,
  varchar,
} from '../../src/index.js';

/** The seed's search filters (`{raw_only, base_only, exclude_auto}`). */
export interface SearchFilters {
  /** Ungraded cards only (no PSA/BGS/SGC slabs). */
  raw_only?: boolean;
  /** The base card only (no parallels: refractors, numbered, colours). */
  base_only?: boolean;
  /** No autographed cards. */
  exclude_auto?: boolean;
}

export const users = table('users', {
  id: serial().primaryKey(),
  email: varchar(255).notNull().unique(),
  password_hash: varchar(255),
  display_name: varchar(100),
  created_at: timestamptz().notNull().defaultNow(),
  last_login: timestamptz(),
  is_active: boolean().notNull().default(true),
});

/** Every search served, whichever tier answered it. */
export const searches = table(
  'searches',
  {
    id: serial().primaryKey(),
    query: text().notNull().index('ix_searches_query'),
    search_type: varchar(20).notNull(),
    filters: jsonb<SearchFilters>().notNull().default({}),
    pages_scraped: integer(),
    result_count: integer().notNull(),
    execution_time_ms: integer(),
    cache_hit: boolean().notNull().default(false),
    source: varchar(10).notNull(),
    cache_key: text(),
    item_ids: text().array(),
    expires_at: timestamptz(),
    user_id: integer()
      .references(() => users.columns.id, { onDelete: 'set null' })
      .index('ix_searches_user_id'),
    created_at: timestamptz().notNull().defaultNow().index('ix_searches_created_at'),
  },
  (t) => [
    check('ck_searches_type', sql`${t.search_type} in ('sold', 'active')`),
    check('ck_searches_source', sql`${t.source} in ('redis', 'database', 'upstream')`),
    // One result per key and fetch time: a put repeated (a cutover replaying its journal, a backfill
    // meeting a dual write) lands on the same row. Also the database tier's lookup (newest of a key).
    unique('uq_searches_cache_key_created').on(t.cache_key, t.created_at),
  ],
);

/** Aggregated prices of one card on one day; numerics are read as strings (no precision lost). */
export const priceSnapshots = table(
  'price_snapshots',
  {
    id: serial().primaryKey(),
    card_identifier: text().notNull().index('ix_price_snapshots_card'),
    search_id: integer().references(() => searches.columns.id, { onDelete: 'set null' }),
    snapshot_date: date().notNull().index('ix_price_snapshots_date'),
    fmv_low: numeric(10, 2),
    fmv_high: numeric(10, 2),
    market_value: numeric(10, 2),
    quick_sale: numeric(10, 2),
    patient_sale: numeric(10, 2),
    sample_size: integer(),
    min_price: numeric(10, 2),
    max_price: numeric(10, 2),
    avg_price: numeric(10, 2),
    volume_confidence: varchar(20),
    parallel_analysis: jsonb<Record<string, unknown>>(),
    grading_analysis: jsonb<Record<string, unknown>>(),
    ...timestamps(),
  },
  (t) => [unique('uq_price_snapshots_card_day').on(t.card_identifier, t.snapshot_date)],
);

/** Listing metadata only (eBay's terms), refreshed after `ttl`. */
export const listingCache = table(
  'listing_cache',
  {
    id: serial().primaryKey(),
    item_id: varchar(50).notNull().unique(),
    title: text().notNull(),
    price: numeric(10, 2),
    listing_type: varchar(20),
    condition: varchar(50),
    sold: boolean(),
    sold_date: timestamptz().index('ix_listing_cache_sold_date'),
    bids: integer(),
    watchers: integer(),
    first_seen: timestamptz().notNull().defaultNow(),
    last_updated: timestamptz().notNull().defaultNow(),
    ttl: timestamptz().index('ix_listing_cache_ttl'),
    search_id: integer().references(() => searches.columns.id, { onDelete: 'set null' }),
  },
  // The seed's partial index: the active (unsold) listings, a small part of the table.
  (t) => [index('ix_listing_cache_active').on(t.item_id).where(sql`${t.sold} = false`)],
);

export const savedSearches = table(
  'saved_searches',
  {
    id: serial().primaryKey(),
    user_id: integer()
      .notNull()
      .references(() => users.columns.id, { onDelete: 'cascade' })
      .index('ix_saved_searches_user'),
    name: varchar(100).notNull(),
    /** Normalised like a card identifier (see `cardIdentifier`), so a snapshot finds its saved searches by equality. */
    query: text().notNull(),
    filters: jsonb<SearchFilters>().notNull().default({}),
    alert_enabled: boolean().notNull().default(false),
    /** Alert when a card's market value drops below this. */
    alert_threshold: numeric(10, 2),
    created_at: timestamptz().notNull().defaultNow(),
    last_run: timestamptz(),
  },
  (t) => [
    unique('uq_saved_searches_user_name').on(t.user_id, t.name),
    index('ix_saved_searches_alerts').on(t.query).where(sql`${t.alert_enabled}`),
  ],
);

/** A saved search's alert fired: one per saved search and day (a same-day snapshot update does not fire twice). */
export const alerts = table(
  'alerts',
  {
    id: serial().primaryKey(),
    saved_search_id: integer()
      .notNull()
      .references(() => savedSearches.columns.id, { onDelete: 'cascade' }),
    snapshot_id: integer()
      .notNull()
      .references(() => priceSnapshots.columns.id, { onDelete: 'cascade' }),
    card_identifier: text().notNull(),
    snapshot_date: date().notNull(),
    price: numeric(10, 2).notNull(),
    threshold: numeric(10, 2).notNull(),
    created_at: timestamptz().notNull().defaultNow(),
  },
  (t) => [unique('uq_alerts_saved_search_day').on(t.saved_search_id, t.snapshot_date)],
);
