import { describe, expect, it } from 'vitest';
import { E_DURATION, toMs, toWholeSeconds } from '../src/duration.js';
import { FerryError } from '../src/errors.js';

function thrown(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    return err as FerryError;
  }
  throw new Error('expected a FerryError');
}

describe('Duration', () => {
  it('a number is milliseconds', () => {
    expect(toMs(0, 'ttl')).toBe(0);
    expect(toMs(3600, 'ttl')).toBe(3600);
    expect(toMs(1.4, 'ttl')).toBe(1);
  });

  it('reads every unit', () => {
    expect(toMs('500ms', 'x')).toBe(500);
    expect(toMs('30s', 'x')).toBe(30_000);
    expect(toMs('5m', 'x')).toBe(300_000);
    expect(toMs('1h', 'x')).toBe(3_600_000);
    expect(toMs('30d', 'x')).toBe(2_592_000_000);
    expect(toMs('1.5s', 'x')).toBe(1_500);
    expect(toMs(' 2 h ' as never, 'x')).toBe(7_200_000);
  });

  it('bad input is a FerryError naming the option (E_DURATION, or the caller’s code)', () => {
    for (const bad of ['5 parsecs', '1w', '', 'h', '-1s', '1e3ms']) {
      const err = thrown(() => toMs(bad as never, 'l1.ttl'));
      expect(err.code).toBe(E_DURATION);
      expect(err.message).toContain('l1.ttl');
      expect(err.message).toMatch(/not a duration/);
    }
    expect(thrown(() => toMs(-1, 'ttl')).message).toMatch(/>= 0/);
    expect(thrown(() => toMs(Number.NaN, 'ttl')).code).toBe(E_DURATION);
    expect(thrown(() => toMs(Number.POSITIVE_INFINITY, 'ttl')).code).toBe(E_DURATION);
    expect(thrown(() => toMs(null as never, 'ttl')).message).toMatch(/received object/);
    expect(thrown(() => toMs('soon' as never, 'ttl', 'E_SESSION_CONFIG')).code).toBe('E_SESSION_CONFIG');
  });

  it('whole seconds for libraries that count seconds; anything else is refused, not rounded', () => {
    expect(toWholeSeconds('1m', 'duration')).toBe(60);
    expect(toWholeSeconds(2_000, 'duration')).toBe(2);
    expect(toWholeSeconds('0s', 'blockDuration')).toBe(0);
    const err = thrown(() => toWholeSeconds('1500ms', 'duration', 'E_RATE_CONFIG'));
    expect(err.code).toBe('E_RATE_CONFIG');
    expect(err.message).toMatch(/whole number of seconds/);
    expect(thrown(() => toWholeSeconds(60, 'duration')).message).toMatch(/whole number of seconds/);
    expect(thrown(() => toWholeSeconds(0, 'duration', E_DURATION, 1)).message).toMatch(/at least 1 s/);
  });
});
