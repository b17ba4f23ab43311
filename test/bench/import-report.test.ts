/**
 * The import bench's report (bench/import-report.ts): a verify that failed is
 * a table row and a FAIL goal line carrying its error, never a crash, and each
 * goal line carries its figure.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cpuBoundMs, type ImportCase, printImportReport } from '../../bench/import-report.js';

function printed(cases: ImportCase[]): string {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.join(' '));
  });
  printImportReport(cases);
  return lines.join('\n');
}

afterEach(() => {
  vi.restoreAllMocks();
});

const stages = {
  bytes: 1000,
  records: 1000,
  prepared: 1000,
  rows: 2000,
  phases: { read: 1, source: 5, prepare: 20, map: 4 },
  maxRssMb: 100,
};

describe('import bench report', () => {
  it('reports a failed verify as a FAILED row and a FAIL goal with its error', () => {
    const out = printed([
      {
        shape: 'chatcore',
        messages: 200_000,
        backend: 'postgres',
        sourceBytes: 60e6,
        rows: 200_000,
        records: 200_000,
        import: { ms: 10_000, maxRssMb: 200, cpuMs: 30 },
        verify: { ms: 40_000, maxRssMb: Number.NaN, error: '57014: canceling statement due to statement timeout' },
        copy: { rows: 200_000, ms: 4_000 },
        stages,
      },
    ]);
    expect(out).toContain('FAILED: 57014: canceling statement due to statement timeout');
    expect(out).toMatch(/FAIL chatcore 200k postgres: verify failed after 40 s: 57014/);
    // 20,000 vs 50,000 rows/s.
    expect(out).toContain('FAIL chatcore 200k postgres: 20000 vs 50000 rows/s = 0.4x');
    expect(out).toContain('PASS chatcore 200k postgres: 200 MB (cap 256 MB)');
  });

  it('passes verify, RSS spread, \\copy and PGlite goals with their figures', () => {
    const base = { shape: 'council', sourceBytes: 1e8, stages } as const;
    const out = printed([
      {
        ...base,
        messages: 200_000,
        backend: 'postgres',
        rows: 100_000,
        import: { ms: 10_000, maxRssMb: 200, cpuMs: 30 },
        verify: { ms: 5_000, maxRssMb: 150, report: { ok: true, records: 10 } },
        copy: { rows: 100_000, ms: 8_000 },
      },
      {
        ...base,
        messages: 1_000_000,
        backend: 'postgres',
        rows: 500_000,
        import: { ms: 50_000, maxRssMb: 210, cpuMs: 150 },
        verify: { ms: 40_000, maxRssMb: 160, report: { ok: true, records: 50 } },
        copy: { rows: 500_000, ms: 40_000 },
      },
      {
        ...base,
        messages: 1_000_000,
        backend: 'pglite',
        rows: 500_000,
        import: { ms: 80_000, maxRssMb: 400, cpuMs: 300 },
        verify: { ms: 90_000, maxRssMb: 300, report: { ok: true, records: 50 } },
      },
    ]);
    expect(out).toContain('PASS council 1M postgres: verify 40 s / import 50 s = 0.8x');
    expect(out).toContain('FAIL council 1M pglite: verify 90 s / import 80 s = 1.13x');
    expect(out).toContain('PASS council postgres: 200k 200 MB vs 1M 210 MB: 5% apart');
    expect(out).toContain('PASS council 1M postgres: 10000 vs 12500 rows/s = 0.8x');
    expect(out).toContain('PASS council 1M: PGlite 6250 vs Postgres 10000 rows/s = 0.63x');
  });

  it('states the CPU bound: max(Node, Postgres, (Node + Postgres) / cores), and what it allows against \\copy', () => {
    expect(cpuBoundMs(6_000, 4_000, 2)).toBe(6_000);
    expect(cpuBoundMs(3_000, 5_000, 2)).toBe(5_000);
    expect(cpuBoundMs(3_000, 3_000, 1)).toBe(6_000);
    expect(cpuBoundMs(3_000, undefined, 2)).toBeUndefined();
    const out = printed([
      {
        shape: 'chatcore',
        messages: 1_000_000,
        backend: 'postgres',
        sourceBytes: 3e8,
        rows: 1_000_000,
        import: { ms: 40_000, maxRssMb: 200, cpuMs: 30_000 },
        importPgCpuMs: 20_000,
        copy: { rows: 1_000_000, ms: 15_000, pgCpuMs: 14_000 },
      },
    ]);
    // Bound: max(30, 20, 50 / cores) s; on any machine with 2+ cores that is 30 s, so \copy's 15 s allows 0.5x.
    expect(out).toContain(
      "FAIL chatcore 1M postgres: 25000 vs 66667 rows/s = 0.38x; the first run's CPU allowed at most 0.5x",
    );
    expect(out).toMatch(/\| chatcore \| 1M +\| 1,000,000 \| 30 +\| 20 +\| 40 +\| 30 /);
  });

  it('takes the ratio to \\copy from the medians of the repeated runs, and PGlite’s limit from its own COPY', () => {
    const out = printed([
      {
        shape: 'chatcore',
        messages: 1_000_000,
        backend: 'postgres',
        sourceBytes: 3e8,
        rows: 1_000_000,
        import: { ms: 60_000, maxRssMb: 200 },
        importRuns: [60_000, 40_000, 42_000],
        copy: { rows: 1_000_000, ms: 20_000 },
        copyRuns: [20_000, 31_000, 29_000],
      },
      {
        shape: 'chatcore',
        messages: 1_000_000,
        backend: 'pglite',
        sourceBytes: 3e8,
        rows: 1_000_000,
        import: { ms: 80_000, maxRssMb: 450 },
        copy: { rows: 1_000_000, ms: 50_000 },
      },
    ]);
    // Medians: import 42 s, \copy 29 s → 23810 vs 34483 rows/s = 0.69x (the first runs alone would say 0.33x).
    expect(out).toContain(
      'FAIL chatcore 1M postgres: 23810 vs 34483 rows/s = 0.69x (medians; import 60, 40, 42 s, \\copy 20, 31, 29 s)',
    );
    // PGlite: 12500 rows/s against Postgres' median 23810; its own COPY (20000 rows/s) allows at most 0.84x.
    expect(out).toContain(
      "PASS chatcore 1M: PGlite 12500 vs Postgres 23810 rows/s = 0.53x; PGlite's own COPY of these rows (20000 rows/s) allows at most 0.84x",
    );
  });
});
