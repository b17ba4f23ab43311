/**
 * One way to say "how long" across Ferry's cache, sessions and rate limits:
 * a number is milliseconds; a string is a number and a unit (`'500ms'`,
 * `'30s'`, `'5m'`, `'1h'`, `'30d'`). Lives beside errors.ts so every part can
 * import it without depending on another part.
 */
import { FerryError, type FerryErrorCode } from './errors.js';

/** A bad duration passed to an option or a call that takes one. */
export const E_DURATION = 'E_DURATION';

/** Milliseconds, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'30d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/;

/**
 * `value` in whole milliseconds (>= 0). `what` names the option in the
 * message; `code` lets a component keep its own config error code (default
 * E_DURATION).
 */
export function toMs(value: Duration, what: string, code: FerryErrorCode = E_DURATION): number {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const m = PATTERN.exec(value);
    if (!m) {
      throw new FerryError(
        code,
        `${what}: "${value}" is not a duration (a number of milliseconds, or e.g. '500ms', '30s', '5m', '1h', '30d').`,
        { details: { option: what } },
      );
    }
    ms = Number(m[1]) * UNITS[m[2]!]!;
  } else {
    throw new FerryError(
      code,
      `${what}: expected a duration (milliseconds, or e.g. '30s', '1h'), received ${typeof value}.`,
      { details: { option: what } },
    );
  }
  if (!Number.isFinite(ms) || ms < 0) {
    throw new FerryError(code, `${what}: expected a duration >= 0, received ${String(value)}.`, {
      details: { option: what },
    });
  }
  return Math.round(ms);
}

/**
 * `value` in whole seconds, for libraries that count in seconds
 * (rate-limiter-flexible). A duration that is not a whole number of seconds
 * is refused rather than rounded: a 1500 ms window silently becoming 2 s
 * would change the limit.
 */
export function toWholeSeconds(value: Duration, what: string, code: FerryErrorCode = E_DURATION, min = 0): number {
  const ms = toMs(value, what, code);
  if (ms % 1000 !== 0) {
    throw new FerryError(
      code,
      `${what}: ${JSON.stringify(value)} is not a whole number of seconds; use e.g. '1s', '1m' or a multiple of 1000 ms.`,
      { details: { option: what } },
    );
  }
  const s = ms / 1000;
  if (s < min) {
    throw new FerryError(code, `${what}: expected at least ${min} s, received ${JSON.stringify(value)}.`, {
      details: { option: what },
    });
  }
  return s;
}
