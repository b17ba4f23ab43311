/**
 * Price trends and popular searches, the seed's phase 4, computed by
 * Postgres with window functions:
 * - the daily series of a card's market value, with 7- and 30-day moving
 *   averages over *calendar* days (`RANGE … interval '6 days' PRECEDING`: a
 *   day without a snapshot shortens the window instead of stretching it),
 *   reaching back before the period asked for so its first days average as
 *   many days as the later ones;
 * - the period's low and high (with their dates) and the % change from its
 *   first to its last snapshot;
 * - the most searched cards, ranked.
 *
 *   await priceTrend(ferry, '2020 Topps Chrome Luis Robert', { days: 90 });
 *   // { card, days: 90, points: [{ date, market_value, ma7, ma30, sample_size }], low, high, change_pct }
 */
import { sql } from 'kysely';
import type { CompsFerry } from './store.js';
import { cardIdentifier } from './upstream.js';

export interface TrendPoint {
  date: string;
  market_value: number;
  /** Average of the snapshots of the 7 calendar days ending here, rounded to cents. */
  ma7: number;
  ma30: number;
  sample_size: number | null;
}

export interface PriceTrend {
  card: string;
  days: number;
  points: TrendPoint[];
  low: { date: string; market_value: number } | null;
  high: { date: string; market_value: number } | null;
  /** (last − first) / first × 100, two decimals; null with fewer than two snapshots or a first of 0. */
  change_pct: number | null;
}

interface TrendRow {
  date: string;
  market_value: string;
  ma7: string;
  ma30: string;
  sample_size: number | null;
  first_value: string;
  last_value: string;
  n: string | number;
}

/** `days` days ending on `today` (default the database's current date). */
export async function priceTrend(
  ferry: CompsFerry,
  card: string,
  options: { days?: number; today?: string } = {},
): Promise<PriceTrend> {
  const id = cardIdentifier(card);
  const days = Math.max(1, Math.min(3650, Math.floor(options.days ?? 90)));
  const today = options.today ? sql`${options.today}::date` : sql`current_date`;
  const { rows } = await sql<TrendRow>`
    with windowed as (
      select snapshot_date, market_value, sample_size,
             round(avg(market_value) over w7, 2) as ma7,
             round(avg(market_value) over w30, 2) as ma30
      from price_snapshots
      where card_identifier = ${id} and market_value is not null
        and snapshot_date > ${today} - ${days + 29}::int and snapshot_date <= ${today}
      window w7 as (order by snapshot_date range between interval '6 days' preceding and current row),
             w30 as (order by snapshot_date range between interval '29 days' preceding and current row)
    )
    select to_char(snapshot_date, 'YYYY-MM-DD') as date, market_value, ma7, ma30, sample_size,
           first_value(market_value) over whole as first_value,
           last_value(market_value) over whole as last_value,
           count(*) over whole as n
    from windowed
    where snapshot_date > ${today} - ${days}::int
    window whole as (order by snapshot_date rows between unbounded preceding and unbounded following)
    order by snapshot_date`.execute(ferry.db);
  const points = rows.map((r) => ({
    date: r.date,
    market_value: Number(r.market_value),
    ma7: Number(r.ma7),
    ma30: Number(r.ma30),
    sample_size: r.sample_size,
  }));
  let low: PriceTrend['low'] = null;
  let high: PriceTrend['high'] = null;
  for (const p of points) {
    if (!low || p.market_value < low.market_value) low = { date: p.date, market_value: p.market_value };
    if (!high || p.market_value > high.market_value) high = { date: p.date, market_value: p.market_value };
  }
  const first = rows[0];
  const change =
    first && Number(first.n) >= 2 && Number(first.first_value) !== 0
      ? Math.round(((Number(first.last_value) - Number(first.first_value)) / Number(first.first_value)) * 10_000) / 100
      : null;
  return { card: id, days, points, low, high, change_pct: change };
}

export interface PopularSearch {
  query: string;
  searches: number;
  rank: number;
}

/** The most searched cards of the last `days` days (default 7), ranked (ties share a rank). */
export async function popularSearches(
  ferry: CompsFerry,
  options: { days?: number; limit?: number } = {},
): Promise<PopularSearch[]> {
  const days = Math.max(1, Math.floor(options.days ?? 7));
  const limit = Math.max(1, Math.min(100, Math.floor(options.limit ?? 10)));
  const { rows } = await sql<{ query: string; searches: string | number; rank: string | number }>`
    select regexp_replace(lower(btrim(query)), '\\s+', ' ', 'g') as query,
           count(*) as searches,
           rank() over (order by count(*) desc) as rank
    from searches
    where created_at > now() - make_interval(days => ${days})
    group by 1
    order by searches desc, query
    limit ${limit}`.execute(ferry.db);
  return rows.map((r) => ({ query: r.query, searches: Number(r.searches), rank: Number(r.rank) }));
}
