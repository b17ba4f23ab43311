import { basename, dirname, extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { importModule, loadConfig } from '../../config.js';
import { E_CONFIG, FerryError } from '../../errors.js';
import { backupSources } from '../../import/backup.js';
import { type DefinedImport, isDefinedImport } from '../../import/define.js';
import {
  E_IMPORT_CONNECTION,
  E_IMPORT_MAX_REJECTS,
  E_IMPORT_SOURCE_CHANGED,
  E_IMPORT_TIMEOUT,
} from '../../import/errors.js';
import { type ImportReport, runImport } from '../../import/loader.js';
import { namedSources } from '../../import/records.js';
import { withImportFileDir } from '../../import/sources/common.js';
import { E_SOURCE_MALFORMED, E_SOURCE_NOT_FOUND, E_SOURCE_READ } from '../../import/sources/errors.js';
import { assertTargetsExist, planTargets, resolveSchema } from '../../import/targets.js';
import { type VerifyReport, verifyImport } from '../../import/verify.js';
import { openProjectDatabase } from '../database.js';
import type { GlobalOptions } from '../globals.js';
import { durationMs, wholeNumber } from '../numbers.js';
import { EXIT_OK, EXIT_PROBLEM, errorPayload, knownSecrets, printError, printJson } from '../output.js';
import { createProgress, duration } from '../progress.js';

interface ImportCliOptions {
  url?: string;
  dryRun?: boolean;
  resume?: boolean;
  restart?: boolean;
  rejects?: string;
  maxRejects?: number;
  backup?: string;
  batchSize?: number;
  partial?: boolean;
  json?: boolean;
  progress?: boolean;
  statementTimeout?: number;
  worker?: WorkerWhen;
}

type WorkerWhen = 'auto' | 'on' | 'off';
const workerHelp = (work: string) =>
  `${work} in a worker thread while this one writes: auto (default) = on for ` +
  'the embedded database, which runs on this thread, off for a server; on; off';

function workerWhen(value: string): WorkerWhen {
  if (value === 'auto' || value === 'on' || value === 'off') return value;
  throw new FerryError(E_CONFIG, `--worker takes auto, on or off, not "${value}".`);
}

/**
 * Failures that mean "the run found a problem" (exit 1) rather than "could not
 * run" (exit 2). A source that is missing, unreadable or cannot be read to its
 * end is a finding about the data, and must never pass for a success.
 */
const SOURCE_PROBLEMS = new Set([E_SOURCE_MALFORMED, E_SOURCE_NOT_FOUND, E_SOURCE_READ]);
const PROBLEMS = new Set([
  E_IMPORT_MAX_REJECTS,
  E_IMPORT_CONNECTION,
  E_IMPORT_SOURCE_CHANGED,
  E_IMPORT_TIMEOUT,
  ...SOURCE_PROBLEMS,
]);

const STATEMENT_TIMEOUT_HELP =
  "each statement's statement_timeout (ms, or e.g. 30m; 0 = none; default 10m, not the pool's 30s)";

/**
 * The E_* code of a FerryError. By its code, not `instanceof`: sources are
 * built by the import file, which the loader may load as a second copy of
 * Ferry's modules (a different FerryError class).
 */
function codeOf(err: unknown): string {
  if (err instanceof FerryError) return err.code;
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('E_') ? code : '';
}

export function registerImport(program: Command, globals: () => GlobalOptions): void {
  program
    .command('import <import-file>')
    .description(
      'stream legacy data into the database as the import file maps it: idempotent, resumable, bad records to a rejects file',
    )
    .option('--url <url>', 'database URL (default: DATABASE_URL, else the embedded database)')
    .option('--dry-run', 'map, check and load inside a transaction that is rolled back: report, write nothing')
    .option('--resume', 'continue an unfinished run (the default when one exists)')
    .option('--restart', 'ignore an unfinished run and start from the first record')
    .option('--rejects <file>', 'where to write rejected records as NDJSON (default: ./<name>.rejects.ndjson)')
    .option('--max-rejects <n>', 'stop with exit code 1 once more than n records/rows are rejected', wholeNumber(0))
    .option('--backup <dir>', 'first copy the source files to this new folder, with a SHA-256 manifest')
    .option('--batch-size <n>', 'records per transaction (default 5000)', wholeNumber(1))
    .option(
      '--partial',
      'import what can be read of a source cut short or broken (default: fail with nothing of it imported); exit 1 all the same',
    )
    .option('--statement-timeout <duration>', STATEMENT_TIMEOUT_HELP, durationMs)
    .option('--worker <when>', workerHelp('prepare batches (read, map, check, encode)'), workerWhen)
    .option('--no-progress', 'no progress output')
    .option('--json', 'print a JSON report (progress goes to stderr only on a terminal)')
    .action(async (file: string, options: ImportCliOptions) => {
      if (options.resume && options.restart) throw new FerryError(E_CONFIG, 'Give --resume or --restart, not both.');
      const { definition, name, handle, path } = await prepare(file, options, globals(), true);
      const secrets = knownSecrets([options.url]);
      const progress = createProgress({
        enabled: options.progress !== false && (!options.json || process.stderr.isTTY === true),
      });
      try {
        if (options.backup) {
          const manifest = await backupSources(namedSources(definition.source), options.backup);
          const bytes = manifest.files.reduce((n, f) => n + f.size, 0);
          if (!options.json)
            process.stderr.write(`Backed up ${manifest.files.length} file(s), ${bytes} bytes, to ${options.backup}\n`);
        }
        const report = await runImport({
          db: handle,
          definition,
          name,
          dryRun: options.dryRun,
          mode: options.restart ? 'restart' : options.resume ? 'resume' : 'auto',
          batchSize: options.batchSize,
          maxRejects: options.maxRejects,
          partial: options.partial,
          statementTimeout: options.statementTimeout,
          worker: workerFor(options.worker, path, handle.backend),
          rejectsFile: options.rejects ?? `${name}.rejects.ndjson`,
          log: (message) => {
            if (!options.json) process.stderr.write(`${message}\n`);
          },
          // Even with --json (stderr is not the report): a silent wait looks like a hang.
          onWait: (message) => process.stderr.write(`ferry: ${message}\n`),
          onProgress: (p) =>
            progress.update({
              done: p.records,
              total: p.totalRecords,
              fraction: p.totalBytes ? (p.bytesRead ?? 0) / p.totalBytes : undefined,
              rows: p.rowsWritten,
              rejects: p.rejected,
              elapsedMs: p.elapsedMs,
            }),
        });
        progress.finish();
        const ok = report.partial === null;
        if (options.json) printJson({ ok, backend: handle.backend, url: handle.redactedUrl, ...report });
        else printImportSummary(report);
        // A partial import did what was asked, but the source is still broken.
        process.exitCode = ok ? EXIT_OK : EXIT_PROBLEM;
      } catch (err) {
        progress.finish();
        if (!PROBLEMS.has(codeOf(err))) throw err;
        if (options.json) printJson({ ok: false, error: errorPayload(err, secrets) });
        else printError(err, secrets);
        process.exitCode = EXIT_PROBLEM;
      } finally {
        await handle.close();
      }
    });

  program
    .command('verify <import-file>')
    .description(
      're-read the source and compare per-table counts and content checksums with the database; exit 1 on any difference',
    )
    .option('--url <url>', 'database URL (default: DATABASE_URL, else the embedded database)')
    .option('--statement-timeout <duration>', STATEMENT_TIMEOUT_HELP, durationMs)
    .option('--worker <when>', workerHelp('read and map the source'), workerWhen)
    .option('--no-progress', 'no progress output')
    .option('--json', 'print a JSON report')
    .action(async (file: string, options: ImportCliOptions) => {
      const { definition, name, handle, path } = await prepare(file, options, globals(), false);
      const secrets = knownSecrets([options.url]);
      const progress = createProgress({
        enabled: options.progress !== false && (!options.json || process.stderr.isTTY === true),
      });
      const started = performance.now();
      try {
        const report = await verifyImport({
          db: handle,
          definition,
          name,
          statementTimeout: options.statementTimeout,
          worker: workerFor(options.worker, path, handle.backend),
          onProgress: (records) => progress.update({ done: records, elapsedMs: performance.now() - started }),
        });
        progress.finish();
        if (options.json) printJson(report);
        else printVerifySummary(report);
        process.exitCode = report.ok ? EXIT_OK : EXIT_PROBLEM;
      } catch (err) {
        // A source verify cannot read to its end is a difference, never an OK over a partial read.
        progress.finish();
        if (!SOURCE_PROBLEMS.has(codeOf(err))) throw err;
        if (options.json) printJson({ ok: false, error: errorPayload(err, secrets) });
        else printError(err, secrets);
        process.exitCode = EXIT_PROBLEM;
      } finally {
        progress.finish();
        await handle.close();
      }
    });
}

/**
 * auto: a worker when the database is the embedded PGlite, which runs on this
 * thread (chatcore 200k: 25.5 s against 30.7 s), not for a server: on a
 * 2-core machine it bought 3-4% there for ~100 MB more peak memory.
 */
function workerFor(when: WorkerWhen = 'auto', importFile: string, backend: 'postgres' | 'pglite') {
  return when === 'on' || (when === 'auto' && backend === 'pglite') ? { module: importFile } : undefined;
}

async function prepare(file: string, options: ImportCliOptions, globals: GlobalOptions, creates: boolean) {
  const path = resolve(file);
  const config = await loadConfig({ configPath: globals.config, cwd: dirname(path) });
  const module = await withImportFileDir(dirname(path), () => importModule(path, 'import file'));
  const definition = module.default;
  if (!isDefinedImport(definition)) {
    throw new FerryError(
      E_CONFIG,
      `${file} must default-export defineImport({ schema, source, tables, map }) (from 'ferry/import').`,
    );
  }
  const name = definition.name ?? basename(path, extname(path));
  const targets = planTargets(resolveSchema(definition.schema), definition.tables as Record<string, never>);
  const handle = await openProjectDatabase(config, { url: options.url, creates });
  try {
    await assertTargetsExist(handle, targets);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return { definition: definition as DefinedImport, name, handle, path };
}

const fmt = new Intl.NumberFormat('en-US');

function printImportSummary(r: ImportReport): void {
  const out = process.stdout;
  const head = r.dryRun ? 'Dry run (nothing written)' : r.partial ? 'PARTIALLY imported' : 'Imported';
  const resumed = r.resumedFrom !== null ? `, resumed after record ${fmt.format(r.resumedFrom)}` : '';
  out.write(
    `${head}: ${fmt.format(r.records)} records in ${duration(r.durationMs / 1000)} ` +
      `(${fmt.format(Math.round(r.recordsPerSecond))} records/s${resumed}` +
      `${r.retries ? `, ${r.retries} reconnect(s)` : ''})\n\n`,
  );
  // `stale` (rows kept by onConflict if-newer) only when some table has any: other imports print as before.
  const withStale = Object.values(r.tables).some((s) => (s.stale ?? 0) > 0);
  const cols = ['table', 'inserted', 'updated', 'unchanged', ...(withStale ? ['stale'] : []), 'duplicates', 'rejected'];
  const rows = Object.entries(r.tables).map(([t, s]) => [
    t,
    ...[s.inserted, s.updated, s.unchanged, ...(withStale ? [s.stale ?? 0] : []), s.duplicates, s.rejected].map((n) =>
      fmt.format(n),
    ),
  ]);
  if (r.unmapped > 0) rows.push(['(not mapped)', ...cols.slice(1, -1).map(() => ''), fmt.format(r.unmapped)]);
  printColumns([cols, ...rows]);
  out.write(`\n${fmt.format(r.rejects)} rejects in ${fmt.format(r.rejectedRecords)} records`);
  out.write(r.rejectsFile ? `, written to ${r.rejectsFile}\n` : '\n');
  for (const f of r.partial ?? []) {
    out.write(
      `\nPARTIAL: source "${f.source}" could not be read to its end; only what precedes the fault was imported:\n  ${f.message}\n`,
    );
  }
}

function printVerifySummary(r: VerifyReport): void {
  const out = process.stdout;
  out.write(`${r.ok ? 'OK' : 'DIFFERENT'}: ${fmt.format(r.records)} source records compared with the database\n\n`);
  // `newer` (rows the database holds in a newer version, onConflict if-newer) only when some table has any.
  const withNewer = r.tables.some((t) => t.newer > 0);
  const cols = [
    'table',
    'source',
    'database',
    'missing',
    'different',
    'extra',
    ...(withNewer ? ['newer'] : []),
    'checksum',
  ];
  const rows = r.tables.map((t) => [
    t.table,
    ...[t.expected, t.actual, t.missing, t.different, t.extra, ...(withNewer ? [t.newer] : [])].map((n) =>
      fmt.format(n),
    ),
    t.sourceChecksum === t.databaseChecksum ? `= ${t.sourceChecksum.slice(0, 12)}` : '≠',
  ]);
  printColumns([cols, ...rows]);
  for (const t of r.tables) {
    for (const e of t.examples) out.write(`  ${t.table}: ${e.kind} ${JSON.stringify(e.key)}\n`);
  }
}

function printColumns(rows: string[][]): void {
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) {
    process.stdout.write(
      `${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}\n`,
    );
  }
}
