/**
 * The migration runner's planning guards: what is applied, what is pending,
 * and the problems (edited, missing or out-of-order migrations) that make
 * `up`/`down`/`baseline` refuse to run before touching anything.
 */
import path from 'node:path';
import { FerryError } from '../errors.js';
import { E_MIGRATION_CHECKSUM, E_MIGRATION_MISSING, E_MIGRATION_OUT_OF_ORDER } from './errors.js';
import type { MigrationFile } from './files.js';
import type { AppliedMigration } from './history.js';

export type MigrationProblemCode =
  | typeof E_MIGRATION_CHECKSUM
  | typeof E_MIGRATION_MISSING
  | typeof E_MIGRATION_OUT_OF_ORDER;

export interface MigrationProblem {
  code: MigrationProblemCode;
  id: string;
  message: string;
  /** The file concerned (up.sql), when there is one on disk. */
  file?: string;
  /** E_MIGRATION_CHECKSUM: the checksum recorded when it was applied. */
  appliedChecksum?: string;
  /** E_MIGRATION_CHECKSUM: the checksum of the file now. */
  fileChecksum?: string;
}

export interface MigrationStatus {
  /** Highest applied id, or null when nothing is applied. */
  current: string | null;
  /** Applied migrations, by id. */
  applied: AppliedMigration[];
  /** Migrations on disk not applied yet, by id. */
  pending: MigrationFile[];
  /** Reasons `up`/`down` would refuse to run; empty when all is well. */
  problems: MigrationProblem[];
}

export function computeStatus(
  files: MigrationFile[],
  applied: AppliedMigration[],
  dir: string,
  allowOutOfOrder: boolean,
): MigrationStatus {
  const byId = new Map(files.map((f) => [f.id, f]));
  const appliedIds = new Set(applied.map((a) => a.id));
  const problems: MigrationProblem[] = [];
  for (const a of applied) {
    const f = byId.get(a.id);
    if (!f) {
      problems.push({
        code: E_MIGRATION_MISSING,
        id: a.id,
        message:
          `${a.id} is applied (${a.appliedAt.toISOString()}, by ${a.appliedBy}) but ${path.join(dir, a.id)} ` +
          'does not exist. Restore the folder from version control (or revert the migration with the code that has it).',
      });
    } else if (f.checksum !== a.checksum) {
      const file = path.join(f.dir, 'up.sql');
      problems.push({
        code: E_MIGRATION_CHECKSUM,
        id: a.id,
        file,
        appliedChecksum: a.checksum,
        fileChecksum: f.checksum,
        message:
          `${file} has changed since it was applied (applied checksum ${a.checksum}, file checksum ${f.checksum}). ` +
          'Undo the edit and put the change in a new migration.',
      });
    }
  }
  const pending = files.filter((f) => !appliedIds.has(f.id));
  const current = applied.length > 0 ? applied[applied.length - 1]!.id : null;
  if (!allowOutOfOrder && current !== null) {
    for (const f of pending) {
      if (f.id < current) {
        const file = path.join(f.dir, 'up.sql');
        problems.push({
          code: E_MIGRATION_OUT_OF_ORDER,
          id: f.id,
          file,
          message:
            `${f.id} is pending but older than the newest applied migration ${current} (merged late?). ` +
            'Rename it with a newer timestamp, or run with allowOutOfOrder if it does not depend on order.',
        });
      }
    }
  }
  return { current, applied, pending, problems };
}

export function refuseProblems(problems: MigrationProblem[], what: string, dir: string, table: string): void {
  if (problems.length === 0) return;
  const list = problems.map((p) => `  - ${p.code}: ${p.message}`).join('\n');
  throw new FerryError(
    problems[0]!.code,
    `${what}: refusing to run, ${problems.length} problem${problems.length === 1 ? '' : 's'} with the migrations ` +
      `in ${dir} against ${table}; nothing was run:\n${list}`,
    { details: { problems } },
  );
}
