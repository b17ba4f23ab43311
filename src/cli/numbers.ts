/**
 * Whole-number options for commander. `Number('abc')` is NaN and `0` records
 * per batch crawls, so every numeric option is checked at parse time: a bad
 * value is a usage error (exit 2) naming the option, before anything runs.
 */
import { InvalidArgumentError } from 'commander';

/** A commander argument parser accepting whole numbers in [min, max]. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const text = value.trim();
    const n = /^[+-]?\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`Expected a whole number ${range}, got "${value}".`);
    }
    return n;
  };
}

/** A commander argument parser for a duration: milliseconds (`600000`) or e.g. `30s`, `10m`; 0 allowed. */
export function durationMs(value: string): number {
  const text = value.trim();
  const ms = /^\d+$/.test(text) ? Number(text) : parseUnit(text);
  if (ms === undefined || !Number.isSafeInteger(ms)) {
    throw new InvalidArgumentError(`Expected a duration (milliseconds, or e.g. 30s, 10m, 1h), got "${value}".`);
  }
  return ms;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

function parseUnit(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  return m ? Math.round(Number(m[1]) * (UNIT_MS[m[2] as string] as number)) : undefined;
}
