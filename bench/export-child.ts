/**
 * One Ferry export in its own process, so its peak RSS is its own (export.bench.ts).
 * argv: <database url> <out file> <csv|ndjson> [where] [table|query]; prints one JSON line:
 * rows, bytes, ms (the export alone, not Node's start), maxRssMb, and the RSS trace's
 * peaks over each quarter of the export's time (`quarterRssMb`): a bounded export
 * reaches its level in the first quarter and stays there; one that grows with the
 * rows it has written peaks later in every quarter.
 */
import { openDatabase } from '../src/db/open.js';
import { exportTo } from '../src/ops/export.js';
import { peakRssMb } from './lib.js';

const [url, file, format, where, shape] = process.argv.slice(2) as [string, string, 'csv' | 'ndjson', string?, string?];
const db = await openDatabase({ url });
try {
  // 'query': the same rows as a query (on PGlite the cursor path, not the key pages).
  const source = shape === 'query' ? { query: 'select * from bench_export' } : { table: 'bench_export' };
  const trace: [number, number][] = [];
  const started = performance.now();
  const sample = () => trace.push([performance.now() - started, process.memoryUsage.rss()]);
  const timer = setInterval(sample, 50);
  const summary = await exportTo(db, { ...source, format, where: where || undefined }, file);
  clearInterval(timer);
  sample();
  const quarterRssMb = [0, 1, 2, 3].map((q) => {
    const inQuarter = trace.filter(([t]) => t >= (q * summary.ms) / 4 && t <= ((q + 1) * summary.ms) / 4);
    return inQuarter.length ? Math.round(Math.max(...inQuarter.map(([, rss]) => rss)) / 2 ** 20) : null;
  });
  process.stdout.write(
    `${JSON.stringify({ rows: summary.rows, bytes: summary.bytes, ms: summary.ms, maxRssMb: peakRssMb(), quarterRssMb })}\n`,
  );
} finally {
  await db.close();
}
