/** The rejects file: one JSON object per line, enough to find and fix each bad record. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RejectRow } from './state.js';

export async function writeRejectsFile(file: string, rejects: RejectRow[]): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const lines = rejects.map((r) =>
    JSON.stringify({
      ...r.location,
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
