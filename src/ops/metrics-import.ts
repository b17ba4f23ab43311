/**
 * Import progress as counters, fed by `runImport`'s `onProgress` while it
 * runs and by its report when it ends:
 *
 *   const watch = metrics.observeImport('legacy');
 *   const report = await runImport({ ...options, onProgress: watch.onProgress });
 *   watch.finish(report);
 *
 * Progress reports running totals of one run; the counters take the
 * differences, so several runs add up. Rows by table and
 * outcome come from the report only: progress does not break them down.
 */
import type { ImportProgress, ImportReport } from '../import/loader.js';
import type { Prom } from './metrics-registry.js';

export interface ImportWatch {
  /** Pass as `runImport({ onProgress })` (or call it from your own callback). */
  readonly onProgress: (progress: ImportProgress) => void;
  /** Record the run's report: per-table rows and rejects, and the run itself. Call once per run. */
  finish(report: ImportReport): void;
}

export type ObserveImport = (name: string) => ImportWatch;

export function importMetrics(prom: Prom): ObserveImport {
  const records = prom.counter({
    name: 'import_records_total',
    help: 'Source records processed by imports, by import name (updated at every committed batch).',
    labelNames: ['import'],
  });
  const rowsWritten = prom.counter({
    name: 'import_rows_written_total',
    help: 'Rows written by imports (all tables), by import name (updated at every committed batch).',
    labelNames: ['import'],
  });
  const rejected = prom.counter({
    name: 'import_rejected_records_total',
    help: 'Source records rejected by imports, by import name (updated at every committed batch).',
    labelNames: ['import'],
  });
  const tableRows = prom.counter({
    name: 'import_table_rows_total',
    help: 'Rows of finished imports by import, table and outcome (inserted, updated, unchanged, duplicate; stale for onConflict if-newer).',
    labelNames: ['import', 'table', 'outcome'],
  });
  const tableRejects = prom.counter({
    name: 'import_table_rejects_total',
    help: 'Rejected rows of finished imports by import and table ("" for record rejects that name no table).',
    labelNames: ['import', 'table'],
  });
  const runs = prom.counter({
    name: 'import_runs_total',
    help: 'Finished imports by import and mode (run, dry_run).',
    labelNames: ['import', 'mode'],
  });
  const lastDuration = prom.gauge({
    name: 'import_last_duration_seconds',
    help: 'How long the last finished run of each import took.',
    labelNames: ['import'],
  });

  return (name) => {
    const labels = { import: name };
    // The run's totals so far: progress and the report are cumulative per run.
    let seen = { records: 0, rows: 0, rejected: 0 };
    const advance = (now: { records: number; rows: number; rejected: number }) => {
      if (now.records > seen.records) records.inc(labels, now.records - seen.records);
      if (now.rows > seen.rows) rowsWritten.inc(labels, now.rows - seen.rows);
      if (now.rejected > seen.rejected) rejected.inc(labels, now.rejected - seen.rejected);
      seen = {
        records: Math.max(seen.records, now.records),
        rows: Math.max(seen.rows, now.rows),
        rejected: Math.max(seen.rejected, now.rejected),
      };
    };
    return {
      onProgress: (p) => advance({ records: p.records, rows: p.rowsWritten, rejected: p.rejected }),
      finish(report) {
        let rows = 0;
        for (const [table, s] of Object.entries(report.tables)) {
          const outcomes = {
            inserted: s.inserted,
            updated: s.updated,
            unchanged: s.unchanged,
            duplicate: s.duplicates,
            // Only for if-newer tables that kept rows: other imports expose the same series as before.
            ...(s.stale ? { stale: s.stale } : {}),
          };
          for (const [outcome, n] of Object.entries(outcomes)) tableRows.inc({ ...labels, table, outcome }, n);
          tableRejects.inc({ ...labels, table }, s.rejected);
          rows += s.inserted + s.updated;
        }
        if (report.unmapped > 0) tableRejects.inc({ ...labels, table: '' }, report.unmapped);
        // What the last progress did not cover. Both count source positions: a resumed run's
        // first batch includes the records an earlier run committed (they count once per run).
        advance({
          records: report.records,
          rows: report.dryRun ? seen.rows : Math.max(seen.rows, rows),
          rejected: Math.max(seen.rejected, report.rejectedRecords),
        });
        runs.inc({ ...labels, mode: report.dryRun ? 'dry_run' : 'run' });
        lastDuration.set(labels, report.durationMs / 1000);
        seen = { records: 0, rows: 0, rejected: 0 };
      },
    };
  };
}
