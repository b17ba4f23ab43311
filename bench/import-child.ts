/**
 * One Ferry import in its own process, so that its peak RSS is its own:
 * `node --import tsx bench/import-child.ts` with
 *   FERRY_BENCH_SHAPE     chatcore | council
 *   FERRY_BENCH_DATA      the TinyDB file (chatcore) or the data folder (council)
 *   FERRY_BENCH_URL       the database (postgres://… or pglite:<dir>)
 *   FERRY_BENCH_MIGRATE   a migration up.sql to apply first, untimed (PGlite)
 *   FERRY_BENCH_BATCH     batch size (default: the importer's)
 * Prints one JSON line: the report, wall time and peak RSS.
 */
import { readFileSync } from 'node:fs';

const shape = process.env.FERRY_BENCH_SHAPE;
const data = process.env.FERRY_BENCH_DATA as string;
const url = process.env.FERRY_BENCH_URL as string;
if (shape === 'chatcore') process.env.CHATCORE_DATA = data;
else if (shape === 'council') process.env.COUNCIL_DATA = data;
else throw new Error(`FERRY_BENCH_SHAPE must be chatcore or council, got ${shape}`);

// The import modules read their data path when loaded: import them after setting it.
const { openDatabase } = await import('../src/db/open.js');
const { runImport } = await import('../src/import/loader.js');
const definition =
  shape === 'chatcore'
    ? (await import('../examples/chatcore/import.js')).default
    : (await import('../examples/council/import.js')).default;

const db = await openDatabase({ url });
try {
  const migration = process.env.FERRY_BENCH_MIGRATE;
  if (migration) await db.session((s) => s.query(readFileSync(migration, 'utf8')));
  const batchSize = process.env.FERRY_BENCH_BATCH ? Number(process.env.FERRY_BENCH_BATCH) : undefined;
  const started = performance.now();
  const report = await runImport({ db, definition, rejectsFile: null, ...(batchSize ? { batchSize } : {}) });
  const ms = performance.now() - started;
  const usage = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({
      ms,
      maxRssMb: usage.maxRSS / 1024,
      userMs: usage.userCPUTime / 1000,
      systemMs: usage.systemCPUTime / 1000,
      report,
    })}\n`,
  );
} finally {
  await db.close();
}
