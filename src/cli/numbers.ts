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
