/**
 * `ferry migrate repair --forget <id>`: drop one row of the migration history
 * without running anything. It is the way out when a migration's folder is
 * gone for good (deleted, or from a branch that was never merged): until its
 * row goes, every `up`/`down` refuses with E_MIGRATION_MISSING.
 *
 * Removing history is not undoable from Ferry, so it asks first: a yes/no
 * question on a terminal, `--yes` otherwise. Without a terminal and without
 * `--yes` it does not run at all (exit 2): a script must say so explicitly.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { LoadedConfig } from '../../config.js';
import { FerryError } from '../../errors.js';
import { E_MIGRATION_ON_DISK, E_MIGRATION_UNKNOWN } from '../../migrate/errors.js';
import { type AppliedMigration, Migrator } from '../../migrate/runner.js';
import { openProjectDatabase } from '../database.js';
import { EXIT_ERROR, EXIT_OK, EXIT_PROBLEM, errorPayload, knownSecrets, printError, printJson } from '../output.js';

interface RepairOptions {
  forget: string;
  yes?: boolean;
  force?: boolean;
  url?: string;
  json?: boolean;
}

export function registerMigrateRepair(
  migrate: Command,
  config: () => Promise<LoadedConfig>,
  urlOption: readonly [string, string],
): void {
  migrate
    .command('repair')
    .description('fix the migration history by hand: --forget removes the row of a migration whose folder is gone')
    .requiredOption('--forget <id>', 'remove this migration from the history table (nothing is run or reverted)')
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .option('--force', 'forget it even though its folder still exists (the next up would run it again)')
    .option(...urlOption)
    .option('--json', 'print a JSON report')
    .addHelpText(
      'after',
      '\nExample: a migration folder was deleted after it was applied, and every run now stops with\n' +
        'E_MIGRATION_MISSING. Undo its effects by hand if needed, then:\n' +
        '  ferry migrate repair --forget 20240101000000_add_email --yes\n',
    )
    .action(async (options: RepairOptions) => {
      const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
      if (!options.yes && !interactive) {
        process.stderr.write(
          `ferry: migrate repair --forget removes ${options.forget} from the migration history; ` +
            'no terminal to confirm on, so pass --yes to do it. Nothing was removed.\n',
        );
        process.exitCode = EXIT_ERROR;
        return;
      }
      const cfg = await config();
      const id = options.forget;
      const folder = path.join(path.resolve(cfg.migrationsDir), id);
      // Checked before asking (Migrator.forget checks again): no point confirming what will be refused.
      if (!options.force && existsSync(folder)) {
        return refuse(
          new FerryError(
            E_MIGRATION_ON_DISK,
            `${folder} still exists, so ${id} is not a lost migration; nothing was removed. ` +
              'Revert it with `ferry migrate down`, or pass --force to drop its history row anyway ' +
              '(the next `ferry migrate up` would then run it again).',
          ),
          options,
        );
      }
      const handle = await openProjectDatabase(cfg, { url: options.url });
      try {
        const migrator = new Migrator(handle.db, { dir: cfg.migrationsDir });
        if (!options.yes) {
          const row = (await migrator.history()).find((h) => h.id === id);
          // Not recorded: let forget() say so, with the list of what is.
          if (row && !(await confirm(`Remove ${describe(row)} from the migration history? [y/N] `))) {
            process.stderr.write('ferry: nothing removed.\n');
            process.exitCode = EXIT_PROBLEM;
            return;
          }
        }
        let removed: AppliedMigration;
        try {
          removed = await migrator.forget(id, { force: options.force });
        } catch (err) {
          if (err instanceof FerryError && (err.code === E_MIGRATION_UNKNOWN || err.code === E_MIGRATION_ON_DISK)) {
            return refuse(err, options);
          }
          throw err;
        }
        if (options.json) printJson({ ok: true, removed });
        else process.stdout.write(`removed  ${describe(removed)}\n`);
        process.exitCode = EXIT_OK;
      } finally {
        await handle.close();
      }
    });
}

function describe(row: AppliedMigration): string {
  return `${row.id} (applied ${row.appliedAt.toISOString()} by ${row.appliedBy}, checksum ${row.checksum})`;
}

/** Refused for a reason found in the files or the history: exit 1, the message (or JSON) says why. */
function refuse(err: FerryError, options: RepairOptions): void {
  if (options.json) printJson({ ok: false, ...errorPayload(err, knownSecrets([options.url])) });
  else printError(err, knownSecrets([options.url]));
  process.exitCode = EXIT_PROBLEM;
}

async function confirm(question: string): Promise<boolean> {
  // The question goes to stderr so stdout stays the report (--json).
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
