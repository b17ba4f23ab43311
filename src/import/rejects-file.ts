/**
 * The rejects file: one JSON object per line, enough to find and fix each bad
 * record: `location` (source, file, line, key, table as the source names them),
 * `ordinal`, `row` (which mapped row, null for the whole record), the target
 * `table` and `column` when known, `reason`, `sqlstate` for database refusals,
 * and the `record` itself (truncated).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RejectRow } from './state.js';

export async function writeRejectsFile(file: string, rejects: RejectRow[]): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const lines = rejects.map((r) =>
    JSON.stringify({
      location: r.location,
      ordinal: r.ordinal,
      row: r.rowIndex,
      table: r.table,
      column: r.column,
      reason: r.reason,
      sqlstate: r.sqlstate,
      record: r.record,
    }),
  );
  await writeFile(file, lines.length ? `${lines.join('\n')}\n` : '');
}
