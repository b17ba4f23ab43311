/**
 * One Ferry export in its own process, so its peak RSS is its own (export.bench.ts).
 * argv: <database url> <out file> <csv|ndjson> [where] [table|query]; prints one JSON line:
 * rows, bytes, ms (the export alone, not Node's start), maxRssMb.
 */
import { openDatabase } from '../src/db/open.js';
import { exportTo } from '../src/ops/export.js';

const [url, file, format, where, shape] = process.argv.slice(2) as [string, string, 'csv' | 'ndjson', string?, string?];
const db = await openDatabase({ url });
try {
  // 'query': the same rows as a query (on PGlite the cursor path, not the key pages).
  const source = shape === 'query' ? { query: 'select * from bench_export' } : { table: 'bench_export' };
  const summary = await exportTo(db, { ...source, format, where: where || undefined }, file);
  process.stdout.write(
    `${JSON.stringify({ rows: summary.rows, bytes: summary.bytes, ms: summary.ms, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
} finally {
  await db.close();
}
