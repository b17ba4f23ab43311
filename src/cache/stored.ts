/**
 * How a value is stored in Redis: `<expiresAt>|<graceUntil>|<json>`
 * (wall-clock ms). The times come first so a hit can be checked for
 * freshness without decoding the value.
 */
import { decode } from './codec.js';

/** The whole milliseconds written at raw[from, to) (as `stored` writes them: digits only), without a substring; NaN otherwise. */
export function msAt(raw: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return Number.NaN;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = raw.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return n;
}

export function stored(exp: number, hard: number, json: string): string {
  return `${exp}|${hard}|${json}`;
}

export function parseStored(raw: string): { exp: number; hard: number; value: () => unknown } | null {
  const a = raw.indexOf('|');
  const b = a < 0 ? -1 : raw.indexOf('|', a + 1);
  if (b < 0) return null;
  const exp = Number(raw.slice(0, a));
  const hard = Number(raw.slice(a + 1, b));
  if (!Number.isFinite(exp) || !Number.isFinite(hard)) return null;
  return { exp, hard, value: () => decode(raw.slice(b + 1)) };
}
