/**
 * One Ferry export in its own process, so its peak RSS is its own (export.bench.ts).
 * argv: <database url> <out file> <csv|ndjson> [where]; prints one JSON line:
 * rows, bytes, ms (the export alone, not Node's start), maxRssMb.
 */
import { openDatabase } from '../src/db/open.js';
import { exportTo } from '../src/ops/export.js';

const [url, file, format, where] = process.argv.slice(2) as [string, string, 'csv' | 'ndjson', string | undefined];
const db = await openDatabase({ url });
try {
  const summary = await exportTo(db, { table: 'bench_export', format, where: where || undefined }, file);
  process.stdout.write(
    `${JSON.stringify({ rows: summary.rows, bytes: summary.bytes, ms: summary.ms, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
} finally {
  await db.close();
}
