/**
 * `ferry/migrate`: run, inspect and lint migrations from code (the CLI's
 * `ferry migrate …` is built on the same pieces). `ferry.migrate(dir)` on a
 * connected handle is the short form of `new Migrator(ferry.db, { dir }).up()`.
 */
export * from './errors.js';
export {
  EMPTY_DIRECTIVE,
  type MigrationFile,
  NO_TRANSACTION_DIRECTIVE,
  readMigrations,
} from './files.js';
export { LINT_RULES, type LintFinding, type LintSeverity, lintMigrations, lintSql } from './lint.js';
export {
  type AppliedMigration,
  type MigrationError,
  type MigrationProblem,
  type MigrationProblemCode,
  type MigrationResult,
  type MigrationStatus,
  Migrator,
  type MigratorOptions,
  type RunResult,
} from './runner.js';
