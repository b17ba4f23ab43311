import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { FerryError } from '../../errors.js';
import { backup } from '../../ops/backup.js';
import { E_BACKUP_CORRUPT, E_BACKUP_VERIFY } from '../../ops/errors.js';
import { restore } from '../../ops/restore.js';
import { openProjectDatabase } from '../database.js';
import type { GlobalOptions } from '../globals.js';
import { wholeNumber } from '../numbers.js';
import { EXIT_OK, EXIT_PROBLEM, errorPayload, knownSecrets, printError, printJson, printTable } from '../output.js';
import { duration } from '../progress.js';

interface BackupCliOptions {
  url?: string;
  out: string;
  keep?: number;
  binDir?: string;
  json?: boolean;
  progress?: boolean;
}

interface RestoreCliOptions {
  url?: string;
  clean?: boolean;
  verify?: boolean;
  binDir?: string;
  json?: boolean;
  progress?: boolean;
}

/**
 * Findings about the backup or the restored data (exit 1); anything else is
 * "could not run" (exit 2, printed by main): a missing pg_dump, a non-empty
 * target without --clean.
 */
const PROBLEMS = new Set<string>([E_BACKUP_CORRUPT, E_BACKUP_VERIFY]);

const fmt = new Intl.NumberFormat('en-US');

/** Each step on stderr, unless --json to a pipe or --no-progress: a silent pg_dump of a big database looks hung. */
function stepper(options: { json?: boolean; progress?: boolean }, verb: string): (step: string) => void {
  const enabled = options.progress !== false && (!options.json || process.stderr.isTTY === true);
  return (step) => {
    if (enabled) process.stderr.write(`ferry ${verb}: ${step}…\n`);
  };
}

export function registerBackup(program: Command, globals: () => GlobalOptions): void {
  program
    .command('backup')
    .description(
      'back up the database into <out>/<timestamp>-<db>/: pg_dump -Fc (Postgres) or the data dir (PGlite), ' +
        'a portable dump that restores into either, and a manifest of sizes, sha256, row counts and checksums',
    )
    .option('--url <url>', 'database URL (default: DATABASE_URL, else the embedded database)')
    .option('--out <dir>', 'folder to create the backup in', './backups')
    .option('--keep <n>', 'then delete all but the newest n complete backups in --out', wholeNumber(1))
    .option('--bin-dir <dir>', 'folder holding pg_dump (default: the PATH)')
    .option('--no-progress', 'no progress output')
    .option('--json', 'print a JSON report')
    .action(async (options: BackupCliOptions) => {
      const config = await loadConfig({ configPath: globals().config });
      const handle = await openProjectDatabase(config, { url: options.url });
      try {
        const result = await backup({
          db: handle,
          out: options.out,
          keep: options.keep,
          binDir: options.binDir,
          onStep: stepper(options, 'backup'),
        });
        const m = result.manifest;
        if (options.json) printJson({ ok: true, ...result });
        else {
          const bytes = m.files.reduce((n, f) => n + f.bytes, 0);
          printTable([
            ['backup', result.dir],
            ['source', `${m.source.url} (${m.source.backend}, PostgreSQL ${m.source.serverVersion})`],
            ['files', `${m.files.length}, ${fmt.format(bytes)} bytes`],
            ['tables', `${m.tables.length}, ${fmt.format(m.tables.reduce((n, t) => n + t.rows, 0))} rows`],
            ['migration', m.lastMigration ?? '(none)'],
            [
              'portable',
              m.notPortable.length === 0
                ? 'yes (restores into Postgres and PGlite)'
                : `no: ${m.notPortable.join(', ')} (restores into ${m.source.backend} only)`,
            ],
            ['time', duration(result.durationMs / 1000)],
            ...result.pruned.map((p): [string, string] => ['pruned', p]),
          ]);
        }
        process.exitCode = EXIT_OK;
      } finally {
        await handle.close();
      }
    });

  program
    .command('restore <backup>')
    .description(
      'restore a backup directory written by `ferry backup` (files checked against its manifest first); ' +
        'exit 1 when a file is damaged or, with --verify, when the restored data differs',
    )
    .option('--url <url>', 'database to restore into (default: DATABASE_URL, else the embedded database)')
    .option(
      '--clean',
      'replace what the target holds (drops its current schema first); without it a non-empty target is refused',
    )
    .option('--verify', "recompute the manifest's row counts and checksums on the target; exit 1 on any difference")
    .option('--bin-dir <dir>', 'folder holding pg_restore (default: the PATH)')
    .option('--no-progress', 'no progress output')
    .option('--json', 'print a JSON report')
    .action(async (dir: string, options: RestoreCliOptions) => {
      const config = await loadConfig({ configPath: globals().config });
      const secrets = knownSecrets([options.url]);
      try {
        const result = await restore({
          backup: dir,
          target: { url: options.url, dataDir: config.dataDir, projectDir: config.dir },
          clean: options.clean,
          verify: options.verify,
          binDir: options.binDir,
          onStep: stepper(options, 'restore'),
        });
        const m = result.manifest;
        if (options.json) {
          const { manifest: _, ...rest } = result;
          printJson({ ok: true, ...rest, tables: m.tables, lastMigration: m.lastMigration });
        } else {
          printTable([
            ['restored', dir],
            ['into', result.target],
            ['method', result.method],
            ['tables', `${m.tables.length}, ${fmt.format(m.tables.reduce((n, t) => n + t.rows, 0))} rows`],
            ['migration', m.lastMigration ?? '(none)'],
            ['verified', result.verified ? 'yes: every row count and checksum matches the manifest' : 'no (--verify)'],
            ['time', duration(result.durationMs / 1000)],
          ]);
        }
        process.exitCode = EXIT_OK;
      } catch (err) {
        if (!(err instanceof FerryError) || !PROBLEMS.has(err.code)) throw err;
        if (options.json) printJson({ ok: false, error: errorPayload(err, secrets), details: err.details });
        else printError(err, secrets);
        process.exitCode = EXIT_PROBLEM;
      }
    });
}
