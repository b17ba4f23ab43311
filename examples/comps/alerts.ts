/**
 * Saved searches and their price alerts (the seed's `alert_enabled`,
 * `alert_threshold`: "alert if price drops below"). A saved search's query
 * is stored as a card identifier, so a new snapshot finds the saved searches
 * it concerns by equality (and the partial index on enabled alerts).
 *
 *   await saveSearch(ferry, { email: 'a@b.c', name: 'Robert', query: 'Luis Robert', alert_threshold: 40 });
 *   const fired = await recordAlerts(ferry, snapshotRow); // the alerts this snapshot fired
 */
import { sql } from 'kysely';
import type { Row } from '../../src/index.js';
import type { alerts, SearchFilters, savedSearches } from './schema.js';
import { type CompsFerry, normalizeFilters, type SnapshotRow } from './store.js';
import { cardIdentifier } from './upstream.js';

export type SavedSearch = Row<typeof savedSearches>;
export type Alert = Row<typeof alerts>;

export interface SaveSearchInput {
  /** The user, created on first use. */
  email: string;
  name: string;
  query: string;
  filters?: SearchFilters;
  /** Alert when the card's market value drops below this (dollars); absent or null: no alert. */
  alert_threshold?: number | null;
}

/** Create or replace the user's saved search `name` (unique per user). */
export async function saveSearch(ferry: CompsFerry, input: SaveSearchInput): Promise<SavedSearch> {
  return ferry.transaction(async (tx) => {
    const user = await tx.db
      .insertInto('users')
      .values({ email: input.email.trim().toLowerCase() })
      .onConflict((oc) => oc.column('email').doUpdateSet({ last_login: new Date() }))
      .returning('id')
      .executeTakeFirstOrThrow();
    const threshold = input.alert_threshold ?? null;
    const values = {
      user_id: user.id,
      name: input.name,
      query: cardIdentifier(input.query),
      filters: normalizeFilters(input.filters),
      alert_enabled: threshold !== null,
      alert_threshold: threshold,
    };
    const { user_id: _u, name: _n, ...update } = values;
    return (await tx.db
      .insertInto('saved_searches')
      .values(values)
      .onConflict((oc) => oc.columns(['user_id', 'name']).doUpdateSet(update))
      .returningAll()
      .executeTakeFirstOrThrow()) as SavedSearch;
  });
}

/**
 * The alerts `snapshot` fires: one per enabled saved search of its card whose
 * threshold is above the snapshot's market value, at most one per saved
 * search and day (a same-day update that is still below does not fire again).
 */
export async function recordAlerts(ferry: CompsFerry, snapshot: SnapshotRow): Promise<Alert[]> {
  if (snapshot.market_value === null) return [];
  const { rows } = await sql<Alert>`
    insert into alerts (saved_search_id, snapshot_id, card_identifier, snapshot_date, price, threshold)
    select s.id, ${snapshot.id}, ${snapshot.card_identifier}, ${snapshot.snapshot_date}::date,
           ${snapshot.market_value}::numeric, s.alert_threshold
    from saved_searches s
    where s.alert_enabled and s.query = ${snapshot.card_identifier}
      and s.alert_threshold is not null and ${snapshot.market_value}::numeric < s.alert_threshold
    on conflict (saved_search_id, snapshot_date) do nothing
    returning *`.execute(ferry.db);
  if (rows.length > 0) {
    await ferry.db
      .updateTable('saved_searches')
      .set({ last_run: new Date() })
      .where(
        'id',
        'in',
        rows.map((r) => r.saved_search_id),
      )
      .execute();
  }
  return rows;
}

/** A user's alerts, newest first. */
export async function alertsFor(ferry: CompsFerry, email: string, limit = 50) {
  return ferry.db
    .selectFrom('alerts as a')
    .innerJoin('saved_searches as s', 's.id', 'a.saved_search_id')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(['a.id', 's.name', 'a.card_identifier', 'a.snapshot_date', 'a.price', 'a.threshold', 'a.created_at'])
    .where('u.email', '=', email.trim().toLowerCase())
    .orderBy('a.created_at', 'desc')
    .orderBy('a.id', 'desc')
    .limit(limit)
    .execute();
}
