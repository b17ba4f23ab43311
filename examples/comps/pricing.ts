/**
 * What a page of sold listings says a card is worth: the seed's aggregated
 * pricing (FMV range, market value, quick and patient sale prices) and
 * statistics, computed in integer cents so the numbers written to
 * `numeric(10,2)` columns are exact.
 *
 *   summarize([{ price: 10 }, { price: 12 }, { price: 30 }])
 *   // { sample_size: 3, min_price: 10, max_price: 30, avg_price: 17.33, market_value: 12, ... }
 */

export interface PriceSummary {
  sample_size: number;
  min_price: number;
  max_price: number;
  avg_price: number;
  /** The median sale. */
  market_value: number;
  /** 25th and 75th percentiles of the sales: the fair-market range. */
  fmv_low: number;
  fmv_high: number;
  /** What sells within days: the low end of the range, less 5 %. */
  quick_sale: number;
  /** What a patient seller gets: the high end of the range, plus 5 %. */
  patient_sale: number;
  volume_confidence: 'high' | 'medium' | 'low';
}

/** The `p`-th percentile (0–1) of sorted cents, nearest-rank: always one of the sales. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank] as number;
}

/** Summarise sale prices (dollars); `null` for no sales. */
export function summarize(listings: readonly { price: number }[]): PriceSummary | null {
  if (listings.length === 0) return null;
  const cents = listings.map((l) => Math.round(l.price * 100)).sort((a, b) => a - b);
  const total = cents.reduce((sum, c) => sum + c, 0);
  const low = percentile(cents, 0.25);
  const high = percentile(cents, 0.75);
  return {
    sample_size: cents.length,
    min_price: (cents[0] as number) / 100,
    max_price: (cents[cents.length - 1] as number) / 100,
    avg_price: Math.round(total / cents.length) / 100,
    market_value: percentile(cents, 0.5) / 100,
    fmv_low: low / 100,
    fmv_high: high / 100,
    quick_sale: Math.round(low * 0.95) / 100,
    patient_sale: Math.round(high * 1.05) / 100,
    volume_confidence: cents.length >= 20 ? 'high' : cents.length >= 8 ? 'medium' : 'low',
  };
}
