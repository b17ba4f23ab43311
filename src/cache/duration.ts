import { cacheError, E_CACHE_CONFIG } from './errors.js';

/** Milliseconds, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'30d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in whole milliseconds (>= 0); throws E_CACHE_CONFIG for anything else. */
export function toMs(value: Duration, what: string): number {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(String(value));
    if (!m)
      throw cacheError(E_CACHE_CONFIG, `${what}: "${value}" is not a duration (use ms, or e.g. '30s', '5m', '1h').`);
    ms = Number(m[1]) * UNITS[m[2]!]!;
  }
  if (!Number.isFinite(ms) || ms < 0) {
    throw cacheError(E_CACHE_CONFIG, `${what}: expected a duration >= 0, received ${String(value)}.`);
  }
  return Math.round(ms);
}
