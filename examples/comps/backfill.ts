/**
 * The backfill of the `comps-searches` cutover (cutover.ts): every search
 * result the old app left in Redis (`kuya:sold:<card>|<filters>`,
 * `kuya:active:…`, JSON with a TTL: legacy.ts) imported into Postgres as
 * the new app keeps it, a `searches` row (the result's key, listing ids and
 * expiry) and a `listing_cache` row per listing, the very rows
 * `postgresSearchStore().put` writes (`searchRowOf`, `listingRowsOf`).
 *
 * It runs while the cutover is in `dual-write`, so the app writes results to
 * both stores as it goes, and a row may already be there, newer, when the
 * import reaches its key:
 *
 * - `listing_cache`: `onConflict: { update: 'if-newer', by: 'last_updated' }`
 *   (the fetch that wrote the listing). A listing is one row shared by every
 *   result that holds it: one the app fetched after the old result was
 *   cached keeps the newer metadata; an older copy from Redis only fills
 *   rows that are not there, or older ones.
 * - `searches`: `onConflict: 'skip'`. A result's version, its fetch time
 *   (`created_at`), is part of the row's key (`cache_key, created_at`), so
 *   there is nothing to order (the import refuses `if-newer` by a key
 *   column): a row with the same key and fetch is the same result already
 *   written live, never rewritten; in particular one the app stopped
 *   serving (`expires_at` cleared by a cutover delete) is not brought back.
 *   An older result of a key is a row of its own, and the store serves the
 *   newest.
 *
 *   npx ferry import examples/comps/backfill.ts            # REDIS_URL, COMPS_LEGACY_PREFIX (default kuya)
 *   await runImport({ db, definition: compsBackfill({ redisUrl, prefix }) });
 *
 * Where the old results are in a JSON file instead (`jsonSearchStore`, the
 * demo without Redis: `{"results": [<result>, ...]}`), `file` (or
 * `COMPS_LEGACY_FILE`) reads them with the `json.collections` source; the
 * rows and the guards are the same.
 *
 * Expired results are skipped (Redis drops them anyway; one that expires
 * while the import runs would never be served again).
 */
import path from 'node:path';
import { defineImport, json, type RedisRecord, redis } from '../../src/import/index.js';
import { compsSchema, LEGACY_COLLECTION, listingRowsOf, remainingMs, type SearchResult, searchRowOf } from './store.js';

export interface CompsBackfillOptions {
  /** The old app's Redis (default `REDIS_URL`, else redis://127.0.0.1:6379). */
  redisUrl?: string;
  /** The old results' JSON file (`jsonSearchStore`) instead of Redis (default `COMPS_LEGACY_FILE`, else Redis). */
  file?: string;
  /** The old keys' prefix (default `COMPS_LEGACY_PREFIX`, else `kuya`). */
  prefix?: string;
  /** The clock deciding which results expired (tests move it). */
  now?: () => Date;
  /** The import's name, for its checkpoint (default `comps-backfill`). */
  name?: string;
}

function isSearchResult(value: unknown): value is SearchResult {
  const v = value as Partial<SearchResult> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.key === 'string' &&
    (v.kind === 'sold' || v.kind === 'active') &&
    typeof v.query === 'string' &&
    typeof v.fetched_at === 'string' &&
    Array.isArray(v.items) &&
    typeof v.filters === 'object'
  );
}

/** The backfill as an import definition (see the module comment). */
export function compsBackfill(options: CompsBackfillOptions = {}) {
  const redisUrl = options.redisUrl ?? (process.env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379');
  const prefix = options.prefix ?? (process.env.COMPS_LEGACY_PREFIX?.trim() || 'kuya');
  const envFile = process.env.COMPS_LEGACY_FILE?.trim();
  // A path from the shell is the shell's (cwd), not the import file's folder.
  const file = options.file ?? (envFile ? path.resolve(envFile) : undefined);
  const now = options.now ?? (() => new Date());
  return defineImport({
    name: options.name ?? 'comps-backfill',
    schema: compsSchema,
    source: file
      ? json.collections(file, { collections: [LEGACY_COLLECTION] })
      : // `namespace` strips `<prefix>:` from each record's `id`: what is left is the result's key.
        redis({ url: redisUrl, namespace: prefix, type: 'json' }),
    tables: {
      searches: { key: ['cache_key', 'created_at'], onConflict: 'skip' },
      listing_cache: {
        key: ['item_id'],
        onConflict: { update: 'if-newer', by: 'last_updated' },
        // When the listing was first seen is the first writer's to say.
        insertOnly: ['first_seen'],
      },
    },
    map(record: unknown, ctx) {
      // Redis: the key's JSON, under the key; the file: the result itself, found by its `key`.
      const {
        value: result,
        id,
        where,
      } = file
        ? { value: record, id: (record as { key?: unknown })?.key, where: `result` }
        : {
            value: (record as RedisRecord).value,
            id: (record as RedisRecord).id,
            where: `key "${(record as RedisRecord).key}"`,
          };
      if (!isSearchResult(result)) {
        return ctx.reject(`${where} does not hold a search result (key, kind, query, filters, fetched_at, items)`);
      }
      if (result.key !== id) {
        return ctx.reject(`${where} holds the result of "${result.key}"; it was written under another key`);
      }
      ctx.timestamp(result.fetched_at, 'created_at'); // an unreadable fetch time rejects the record
      if (remainingMs(result, now()) <= 0) return undefined;
      const listings = listingRowsOf(result).map((row) => ({ ...row, first_seen: row.last_updated }));
      return { searches: searchRowOf(result.key, result), listing_cache: listings };
    },
  });
}

export default compsBackfill();
