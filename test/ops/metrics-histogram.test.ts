import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastHistogram } from '../../src/ops/metrics-histogram.js';
import { parsePromText } from '../support/prom-text.js';

const BUCKETS = [0.001, 0.005, 0.01, 0.1, 1];

/** Samples keyed by name + sorted labels, so label order in the text does not matter. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const family of parsePromText(text).values()) {
    for (const s of family.samples) {
      const labels = Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b));
      out.set(`${s.name}${JSON.stringify(labels)}`, s.value);
    }
  }
  return out;
}

function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  const reference = new Histogram({
    name: 'q_seconds',
    help: 'h',
    labelNames: ['operation', 'table'],
    buckets: BUCKETS,
    registers: [theirs],
  });
  const fast = new FastHistogram({
    name: 'q_seconds',
    help: 'h',
    labelNames: ['operation', 'table'],
    buckets: BUCKETS,
  });
  ours.registerMetric(fast as never);
  return { theirs, ours, reference, fast };
}

describe('FastHistogram', () => {
  it('exposes what prom-client’s Histogram exposes for the same observations', async () => {
    const labelSets = [
      { operation: 'get', table: 'users' },
      { operation: 'insert', table: 'users' },
      { operation: 'raw', table: '' },
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 2 }),
            fc.oneof(fc.constantFrom(...BUCKETS, 0), fc.double({ min: 0, max: 5, noNaN: true })),
          ),
          { maxLength: 60 },
        ),
        async (observations) => {
          const { theirs, ours, reference, fast } = pair();
          for (const [which, value] of observations) {
            const labels = labelSets[which]!;
            reference.labels(labels).observe(value);
            fast.series(labels).observe(value);
          }
          const a = samples(await theirs.metrics());
          const b = samples(await ours.metrics());
          expect(b.size).toBe(a.size);
          for (const [key, value] of a) expect(b.get(key), key).toBeCloseTo(value, 9);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('counts a value on a bound in that bound’s bucket (le), and one above every bound only in +Inf', async () => {
    const { ours, fast } = pair();
    const s = fast.series({ operation: 'get', table: 't' });
    s.observe(0.005);
    s.observe(7);
    const text = await ours.metrics();
    expect(text).toContain('q_seconds_bucket{operation="get",table="t",le="0.001"} 0');
    expect(text).toContain('q_seconds_bucket{operation="get",table="t",le="0.005"} 1');
    expect(text).toContain('q_seconds_bucket{operation="get",table="t",le="1"} 1');
    expect(text).toContain('q_seconds_bucket{operation="get",table="t",le="+Inf"} 2');
    expect(text).toContain('q_seconds_count{operation="get",table="t"} 2');
    expect(text).toContain('q_seconds_sum{operation="get",table="t"} 7.005');
  });

  it('resolves one series per label set, rejects missing or unknown labels, and resets in place', async () => {
    const { ours, fast } = pair();
    const s = fast.series({ operation: 'get', table: 't' });
    expect(fast.series({ table: 't', operation: 'get' })).toBe(s);
    expect(() => fast.series({ operation: 'get' })).toThrow(/label table is missing/);
    expect(() => fast.series({ operation: 'get', table: 't', extra: 'x' })).toThrow(/no label named extra/);
    s.observe(0.002);
    s.observe(Number.NaN);
    expect(s.count).toBe(1);
    ours.resetMetrics();
    expect(s.count).toBe(0);
    s.observe(0.002);
    expect(await ours.metrics()).toContain('q_seconds_count{operation="get",table="t"} 1');
  });

  it('merges into another registry and appears in getMetricsAsJSON', async () => {
    const { ours, fast } = pair();
    fast.series({ operation: 'get', table: 't' }).observe(0.5);
    const merged = Registry.merge([ours, new Registry()]);
    expect(await merged.metrics()).toContain('q_seconds_count{operation="get",table="t"} 1');
    const json = await ours.getMetricsAsJSON();
    expect(json[0]).toMatchObject({ name: 'q_seconds', type: 'histogram' });
  });
});
