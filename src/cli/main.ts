import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerBackup } from './commands/backup.js';
import { registerCutover } from './commands/cutover.js';
import { registerDb } from './commands/db.js';
import { registerExport } from './commands/export.js';
import { registerHealth } from './commands/health.js';
import { registerImport } from './commands/import.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPartitions } from './commands/partitions.js';
import { registerPull } from './commands/pull.js';
import { registerSchema } from './commands/schema.js';
import { registerStudio } from './commands/studio.js';
import type { GlobalOptions } from './globals.js';
import { EXIT_ERROR, errorPayload, knownSecrets, printError, printedJson, printJson } from './output.js';

export type { GlobalOptions } from './globals.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('ferry')
    .description('Move an app off ad-hoc storage onto PostgreSQL with a Redis cache.')
    .version(pkg.version, '-v, --version')
    .option('-c, --config <path>', 'config file (default: nearest ferry.config.{ts,mts,js,mjs})')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const globals = () => program.opts<GlobalOptions>();
  registerDb(program, globals);
  registerSchema(program, globals);
  registerMigrate(program, globals);
  registerPull(program, globals);
  registerPartitions(program, globals);
  registerImport(program, globals);
  registerHealth(program, globals);
  registerBackup(program, globals);
  registerExport(program, globals);
  registerCutover(program, globals);
  registerStudio(program, globals);
  // Usage errors anywhere in the tree become exit code 2 (see main()).
  const override = (command: Command) => {
    command.exitOverride();
    for (const sub of command.commands) override(sub);
  };
  override(program);
  return program;
}

let quietOnClosedPipes = false;

/**
 * `ferry db status | head -1`: once the reader is gone, writes fail with
 * EPIPE, and an unhandled stream error would end the run with a stack trace
 * halfway through its work. Ignore it instead: later writes are dropped (the
 * stream is destroyed), the command finishes and closes its database
 * normally, and exits with its own code.
 */
function ignoreClosedPipes(): void {
  if (quietOnClosedPipes) return;
  quietOnClosedPipes = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
}

export async function main(argv: string[] = process.argv): Promise<void> {
  ignoreClosedPipes();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; usage mistakes exit 2 like other CLIs.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_ERROR;
      return;
    }
    const secrets = knownSecrets();
    printError(err, secrets);
    // A script that asked for --json gets a JSON answer even when the command
    // failed before its report (a database it cannot reach, a bad config).
    if (argv.includes('--json') && !printedJson()) printJson({ ok: false, error: errorPayload(err, secrets) });
    process.exitCode = EXIT_ERROR;
  }
}
