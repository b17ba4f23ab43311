/**
 * Real-world round trip: schemas nobody here wrote, through `ferry pull` and
 * back.
 *
 *   npx tsx scripts/real-world-roundtrip.ts [--out DIR] [--promote-fk-indexes] FILE.sql...
 *
 * For each `db/structure.sql`-style dump (PostgreSQL only):
 *
 *  1. create scratch database A and load the file with
 *     `psql -v ON_ERROR_STOP=1 -q -f FILE` (extensions the file names or
 *     evidently uses are created first when this server has them). When that
 *     fails the error is recorded and the file is loaded again best-effort
 *     (ON_ERROR_STOP=0), so what did load is still round-tripped ("partial");
 *  2. `introspect(A)` → `renderSchemaModule` → a .ts module (importing the
 *     absolute path of src/index.ts) → `importModule` → `defineSchema`;
 *  3. normalise the DSL's IR through a Postgres shadow (`openShadow` +
 *     `normalise`, as test/migrate/pull.test.ts does), then
 *     `planMigrations(diffSchemas(empty, target))`: the migrations from empty;
 *  4. fresh database B: objects Ferry does not model but the generated DDL may
 *     need (schemas, extensions, functions, domains and other non-enum types,
 *     standalone sequences...) are copied from A's dump first (and retried
 *     after the migrations for those that need tables); the migrations are
 *     written with `writeMigration` and applied with Ferry's `Migrator`
 *     (so `-- ferry:no-transaction` files run outside a transaction);
 *  5. assert `introspect(B)` deep-equals `introspect(A)` (the Ferry-level
 *     round trip), check that diffing B against the target again is a no-op,
 *     and compare `pg_dump --schema-only --no-owner --no-privileges` of A and
 *     B: comments, SET lines and blank lines stripped, one unit per dump
 *     entry, order ignored. Differences are grouped by kind: things Ferry does
 *     not model by design (functions, triggers, views, sequence options,
 *     extensions, partitioning, statistics targets, collations,
 *     exclusion and deferrable constraints...) versus "unexplained" ones,
 *     which are candidate bugs in pull/diff/DDL and are printed in full.
 *
 * The Postgres shadow puts the DSL in a scratch schema whose search_path is
 * that schema alone, so a default, check or index naming an extension or a
 * user function that lives in `public` cannot be created there. When that
 * happens it is recorded, and the script normalises in a scratch database
 * instead (prerequisites copied into its `public`, default search_path).
 *
 * All scratch databases are dropped at the end, on failure and on Ctrl-C.
 * Artifacts (generated schema module, migrations, both dumps, both IRs, a
 * JSON report) go to DIR/<file name>/ (default: $TMPDIR/ferry-real-world-out).
 *
 * Server: FERRY_ADMIN_URL, else TEST_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/test; `psql` and `pg_dump` on PATH.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { dropAll, type FileReport, type Options, printReport, printSummary, roundTrip } from './real-world-lib.js';

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: dropping scratch databases...`);
    void dropAll().finally(() => process.exit(130));
  });
}

// ------------------------------------------------------------------ main

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const options: Options = { outRoot: join(tmpdir(), 'ferry-real-world-out'), promoteFkIndexes: false };
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out') options.outRoot = resolve(args[++i] ?? options.outRoot);
    else if (args[i] === '--promote-fk-indexes') options.promoteFkIndexes = true;
    else files.push(args[i]!);
  }
  if (files.length === 0) {
    console.error('usage: npx tsx scripts/real-world-roundtrip.ts [--out DIR] [--promote-fk-indexes] FILE.sql...');
    return 2;
  }
  for (const f of files) {
    if (!existsSync(f)) {
      console.error(`no such file: ${f}`);
      return 2;
    }
  }
  const reports: FileReport[] = [];
  try {
    for (const f of files) {
      const r = await roundTrip(f, options);
      printReport(r);
      reports.push(r);
    }
  } finally {
    await dropAll();
  }
  printSummary(reports);
  console.log(`\nartifacts: ${options.outRoot}/<schema>/`);
  // Failing: a file that loaded (fully or partly) but did not make it through, or whose IR did not round-trip.
  const bad = reports.filter((r) => r.load?.status !== 'failed' && (r.failure || (r.irDiffs?.length ?? 0) > 0));
  return bad.length > 0 ? 1 : 0;
}

process.exitCode = await main();
