import { type Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config.js';
import type { DbHandle } from '../../db/open.js';
import { FerryError } from '../../errors.js';
import { type ExportFormat, type ExportSummary, exportTo } from '../../ops/export.js';
import { E_EXPORT_OPTIONS } from '../../ops/export-errors.js';
import { openProjectDatabase } from '../database.js';
import type { GlobalOptions } from '../globals.js';
import { durationMs, wholeNumber } from '../numbers.js';
import { EXIT_OK, printJson } from '../output.js';
import { createProgress } from '../progress.js';

interface ExportCliOptions {
  url?: string;
  query?: string;
  format: ExportFormat;
  where?: string;
  columns?: string;
  out?: string;
  chunkRows?: number;
  statementTimeout?: number;
  json?: boolean;
  progress?: boolean;
}

function format(value: string): ExportFormat {
  if (value === 'csv' || value === 'ndjson') return value;
  throw new InvalidArgumentError(`Expected csv or ndjson, got "${value}".`);
}

const EXAMPLES = `
Examples:
  ferry export price_snapshots --out prices.csv
  ferry export orders --where "created_at >= '2026-01-01'" --columns id,total,created_at --format ndjson > orders.ndjson
  ferry export --query "select user_id, count(*) from sessions group by 1" --out counts.csv --json

CSV is what \`psql \\copy (…) to … csv header\` writes (timestamps in UTC). NDJSON has one object per row,
values as Ferry's repositories read them (int8 past 2^53 and numeric as strings, bytea as base64).
The export reads one snapshot in a READ ONLY transaction. A file is written under a temporary name and
renamed when complete: a failed export leaves no file.`;

export function registerExport(program: Command, globals: () => GlobalOptions): void {
  program
    .command('export [table]')
    .description('stream a table or a query out as CSV (with header) or NDJSON, to a file or stdout')
    .option('--url <url>', 'database URL (default: DATABASE_URL, else the embedded database)')
    .option('--query <sql>', 'export the rows of this SELECT instead of a table')
    .option('--format <format>', 'csv or ndjson', format, 'csv')
    .option('--where <condition>', 'only rows matching this SQL condition, e.g. "status = \'paid\'"')
    .option('--columns <list>', 'only these columns, comma-separated, in this order')
    .option('--out <file>', 'write to this file (default, or -: stdout)')
    .option('--chunk-rows <n>', 'rows per page (embedded CSV) or per fetch (NDJSON); default 10000', wholeNumber(1))
    .option(
      '--statement-timeout <duration>',
      "the export's statement_timeout (ms, or e.g. 30m; default 0 = none)",
      durationMs,
    )
    .option('--no-progress', 'no progress output on stderr')
    .option('--json', 'print a JSON summary (rows, bytes, file, ms); needs --out')
    .addHelpText('after', EXAMPLES)
    .action(async (table: string | undefined, options: ExportCliOptions) => {
      const file = options.out === undefined || options.out === '-' ? null : options.out;
      if (options.json && file === null) {
        throw new FerryError(
          E_EXPORT_OPTIONS,
          '--json prints its summary on stdout, where the data would go: add --out FILE.',
        );
      }
      const config = await loadConfig({ configPath: globals().config });
      const progress = createProgress({
        unit: 'rows',
        enabled: options.progress !== false && (!options.json || process.stderr.isTTY === true),
      });
      const start = performance.now();
      let handle: DbHandle | undefined;
      let summary: ExportSummary;
      try {
        handle = await openProjectDatabase(config, { url: options.url });
        summary = await exportTo(
          handle,
          {
            table,
            query: options.query,
            where: options.where,
            columns: options.columns?.split(','),
            format: options.format,
            chunkRows: options.chunkRows,
            statementTimeout: options.statementTimeout,
            onProgress: (p) => progress.update({ done: p.rows, elapsedMs: performance.now() - start }),
          },
          file ?? process.stdout,
        );
      } finally {
        progress.finish();
        await handle?.close();
      }
      const ms = Math.round(summary.ms);
      if (options.json) printJson({ ok: true, rows: summary.rows, bytes: summary.bytes, file: summary.file, ms });
      else if (options.progress !== false) {
        process.stderr.write(
          `Exported ${summary.rows} rows (${summary.bytes} bytes) to ${summary.file ?? 'stdout'} in ${(ms / 1000).toFixed(1)} s\n`,
        );
      }
      process.exitCode = EXIT_OK;
    });
}
