/**
 * A squawk-like linter for migration SQL, generated or hand-written.
 *
 * It reads each statement (split the way the runner splits them, see
 * sql-split.ts) as a stream of tokens: keywords are matched case-insensitively,
 * "quoted identifiers" keep their case, and comments, string literals and
 * dollar-quoted bodies can never look like a keyword. Nothing is sent to a
 * database; the linter only knows what the SQL text says. It does not look
 * inside DO blocks or function bodies.
 *
 * Whether a table "exists" matters to most rules: building an index, adding a
 * constraint or rewriting a table that was created a few lines earlier in the
 * same migration blocks nobody. A table is new when this file creates it
 * (`CREATE TABLE`, followed through `ALTER TABLE ... RENAME TO` and
 * `DROP TABLE`); otherwise it exists when `context.existingTables` says so,
 * or, when no set is given, always (the cautious default). Table names are
 * compared without their schema (`public.users` is `users`); unquoted names are
 * folded to lower case as Postgres does.
 *
 * Rules (see LINT_RULES):
 *
 * - `require-concurrent-index-creation` (error): `CREATE [UNIQUE] INDEX`
 *   without CONCURRENTLY on an existing table holds a SHARE lock, blocking
 *   every write, for the whole build.
 * - `concurrently-in-transaction` (error): `CREATE INDEX CONCURRENTLY`,
 *   `DROP INDEX CONCURRENTLY` and `REINDEX ... CONCURRENTLY` cannot run inside
 *   a transaction block; the file must start with `-- ferry:no-transaction`.
 * - `changing-column-type` (warning): `ALTER COLUMN ... TYPE` holds ACCESS
 *   EXCLUSIVE and, except for binary-coercible changes (varchar(n) to a wider
 *   varchar or to text, numeric(p,s) to a larger precision with the same
 *   scale...), rewrites the table and its indexes. The linter cannot see the
 *   old type, so it always warns.
 * - `adding-not-nullable-field` (error): `ADD COLUMN ... NOT NULL` (or
 *   PRIMARY KEY) without a DEFAULT fails as soon as the table has a row.
 * - `adding-volatile-default` (warning): since PostgreSQL 11, `ADD COLUMN ...
 *   DEFAULT expr` with a non-volatile default is instant: the value is
 *   computed once and stored in the catalog (`attmissingval`). `now()`,
 *   `CURRENT_TIMESTAMP`, `transaction_timestamp()` and `statement_timestamp()`
 *   are STABLE, so `DEFAULT now()` is instant too and is NOT flagged. Only a
 *   VOLATILE default has to be evaluated per row, which rewrites the table
 *   under ACCESS EXCLUSIVE: random(), random_normal(), gen_random_uuid(),
 *   gen_random_bytes(), uuidv4(), uuidv7(), uuid_generate_*(),
 *   clock_timestamp(), timeofday(), nextval(), and the columns that imply
 *   nextval or a per-row value (serial types, identity columns, STORED
 *   generated columns). User-defined functions are not flagged: the linter
 *   cannot see their volatility.
 * - `constraint-missing-not-valid` (error): `ADD CONSTRAINT ... FOREIGN KEY`
 *   or `CHECK` without NOT VALID scans the whole table under a lock that
 *   blocks writes. Add it NOT VALID, and VALIDATE it in a separate migration
 *   (validating in the same transaction would keep the strong lock anyway).
 * - `setting-not-nullable-field` (warning): `SET NOT NULL` scans the table
 *   under ACCESS EXCLUSIVE unless a validated `CHECK (col IS NOT NULL)`
 *   proves it; the check counts when it is validated earlier in the same
 *   file (`VALIDATE CONSTRAINT`, or added without NOT VALID). The check's
 *   definition is found in this file, in an earlier migration (lintMigrations),
 *   or from Ferry's naming convention `<table>_<column>_not_null`.
 * - `ban-drop-column`, `ban-drop-table` (warnings): the data is gone, and
 *   code still running against the old schema breaks.
 * - `renaming-column`, `renaming-table` (warnings): the old name disappears
 *   while the previous release is still serving traffic.
 * - `require-timeout-settings` (warning): a DDL statement queued behind a
 *   long transaction blocks every query queued behind it; `lock_timeout` makes
 *   it give up instead. Ferry's runner already sets `lock_timeout` and
 *   `statement_timeout` (SET LOCAL, or SET for no-transaction files) before
 *   every migration, so by default this rule is silent; it only fires with
 *   `runnerSetsTimeouts: false` (files run by psql or another tool), for a
 *   transactional file whose first strong-lock statement is not preceded by
 *   `SET [LOCAL] lock_timeout` (or `set_config('lock_timeout', ...)`).
 *
 * - `rls-without-policy` (warning): row-level security enabled on a table
 *   that no policy covers by the end of the migrations: every row is denied
 *   to everyone but the owner (lint/rls.ts).
 * - `trigger-on-existing-table` (warning): `CREATE TRIGGER` on a table that
 *   existed before the migration: its function runs in every write from then
 *   on, and the statement blocks writes while it waits for its lock.
 * - `view-bypasses-rls` (warning): a view without security_invoker reads a
 *   table with row-level security: it shows rows as its owner sees them (lint/rls.ts).
 *
 * - `citus-*` (errors, one warning): what Citus requires of distributed and
 *   reference tables (keys and foreign keys including the distribution
 *   column, co-location); checked on the schema, not the SQL (lint/citus.ts),
 *   by `migrate new`.
 *
 * Layout: lint/rules.ts (types, LINT_RULES), lint/tokens.ts (the statement's
 * tokens, from src/sql/lexer.ts, and matchers), lint/state.ts (what a file
 * has created so far), lint/statements.ts and lint/columns.ts (the rules).
 */

import path from 'node:path';
import type { MigrationFile } from './files.js';
import { RlsTracker } from './lint/rls.js';
import type { LintContext, LintFinding } from './lint/rules.js';
import { type CheckMap, type FileEnv, report, SchemaState } from './lint/state.js';
import { lintStatement } from './lint/statements.js';
import { firstWords, isOp, isWord, type Token, tokenize } from './lint/tokens.js';
import { splitStatements } from './sql-split.js';

export { LINT_RULES, type LintContext, type LintFinding, type LintRule, type LintSeverity } from './lint/rules.js';

/** Lint one migration script. */
export function lintSql(sql: string, context: LintContext = {}): LintFinding[] {
  const state = new SchemaState(context.existingTables ?? null);
  const rls = new RlsTracker();
  const findings = lintFile(sql, context, state, new Map(), rls);
  rls.finish();
  return findings.sort((a, b) => a.line - b.line);
}

/**
 * Lint each migration's up.sql, in the order given (readMigrations sorts by
 * id). The tables that exist before a migration are those the earlier
 * migrations' up.sql created (followed through renames and drops); tables
 * created in the same file are new.
 */
export function lintMigrations(files: MigrationFile[]): LintFinding[] {
  const state = new SchemaState(new Set());
  const checks: CheckMap = new Map();
  const out: LintFinding[] = [];
  // Whole-history rules report into the findings array of the file they point at.
  const rls = new RlsTracker();
  const perFile: LintFinding[][] = [];
  for (const f of files) {
    state.beginFile();
    const file = f.dir ? path.join(f.dir, 'up.sql') : `${f.id}/up.sql`;
    const findings = lintFile(f.up, { noTransaction: f.upNoTransaction, file }, state, checks, rls);
    perFile.push(findings);
  }
  rls.finish();
  for (const findings of perFile) out.push(...findings.sort((a, b) => a.line - b.line));
  return out;
}

function lintFile(
  sql: string,
  context: LintContext,
  state: SchemaState,
  checks: CheckMap,
  rls: RlsTracker,
): LintFinding[] {
  const noTransaction = context.noTransaction ?? /^(?:\uFEFF)?--\s*ferry\s*:\s*no-transaction\s*(?:\r?\n|$)/i.test(sql);
  const watchTimeouts = context.runnerSetsTimeouts === false && !noTransaction;
  let timeoutSet = false;
  let timeoutReported = false;
  const findings: LintFinding[] = [];
  const validated = new Set<string>();
  for (const statement of splitStatements(sql)) {
    const tokens = tokenize(statement.text);
    if (tokens.length === 0) continue;
    const env: FileEnv = { sql, context, noTransaction, state, checks, validated, findings, statement, tokens };
    const timeout = setsLockTimeout(tokens);
    if (timeout !== null) timeoutSet = timeout;
    const strong = lintStatement(env);
    rls.see(env);
    if (strong && watchTimeouts && !timeoutSet && !timeoutReported) {
      timeoutReported = true;
      report(
        env,
        'require-timeout-settings',
        0,
        `${firstWords(tokens)} takes a strong lock with no lock_timeout set; queued behind a long transaction, it blocks every query on the table.`,
        "Start the file with SET LOCAL lock_timeout = '5s'; (and SET LOCAL statement_timeout), or run it with Ferry's runner, which sets both for every migration.",
      );
    }
  }
  return findings.sort((a, b) => a.line - b.line);
}

/** `SET [LOCAL|SESSION] lock_timeout ...` → true (false when set to 0 / DEFAULT, or RESET); null when unrelated. */
function setsLockTimeout(t: Token[]): boolean | null {
  if (isWord(t[0], 'reset') && isWord(t[1], 'lock_timeout', 'all')) return false;
  if (isWord(t[0], 'set')) {
    const i = isWord(t[1], 'local', 'session') ? 2 : 1;
    if (!isWord(t[i], 'lock_timeout')) return null;
    const value = isWord(t[i + 1], 'to') || isOp(t[i + 1], '=') ? t[i + 2] : undefined;
    if (value === undefined) return null;
    if (isWord(value, 'default')) return false;
    if ((value.kind === 'number' || value.kind === 'string') && /^\s*0+\s*(?:ms)?\s*$/i.test(value.value)) return false;
    return true;
  }
  for (let k = 0; k + 2 < t.length; k++) {
    if (isWord(t[k], 'set_config') && isOp(t[k + 1], '(') && t[k + 2]!.kind === 'string') {
      if (t[k + 2]!.value.toLowerCase() === 'lock_timeout') return true;
    }
  }
  return null;
}
