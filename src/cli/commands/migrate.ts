import { relative } from 'node:path';
import type { Command } from 'commander';
import { type LoadedConfig, loadConfig, loadSchemaModule } from '../../config.js';
import type { DbHandle } from '../../db/open.js';
import { FerryError } from '../../errors.js';
import { checkDrift } from '../../migrate/check.js';
import { diffSchemas } from '../../migrate/diff.js';
import { E_MIGRATION_EMPTY, E_MIGRATION_LINT } from '../../migrate/errors.js';
import { readMigrations } from '../../migrate/files.js';
import { generateMigration, replayMigrations } from '../../migrate/generate.js';
import { introspect } from '../../migrate/introspect.js';
import { type LintFinding, lintMigrations } from '../../migrate/lint.js';
import { Migrator, type RunResult } from '../../migrate/runner.js';
import { openShadow } from '../../migrate/shadow.js';
import { defineSchema } from '../../schema/schema.js';
import { openProjectDatabase } from '../database.js';
import type { GlobalOptions } from '../globals.js';
import { wholeNumber } from '../numbers.js';
import { EXIT_OK, EXIT_PROBLEM, knownSecrets, printError, printJson } from '../output.js';
import { registerMigrateRepair } from './migrate-repair.js';

interface ConnOptions {
  url?: string;
  json?: boolean;
}

/** Open the configured database, run `fn`, always close. */
async function withDatabase<R>(
  config: LoadedConfig,
  options: ConnOptions & { creates?: boolean },
  fn: (handle: DbHandle) => Promise<R>,
) {
  const handle = await openProjectDatabase(config, { url: options.url, creates: options.creates });
  try {
    return await fn(handle);
  } finally {
    await handle.close();
  }
}

function printFindings(findings: LintFinding[]): void {
  for (const f of findings) {
    process.stdout.write(
      `${f.severity.padEnd(7)} ${f.rule}  ${f.file ?? ''}:${f.line}\n  ${f.message}\n  fix: ${f.hint}\n`,
    );
  }
}

/**
 * `migrate new` refused to write a migration with lint errors: print the
 * findings (the problem found is in what would be written, so exit 1, not
 * 2); any other error goes on up.
 */
function refusedByLint(err: unknown, json: boolean | undefined): undefined {
  if (!(err instanceof FerryError) || err.code !== E_MIGRATION_LINT) throw err;
  const findings = err.details.findings as LintFinding[];
  if (json) {
    printJson({ ok: false, refused: true, written: [], changes: err.details.changes, lint: findings });
  } else {
    for (const c of err.details.changes as { description: string }[]) process.stdout.write(`  ${c.description}\n`);
    printFindings(findings);
    process.stderr.write(
      'ferry: nothing written: the migration has lint errors (see above; the files named were not created). ' +
        'Change the schema, write it by hand ' +
        'with --empty, or pass --force to write it anyway.\n',
    );
  }
  process.exitCode = EXIT_PROBLEM;
  return undefined;
}

/** An empty up.sql/down.sql was refused: a problem found in the files (exit 1), not a failure to run. */
function refusedEmpty(err: unknown): undefined {
  if (!(err instanceof FerryError) || err.code !== E_MIGRATION_EMPTY) throw err;
  printError(err, knownSecrets());
  process.exitCode = EXIT_PROBLEM;
  return undefined;
}

function printRun(result: RunResult, json: boolean | undefined, verb: string): void {
  if (json) {
    printJson(result);
  } else if (result.results.length === 0) {
    process.stdout.write(`Nothing to ${verb}.\n`);
  } else {
    for (const r of result.results) {
      const took = r.durationMs !== undefined ? ` (${Math.round(r.durationMs)} ms)` : '';
      process.stdout.write(`${r.status.padEnd(9)} ${r.id}${took}\n`);
      if (r.error) {
        process.stdout.write(
          `  ${r.error.file}${r.error.line ? `:${r.error.line}` : ''}: ${r.error.message}` +
            `${r.error.sqlstate ? ` [SQLSTATE ${r.error.sqlstate}]` : ''}\n` +
            (r.error.statement ? `  statement: ${r.error.statement.trim().split('\n').join('\n             ')}\n` : ''),
        );
      }
    }
  }
  process.exitCode = result.ok ? EXIT_OK : EXIT_PROBLEM;
}

export function registerMigrate(program: Command, globals: () => GlobalOptions): void {
  const migrate = program.command('migrate').description('generate, apply and inspect migrations');
  const config = () => loadConfig({ configPath: globals().config });
  const urlOption = ['--url <url>', 'database URL (default: DATABASE_URL, else the embedded database)'] as const;

  migrate
    .command('new <name>')
    .description('write up.sql and down.sql for the difference between the migrations and the schema module')
    .option('--empty', 'write blank files, for a hand-written (data) migration')
    .option('--force', 'write the migration even when the linter reports errors in it')
    .option('--json', 'print a JSON report')
    .action(async (name: string, options: { empty?: boolean; force?: boolean; json?: boolean }) => {
      const cfg = await config();
      const schema = defineSchema(await loadSchemaModule(cfg));
      // The migrations and the DSL are compared in an embedded scratch database: no server needed.
      const shadow = await openShadow();
      try {
        const result = await generateMigration({
          shadow,
          schema,
          dir: cfg.migrationsDir,
          name,
          empty: options.empty,
          force: options.force,
        }).catch((err) => refusedByLint(err, options.json));
        if (!result) return;
        // Linted before writing, in the context of every earlier migration.
        const findings = result.lint;
        if (options.json) {
          printJson({
            ok: true,
            changes: result.changes.map((c) => ({
              phase: c.phase,
              description: c.description,
              destructive: c.destructive,
              warning: c.warning ?? null,
            })),
            written: result.written.map((w) => relative(process.cwd(), w.dir)),
            lint: findings,
          });
          return;
        }
        if (result.written.length === 0) {
          process.stdout.write('No changes: the migrations already match the schema. Nothing written.\n');
          return;
        }
        for (const c of result.changes) {
          process.stdout.write(
            `  ${c.destructive ? '!' : '+'} ${c.description}${c.phase === 'main' ? '' : ` [${c.phase}]`}\n`,
          );
          if (c.warning) process.stdout.write(`    WARNING: ${c.warning}\n`);
        }
        for (const w of result.written) process.stdout.write(`wrote ${relative(process.cwd(), w.dir)}/{up,down}.sql\n`);
        printFindings(findings);
      } finally {
        await shadow.close();
      }
    });

  migrate
    .command('lint')
    .description('check migration SQL for statements that lock or rewrite tables, or lose data; exit 1 on errors')
    .option('--json', 'print a JSON report')
    .action(async (options: { json?: boolean }) => {
      const cfg = await config();
      const findings = lintMigrations(readMigrations(cfg.migrationsDir));
      const errors = findings.filter((f) => f.severity === 'error').length;
      if (options.json) printJson({ ok: errors === 0, findings });
      else if (findings.length === 0) process.stdout.write('No findings.\n');
      else {
        printFindings(findings);
        process.stdout.write(`${errors} error(s), ${findings.length - errors} warning(s)\n`);
      }
      process.exitCode = errors === 0 ? EXIT_OK : EXIT_PROBLEM;
    });

  migrate
    .command('up')
    .description('apply pending migrations (all, or up to and including --to)')
    .option('--to <id>', 'stop after this migration')
    .option(...urlOption)
    .option('--json', 'print a JSON report')
    .action(async (options: ConnOptions & { to?: string }) => {
      const cfg = await config();
      await withDatabase(cfg, { ...options, creates: true }, async (handle) => {
        const result = await new Migrator(handle.db, { dir: cfg.migrationsDir })
          .up({ to: options.to })
          .catch(refusedEmpty);
        if (!result) return;
        await handle.refreshTypes();
        printRun(result, options.json, 'apply');
      });
    });

  migrate
    .command('down')
    .description('revert applied migrations (default: the newest one)')
    .option('--steps <n>', 'how many to revert', wholeNumber(1))
    .option('--to <id>', 'revert until this migration is the newest applied')
    .option('--all', 'revert every migration')
    .option(...urlOption)
    .option('--json', 'print a JSON report')
    .action(async (options: ConnOptions & { steps?: number; to?: string; all?: boolean }) => {
      const cfg = await config();
      await withDatabase(cfg, options, async (handle) => {
        const result = await new Migrator(handle.db, { dir: cfg.migrationsDir })
          .down({ steps: options.steps, to: options.to, all: options.all })
          .catch(refusedEmpty);
        if (!result) return;
        printRun(result, options.json, 'revert');
      });
    });

  migrate
    .command('status')
    .description('current migration, applied, pending and any drift between files and history')
    .option(...urlOption)
    .option('--json', 'print a JSON report')
    .action(async (options: ConnOptions) => {
      const cfg = await config();
      await withDatabase(cfg, options, async (handle) => {
        const status = await new Migrator(handle.db, { dir: cfg.migrationsDir }).status();
        if (options.json) {
          printJson({
            current: status.current,
            applied: status.applied.map((a) => a.id),
            pending: status.pending.map((p) => p.id),
            problems: status.problems,
          });
        } else {
          process.stdout.write(`current  ${status.current ?? '(none)'}\n`);
          process.stdout.write(`applied  ${status.applied.length}\n`);
          process.stdout.write(
            `pending  ${status.pending.length}${status.pending.map((p) => `\n  ${p.id}`).join('')}\n`,
          );
          for (const p of status.problems) process.stdout.write(`problem  ${p.message}\n`);
        }
        process.exitCode = status.problems.length > 0 ? EXIT_PROBLEM : EXIT_OK;
      });
    });

  migrate
    .command('history')
    .description('applied migrations, oldest first, with when, how long and by whom')
    .option(...urlOption)
    .option('--json', 'print a JSON report')
    .action(async (options: ConnOptions) => {
      const cfg = await config();
      await withDatabase(cfg, options, async (handle) => {
        const history = await new Migrator(handle.db, { dir: cfg.migrationsDir }).history();
        if (options.json) printJson(history);
        else if (history.length === 0) process.stdout.write('No migrations applied.\n');
        else {
          for (const h of history) {
            process.stdout.write(`${h.appliedAt.toISOString()}  ${h.id}  ${h.durationMs} ms  ${h.appliedBy}\n`);
          }
        }
      });
    });

  migrate
    .command('check')
    .description('exit 0 when schema, migrations and database agree; 1 on drift (listed); 2 on error')
    .option(...urlOption)
    .option('--json', 'print a JSON report')
    .action(async (options: ConnOptions) => {
      const cfg = await config();
      const schema = defineSchema(await loadSchemaModule(cfg));
      const drift = await withDatabase(cfg, options, (handle) => checkDrift(handle, schema, cfg.migrationsDir));
      if (options.json) printJson({ ok: drift.length === 0, drift });
      else if (drift.length === 0) process.stdout.write('OK: schema, migrations and database agree.\n');
      else for (const d of drift) process.stdout.write(`drift: ${d}\n`);
      process.exitCode = drift.length === 0 ? EXIT_OK : EXIT_PROBLEM;
    });

  migrate
    .command('baseline')
    .description('adopt an existing database: record migrations as applied after confirming it matches them')
    .option('--to <id>', 'baseline up to and including this migration')
    .option('--force', 'record them even when the database does not match')
    .option(...urlOption)
    .option('--json', 'print a JSON report')
    .action(async (options: ConnOptions & { to?: string; force?: boolean }) => {
      const cfg = await config();
      await withDatabase(cfg, options, async (handle) => {
        if (!options.force) {
          const shadow = await openShadow({ like: handle });
          try {
            const expected = await replayMigrations(shadow, cfg.migrationsDir, options.to);
            const differences = diffSchemas(await introspect(handle.db), expected);
            if (differences.length > 0) {
              for (const d of differences) process.stderr.write(`mismatch: ${d.description}\n`);
              process.stderr.write(
                'ferry: the database does not match the migrations; nothing recorded (use --force to record anyway).\n',
              );
              process.exitCode = EXIT_PROBLEM;
              return;
            }
          } finally {
            await shadow.close();
          }
        }
        printRun(
          await new Migrator(handle.db, { dir: cfg.migrationsDir }).baseline({ to: options.to }),
          options.json,
          'baseline',
        );
      });
    });

  registerMigrateRepair(migrate, config, urlOption);
}
