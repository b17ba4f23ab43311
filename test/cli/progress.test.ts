import { describe, expect, it } from 'vitest';
import { createProgress, duration, render } from '../../src/cli/progress.js';

describe('progress output', () => {
  it('renders a bar with rate, rejects and ETA when the total is known', () => {
    const line = render({ done: 2_500, total: 10_000, rows: 5_000, rejects: 3, elapsedMs: 1_000 }, 'records', 10);
    expect(line).toBe('[###-------]   25%  2,500/10,000 records  2,500 records/s  5,000 rows/s  3 rejected  ETA 0:03');
  });
  it('renders a count and rate without a total', () => {
    expect(render({ done: 1_234, elapsedMs: 2_000 }, 'records', 0)).toBe('1,234 records  617 records/s');
  });
  it('shows a share and ETA from bytes read when the record count is unknown (TinyDB, lowdb)', () => {
    const line = render({ done: 3_000, fraction: 0.25, rejects: 0, elapsedMs: 2_000 }, 'records', 4);
    expect(line).toBe('[#---]   25%  3,000 records  1,500 records/s  0 rejected  ETA 0:06');
  });
  it('formats durations', () => {
    expect(duration(59.6)).toBe('1:00');
    expect(duration(3_725)).toBe('1:02:05');
  });
  it('writes plain lines when not a terminal, throttled, and always the final one', () => {
    const written: string[] = [];
    const stream = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    const bar = createProgress({ stream, enabled: true, intervalMs: 60_000 });
    bar.update({ done: 1, total: 3, elapsedMs: 10 });
    bar.update({ done: 2, total: 3, elapsedMs: 20 });
    bar.update({ done: 3, total: 3, elapsedMs: 30 });
    bar.finish();
    expect(written).toHaveLength(2);
    expect(written[1]).toMatch(/^100% {2}3\/3 records/);
    expect(written.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
  });
  it('is silent when disabled', () => {
    const written: string[] = [];
    const stream = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    createProgress({ stream, enabled: false }).update({ done: 1, elapsedMs: 1 });
    expect(written).toEqual([]);
  });
});
