/**
 * A local, deterministic stand-in for the seed's two upstream APIs
 * (SearchAPI.io for sold listings, eBay's Browse API for active ones), which
 * are out of reach here: the same card, filters and day give the same
 * listings, every call waits `delayMs` as a network round trip would, and
 * `calls` counts them (the caching tiers exist to keep that number down).
 *
 * Prices are seeded from the card's name: a base price between $5 and $500,
 * drifting day by day, with graded, parallel and autographed variants priced
 * above it, so the filters (`raw_only`, `base_only`, `exclude_auto`) change
 * the result and the daily snapshots make a trend.
 *
 *   const upstream = createUpstream({ delayMs: 50 });
 *   const sold = await upstream.search('sold', '2020 Topps Chrome Luis Robert', { raw_only: true });
 */
import type { SearchFilters } from './schema.js';

export type SearchKind = 'sold' | 'active';

/** One listing's metadata (all eBay's terms allow keeping). */
export interface Listing {
  item_id: string;
  title: string;
  /** Dollars, two decimals. */
  price: number;
  listing_type: 'auction' | 'buy_it_now';
  condition: string;
  sold: boolean;
  /** ISO instant, sold listings only. */
  sold_date: string | null;
  bids: number | null;
  watchers: number | null;
}

export interface UpstreamOptions {
  /** Latency of every call, ms (default 100). */
  delayMs?: number;
  /** The clock choosing the day (tests move it). Default: now. */
  now?: () => Date;
}

export interface Upstream {
  search(kind: SearchKind, query: string, filters?: SearchFilters): Promise<Listing[]>;
  /** Calls made so far. */
  readonly calls: number;
}

/** Listings generated per call, before the filters drop some. */
const SOLD_PER_CALL = 24;
const ACTIVE_PER_CALL = 12;

/** The card a query is about: lower case, single spaces (the seed's "normalized card name"). */
export function cardIdentifier(query: string): string {
  return query.trim().toLowerCase().replace(/\s+/g, ' ');
}

/** FNV-1a, 32 bits: a stable hash of a string. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small seeded generator, [0, 1) (the load generator's request mix uses it too). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The card's base price in cents, $5.00 to $500.00, from its name alone. */
export function basePriceCents(card: string): number {
  return 500 + (hash32(cardIdentifier(card)) % 49_501);
}

const VARIANTS = [
  { label: '', factor: 1, graded: false, parallel: false, auto: false },
  { label: ' PSA 10', factor: 3, graded: true, parallel: false, auto: false },
  { label: ' Refractor', factor: 1.8, graded: false, parallel: true, auto: false },
  { label: ' Auto', factor: 4, graded: false, parallel: false, auto: true },
  { label: ' BGS 9.5', factor: 2.2, graded: true, parallel: false, auto: false },
] as const;

/** Which generated variant each listing gets: most are the raw base card. */
const VARIANT_ODDS = [0, 0, 0, 0, 0, 1, 2, 3, 4, 0] as const;

/** The listings of `kind` for `query` on `day` (YYYY-MM-DD), filtered: the deterministic heart of the stand-in. */
export function generateListings(kind: SearchKind, query: string, filters: SearchFilters, day: string): Listing[] {
  const card = cardIdentifier(query);
  const dayNumber = Math.floor(Date.parse(`${day}T00:00:00Z`) / 86_400_000);
  const base = basePriceCents(card);
  // A slow drift (about ±15 % over a few weeks), the same for every listing of the day.
  const drift = 1 + 0.15 * Math.sin(dayNumber / 9 + (hash32(card) % 628) / 100);
  const next = seededRandom(hash32(`${kind}|${card}|${day}`));
  const count = kind === 'sold' ? SOLD_PER_CALL : ACTIVE_PER_CALL;
  const listings: Listing[] = [];
  for (let i = 0; i < count; i++) {
    const variant = VARIANTS[VARIANT_ODDS[Math.floor(next() * VARIANT_ODDS.length)] ?? 0] ?? VARIANTS[0];
    const noise = 0.8 + next() * 0.4;
    const cents = Math.max(99, Math.round(base * drift * variant.factor * noise));
    const auction = next() < 0.5;
    const listing: Listing = {
      item_id: `${kind === 'sold' ? 'S' : 'A'}${hash32(`${card}|${day}|${i}`).toString().padStart(10, '0')}${i % 10}`,
      title: `${query.trim()}${variant.label}`,
      price: cents / 100,
      listing_type: auction ? 'auction' : 'buy_it_now',
      condition: variant.graded ? 'Graded' : 'Ungraded',
      sold: kind === 'sold',
      sold_date:
        kind === 'sold' ? new Date((dayNumber * 86_400 + Math.floor(next() * 86_400)) * 1000).toISOString() : null,
      bids: auction ? Math.floor(next() * 30) : null,
      watchers: Math.floor(next() * 50),
    };
    if (filters.raw_only && variant.graded) continue;
    if (filters.base_only && variant.parallel) continue;
    if (filters.exclude_auto && variant.auto) continue;
    listings.push(listing);
  }
  return listings;
}

/** The upstream APIs' stand-in; see the module comment. */
export function createUpstream(options: UpstreamOptions = {}): Upstream {
  const delayMs = options.delayMs ?? 100;
  const now = options.now ?? (() => new Date());
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    async search(kind, query, filters = {}) {
      calls++;
      const day = now().toISOString().slice(0, 10);
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return generateListings(kind, query, filters, day);
    },
  };
}
