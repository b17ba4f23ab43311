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
 */
import path from 'node:path';
import type { MigrationFile } from './files.js';
import { type SqlStatement, skipBlockComment, skipQuoted, splitStatements } from './sql-split.js';

export type LintSeverity = 'error' | 'warning';

export interface LintFinding {
  /** Stable rule id, one of LINT_RULES. */
  rule: string;
  severity: LintSeverity;
  /** What is wrong, naming the table, column or index. */
  message: string;
  /** How to do it safely. */
  hint: string;
  file?: string;
  /** 1-based line of the offending clause (for an ALTER TABLE with several actions, the action's line). */
  line: number;
  /** The whole statement, without its `;`. */
  statement: string;
}

export interface LintContext {
  /** Tables that exist before this migration runs (creating an index on a table created in the same migration is fine). */
  existingTables?: ReadonlySet<string>;
  /** The file runs outside a transaction (`-- ferry:no-transaction`). Default: read from the file's first line. */
  noTransaction?: boolean;
  file?: string;
  /**
   * Whether the runner sets `lock_timeout`/`statement_timeout` itself (Ferry's
   * does, for every migration). Default true, which silences
   * `require-timeout-settings`; pass false for files run by another tool.
   */
  runnerSetsTimeouts?: boolean;
}

export interface LintRule {
  id: string;
  severity: LintSeverity;
  summary: string;
}

export const LINT_RULES: readonly LintRule[] = [
  {
    id: 'require-concurrent-index-creation',
    severity: 'error',
    summary: 'CREATE INDEX without CONCURRENTLY on an existing table blocks writes while the index builds.',
  },
  {
    id: 'concurrently-in-transaction',
    severity: 'error',
    summary: 'CREATE/DROP INDEX CONCURRENTLY and REINDEX CONCURRENTLY cannot run inside a transaction.',
  },
  {
    id: 'changing-column-type',
    severity: 'warning',
    summary: 'ALTER COLUMN ... TYPE holds ACCESS EXCLUSIVE and usually rewrites the table.',
  },
  {
    id: 'adding-not-nullable-field',
    severity: 'error',
    summary: 'ADD COLUMN ... NOT NULL without DEFAULT fails on a table that has rows.',
  },
  {
    id: 'adding-volatile-default',
    severity: 'warning',
    summary:
      'ADD COLUMN with a volatile default (random(), gen_random_uuid(), nextval(), serial...) rewrites the table.',
  },
  {
    id: 'constraint-missing-not-valid',
    severity: 'error',
    summary: 'ADD CONSTRAINT ... FOREIGN KEY/CHECK without NOT VALID scans the table while blocking writes.',
  },
  {
    id: 'setting-not-nullable-field',
    severity: 'warning',
    summary: 'SET NOT NULL without a validated CHECK (col IS NOT NULL) scans the table under ACCESS EXCLUSIVE.',
  },
  { id: 'ban-drop-column', severity: 'warning', summary: 'DROP COLUMN loses data and breaks code that still uses it.' },
  { id: 'ban-drop-table', severity: 'warning', summary: 'DROP TABLE loses data and breaks code that still uses it.' },
  {
    id: 'renaming-column',
    severity: 'warning',
    summary: 'RENAME COLUMN breaks the running release during the deploy.',
  },
  { id: 'renaming-table', severity: 'warning', summary: 'RENAME TO breaks the running release during the deploy.' },
  {
    id: 'require-timeout-settings',
    severity: 'warning',
    summary:
      'A strong lock taken without SET lock_timeout can queue every query behind it (only when the runner does not set timeouts).',
  },
];

const SEVERITY = new Map(LINT_RULES.map((r) => [r.id, r.severity]));

const NO_TX_HINT = 'put it alone in a migration whose first line is "-- ferry:no-transaction"';

/** Lint one migration script. */
export function lintSql(sql: string, context: LintContext = {}): LintFinding[] {
  const state = new SchemaState(context.existingTables ?? null);
  return lintFile(sql, context, state, new Map());
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
  for (const f of files) {
    state.beginFile();
    const file = f.dir ? path.join(f.dir, 'up.sql') : `${f.id}/up.sql`;
    out.push(...lintFile(f.up, { noTransaction: f.upNoTransaction, file }, state, checks));
  }
  return out;
}

// ------------------------------------------------------------------ state

/** `table \0 constraint` → the column a `CHECK (column IS NOT NULL)` constraint covers. */
type CheckMap = Map<string, string>;
const checkKey = (table: string, name: string) => `${table}\u0000${name}`;

/** Which tables exist, as the migration goes. */
class SchemaState {
  /** Tables that existed before the current file, or null: unknown, assume every table not created here. */
  #before: Set<string> | null;
  /** Tables created by the current file. */
  #created = new Set<string>();
  /** Tables dropped or renamed away by the current file (when `#before` is unknown). */
  #gone = new Set<string>();

  constructor(existing: ReadonlySet<string> | null) {
    this.#before = existing ? new Set(existing) : null;
  }

  /** The current file's new tables become existing ones for the next. */
  beginFile(): void {
    if (this.#before) for (const t of this.#created) this.#before.add(t);
    this.#created.clear();
    this.#gone.clear();
  }

  exists(table: string): boolean {
    if (this.#created.has(table)) return false;
    return this.#before ? this.#before.has(table) : !this.#gone.has(table);
  }

  known(table: string): boolean {
    return this.#created.has(table) || this.exists(table);
  }

  create(table: string): void {
    this.#created.add(table);
    this.#gone.delete(table);
  }

  drop(table: string): void {
    this.#created.delete(table);
    this.#before?.delete(table);
    this.#gone.add(table);
  }

  rename(from: string, to: string): void {
    if (this.#created.has(from)) {
      this.#created.delete(from);
      this.#created.add(to);
    } else if (this.exists(from)) {
      this.#before?.delete(from);
      this.#before?.add(to);
      this.#gone.add(from);
      this.#gone.delete(to);
    }
  }
}

interface FileEnv {
  sql: string;
  context: LintContext;
  noTransaction: boolean;
  state: SchemaState;
  checks: CheckMap;
  /** Check constraints validated in this file (keys of `checks`' form). */
  validated: Set<string>;
  findings: LintFinding[];
  /** Statement being linted, its tokens. */
  statement: SqlStatement;
  tokens: Token[];
}

function lintFile(sql: string, context: LintContext, state: SchemaState, checks: CheckMap): LintFinding[] {
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

function report(env: FileEnv, rule: string, tokenIndex: number, message: string, hint: string): void {
  const tok = env.tokens[tokenIndex] ?? env.tokens[0]!;
  const line = env.statement.line + countNewlines(env.statement.text, tok.start);
  const finding: LintFinding = {
    rule,
    severity: SEVERITY.get(rule)!,
    message,
    hint,
    line,
    statement: env.statement.text,
  };
  if (env.context.file !== undefined) finding.file = env.context.file;
  env.findings.push(finding);
}

function countNewlines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < end; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

// ------------------------------------------------------------------ statements

/** Lint one statement and update the state; returns whether it takes a strong lock on an existing object. */
function lintStatement(env: FileEnv): boolean {
  const t = env.tokens;
  if (isWord(t[0], 'create')) {
    let i = 1;
    if (isWord(t[i], 'or') && isWord(t[i + 1], 'replace')) i += 2;
    if (isWord(t[i], 'unique')) i++;
    if (isWord(t[i], 'index')) return createIndex(env, i + 1);
    while (isWord(t[i], 'global', 'local', 'temp', 'temporary', 'unlogged')) i++;
    if (isWord(t[i], 'table')) return createTable(env, i + 1);
    if (isWord(t[i], 'trigger') || (isWord(t[i], 'constraint') && isWord(t[i + 1], 'trigger'))) return true;
    return false;
  }
  if (isWord(t[0], 'alter') && isWord(t[1], 'table')) return alterTable(env);
  if (isWord(t[0], 'drop')) {
    if (isWord(t[1], 'table')) return dropTable(env);
    if (isWord(t[1], 'index') && isWord(t[2], 'concurrently')) {
      if (!env.noTransaction) {
        const name = qualifiedName(t, isWord(t[3], 'if') ? 5 : 3);
        report(
          env,
          'concurrently-in-transaction',
          0,
          `DROP INDEX CONCURRENTLY${name ? ` ${name.name}` : ''} cannot run inside a transaction, and this file runs in one.`,
          `DROP INDEX CONCURRENTLY must run outside a transaction: ${NO_TX_HINT}.`,
        );
      }
      return false;
    }
    return true;
  }
  if (isWord(t[0], 'reindex')) return reindex(env);
  if (isWord(t[0], 'truncate', 'lock', 'cluster')) return true;
  return false;
}

function createIndex(env: FileEnv, after: number): boolean {
  const t = env.tokens;
  let i = after;
  const concurrently = isWord(t[i], 'concurrently');
  if (concurrently) i++;
  if (isWord(t[i], 'if') && isWord(t[i + 1], 'not') && isWord(t[i + 2], 'exists')) i += 3;
  let index: string | null = null;
  if (!isWord(t[i], 'on')) {
    index = qualifiedName(t, i)?.name ?? null;
  }
  const on = findWord(t, 'on', i);
  if (on < 0) return false;
  let j = on + 1;
  if (isWord(t[j], 'only')) j++;
  const table = qualifiedName(t, j)?.name;
  if (table === undefined) return false;
  const what = `${index === null ? 'an index' : `index ${index}`} on table ${table}`;
  if (concurrently) {
    if (!env.noTransaction) {
      report(
        env,
        'concurrently-in-transaction',
        0,
        `CREATE INDEX CONCURRENTLY (${what}) cannot run inside a transaction, and this file runs in one.`,
        `Postgres refuses CONCURRENTLY in a transaction block: ${NO_TX_HINT}.`,
      );
    }
    return false;
  }
  if (!env.state.exists(table)) return false;
  report(
    env,
    'require-concurrent-index-creation',
    0,
    `Creating ${what} without CONCURRENTLY blocks writes to ${table} (SHARE lock) until the index is built.`,
    `Use CREATE INDEX CONCURRENTLY and ${NO_TX_HINT} (ferry migrate new does this for indexes on existing tables).`,
  );
  return true;
}

function createTable(env: FileEnv, after: number): boolean {
  const t = env.tokens;
  let i = after;
  const ifNotExists = isWord(t[i], 'if') && isWord(t[i + 1], 'not') && isWord(t[i + 2], 'exists');
  if (ifNotExists) i += 3;
  const table = qualifiedName(t, i)?.name;
  if (table === undefined) return false;
  if (!(ifNotExists && env.state.known(table))) env.state.create(table);
  return false;
}

function dropTable(env: FileEnv): boolean {
  const t = env.tokens;
  let i = 2;
  if (isWord(t[i], 'if') && isWord(t[i + 1], 'exists')) i += 2;
  let strong = false;
  for (;;) {
    const name = qualifiedName(t, i);
    if (!name) break;
    if (env.state.exists(name.name)) {
      strong = true;
      report(
        env,
        'ban-drop-table',
        i,
        `DROP TABLE ${name.name} deletes the table and all its rows; code still running against it will fail.`,
        'First deploy code that no longer reads or writes the table, keep a backup or an export if the data may be needed, then drop it in a later migration.',
      );
    }
    env.state.drop(name.name);
    i = name.next;
    if (!isOp(t[i], ',')) break;
    i++;
  }
  return strong;
}

function reindex(env: FileEnv): boolean {
  const t = env.tokens;
  let i = 1;
  let concurrently = false;
  if (isOp(t[i], '(')) {
    const close = matchingParen(t, i);
    for (let k = i + 1; k < close; k++) {
      if (isWord(t[k], 'concurrently') && !isFalse(t[k + 1])) concurrently = true;
    }
    i = close + 1;
  }
  i++; // INDEX | TABLE | SCHEMA | DATABASE | SYSTEM
  if (isWord(t[i], 'concurrently')) concurrently = true;
  if (!concurrently) return true;
  if (!env.noTransaction) {
    report(
      env,
      'concurrently-in-transaction',
      0,
      'REINDEX ... CONCURRENTLY cannot run inside a transaction, and this file runs in one.',
      `REINDEX CONCURRENTLY must run outside a transaction: ${NO_TX_HINT}.`,
    );
  }
  return false;
}

function alterTable(env: FileEnv): boolean {
  const t = env.tokens;
  let i = 2;
  if (isWord(t[i], 'all')) return false; // ALTER TABLE ALL IN TABLESPACE
  if (isWord(t[i], 'if') && isWord(t[i + 1], 'exists')) i += 2;
  if (isWord(t[i], 'only')) i++;
  const name = qualifiedName(t, i);
  if (!name) return false;
  const table = name.name;
  i = name.next;
  if (isOp(t[i], '*')) i++;
  const existing = env.state.exists(table);

  if (isWord(t[i], 'rename')) {
    renameIn(env, table, existing, i);
    return existing;
  }
  for (const [from, to] of splitTopLevel(t, i, t.length)) alterAction(env, table, existing, from, to);
  return existing;
}

function renameIn(env: FileEnv, table: string, existing: boolean, at: number): void {
  const t = env.tokens;
  if (isWord(t[at + 1], 'to')) {
    const to = qualifiedName(t, at + 2)?.name;
    if (to === undefined) return;
    if (existing) {
      report(
        env,
        'renaming-table',
        at,
        `Renaming table ${table} to ${to} breaks the release still running during the deploy, which queries ${table}.`,
        'Expand/contract instead: create the new table (or a view named after the old one), write to both, backfill, switch the code, then drop the old name in a later migration.',
      );
    }
    env.state.rename(table, to);
    return;
  }
  if (isWord(t[at + 1], 'constraint')) return;
  const colAt = isWord(t[at + 1], 'column') ? at + 2 : at + 1;
  const column = identAt(t[colAt]);
  const to = isWord(t[colAt + 1], 'to') ? identAt(t[colAt + 2]) : null;
  if (column === null || !existing) return;
  report(
    env,
    'renaming-column',
    at,
    `Renaming column ${table}.${column}${to === null ? '' : ` to ${to}`} breaks the release still running during the deploy, which uses ${column}.`,
    'Expand/contract instead: add the new column, write to both and backfill, switch the code to the new column, then drop the old one in a later migration.',
  );
}

const CONSTRAINT_START = ['constraint', 'check', 'unique', 'primary', 'foreign', 'exclude'];

function alterAction(env: FileEnv, table: string, existing: boolean, from: number, to: number): void {
  const t = env.tokens;
  const verb = t[from];
  if (isWord(verb, 'add')) {
    let i = from + 1;
    if (isWord(t[i], ...CONSTRAINT_START)) {
      addConstraint(env, table, existing, from, to);
      return;
    }
    if (isWord(t[i], 'column')) i++;
    if (isWord(t[i], 'if') && isWord(t[i + 1], 'not') && isWord(t[i + 2], 'exists')) i += 3;
    addColumn(env, table, existing, from, i, to);
    return;
  }
  if (isWord(verb, 'validate') && isWord(t[from + 1], 'constraint')) {
    const name = identAt(t[from + 2]);
    if (name !== null) env.validated.add(checkKey(table, name));
    return;
  }
  if (isWord(verb, 'drop')) {
    let i = from + 1;
    if (isWord(t[i], 'constraint')) {
      const name = identAt(t[isWord(t[i + 1], 'if') ? i + 3 : i + 1]);
      if (name !== null) env.checks.delete(checkKey(table, name));
      return;
    }
    if (isWord(t[i], 'column')) i++;
    if (isWord(t[i], 'if') && isWord(t[i + 1], 'exists')) i += 2;
    const column = identAt(t[i]);
    if (column === null || !existing) return;
    report(
      env,
      'ban-drop-column',
      from,
      `Dropping column ${table}.${column} deletes its data; the release still running during the deploy may select or insert it.`,
      `First deploy code that no longer uses ${column} (stop selecting it and writing it), then drop it in a later migration.`,
    );
    return;
  }
  if (isWord(verb, 'alter')) {
    let i = from + 1;
    if (isWord(t[i], 'constraint')) return;
    if (isWord(t[i], 'column')) i++;
    const column = identAt(t[i]);
    if (column === null) return;
    i++;
    const isType =
      isWord(t[i], 'type') || (isWord(t[i], 'set') && isWord(t[i + 1], 'data') && isWord(t[i + 2], 'type'));
    if (isType && existing) {
      const typeAt = isWord(t[i], 'type') ? i + 1 : i + 3;
      const type = typeText(env, typeAt, to);
      report(
        env,
        'changing-column-type',
        from,
        `Changing the type of ${table}.${column}${type ? ` to ${type}` : ''} holds an ACCESS EXCLUSIVE lock on ${table} and, unless the change is binary-coercible, rewrites the table and its indexes.`,
        'Safe (no rewrite): widening varchar(n) to a larger n, varchar to text, numeric(p,s) to a larger p with the same scale, or dropping a length/precision limit. Otherwise expand/contract: add a new column of the new type, backfill it in batches, switch the code, then drop the old column.',
      );
      return;
    }
    if (isWord(t[i], 'set') && isWord(t[i + 1], 'not') && isWord(t[i + 2], 'null') && existing) {
      if (hasValidatedNotNullCheck(env, table, column)) return;
      report(
        env,
        'setting-not-nullable-field',
        from,
        `SET NOT NULL on ${table}.${column} scans the whole table under an ACCESS EXCLUSIVE lock, blocking reads and writes.`,
        `Add CONSTRAINT ${notNullCheckName(table, column)} CHECK (${column} IS NOT NULL) NOT VALID, VALIDATE it in a separate migration, then SET NOT NULL right after the VALIDATE (it skips the scan) and drop the check (ferry migrate new does this).`,
      );
    }
  }
}

function addConstraint(env: FileEnv, table: string, existing: boolean, from: number, to: number): void {
  const t = env.tokens;
  let i = from + 1;
  let name: string | null = null;
  if (isWord(t[i], 'constraint')) {
    name = identAt(t[i + 1]);
    i += 2;
  }
  const kind = isWord(t[i], 'foreign') ? 'FOREIGN KEY' : isWord(t[i], 'check') ? 'CHECK' : null;
  if (kind === null) return;
  const notValid = hasSequence(t, from, to, ['not', 'valid']);
  if (kind === 'CHECK' && name !== null) {
    const column = notNullColumn(t, i + 1);
    if (column !== null) env.checks.set(checkKey(table, name), column);
    if (!notValid) env.validated.add(checkKey(table, name));
  }
  if (notValid || !existing) return;
  const what = `${kind === 'CHECK' ? 'check' : 'foreign key'}${name === null ? '' : ` ${name}`} on ${table}`;
  const locks =
    kind === 'CHECK'
      ? `scans all of ${table} under an ACCESS EXCLUSIVE lock`
      : `scans all of ${table} while blocking writes to it and to the referenced table`;
  report(
    env,
    'constraint-missing-not-valid',
    from,
    `Adding ${what} without NOT VALID ${locks}.`,
    `Add it with NOT VALID (instant: only new rows are checked), then run ALTER TABLE ${table} VALIDATE CONSTRAINT ${name ?? '<name>'} in a separate migration; VALIDATE only takes a SHARE UPDATE EXCLUSIVE lock.`,
  );
}

const COLUMN_CONSTRAINT_START = new Set([
  'not',
  'null',
  'default',
  'constraint',
  'check',
  'unique',
  'primary',
  'references',
  'generated',
  'collate',
  'compression',
  'storage',
  'deferrable',
  'initially',
]);
const SERIAL_TYPES = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

/**
 * Functions whose volatility is VOLATILE in pg_proc: a default calling one is
 * evaluated per row, so ADD COLUMN rewrites the table. now() and friends are
 * STABLE (one value per transaction) and stay instant on PG11+.
 */
const VOLATILE_FUNCTIONS = new Set([
  'random',
  'random_normal',
  'setseed',
  'gen_random_uuid',
  'gen_random_bytes',
  'uuidv4',
  'uuidv7',
  'clock_timestamp',
  'timeofday',
  'nextval',
]);

function isVolatileFunction(name: string): boolean {
  return VOLATILE_FUNCTIONS.has(name) || name.startsWith('uuid_generate_');
}

function addColumn(env: FileEnv, table: string, existing: boolean, from: number, at: number, to: number): void {
  const t = env.tokens;
  const column = identAt(t[at]);
  if (column === null || !existing) return;
  let notNull = false;
  let primaryKey = false;
  let defaultTokens: Token[] | null = null;
  let identity = false;
  let storedGenerated = false;
  let serial = false;
  let i = at + 1;
  // The type runs up to the first column-constraint keyword.
  const typeStart = i;
  while (i < to && !(t[i]!.kind === 'word' && COLUMN_CONSTRAINT_START.has(t[i]!.value))) {
    i = isOp(t[i], '(') ? matchingParen(t, i) + 1 : i + 1;
  }
  const typeWord = t[typeStart];
  if (typeWord && typeWord.kind === 'word' && SERIAL_TYPES.has(typeWord.value) && i === typeStart + 1) {
    serial = true;
  }
  while (i < to) {
    const tok = t[i]!;
    if (isWord(tok, 'not') && isWord(t[i + 1], 'null')) {
      notNull = true;
      i += 2;
    } else if (isWord(tok, 'primary') && isWord(t[i + 1], 'key')) {
      primaryKey = true;
      i += 2;
    } else if (isWord(tok, 'default')) {
      const start = i + 1;
      i = start + 1;
      while (i < to && !(t[i]!.kind === 'word' && COLUMN_CONSTRAINT_START.has(t[i]!.value))) {
        i = isOp(t[i], '(') ? matchingParen(t, i) + 1 : i + 1;
      }
      defaultTokens = t.slice(start, Math.min(i, to));
    } else if (isWord(tok, 'generated')) {
      let j = i + 1;
      while (j < to && !isWord(t[j], 'as')) j++;
      if (isWord(t[j + 1], 'identity')) {
        identity = true;
        i = j + 2;
      } else if (isOp(t[j + 1], '(')) {
        const close = matchingParen(t, j + 1);
        if (isWord(t[close + 1], 'stored')) storedGenerated = true;
        i = close + 1;
      } else {
        i = j + 1;
      }
    } else {
      i = isOp(tok, '(') ? matchingParen(t, i) + 1 : i + 1;
    }
  }

  const defaultIsNull =
    defaultTokens !== null &&
    defaultTokens.length > 0 &&
    isWord(defaultTokens[0], 'null') &&
    (defaultTokens.length === 1 || isOp(defaultTokens[1], '::'));
  const hasDefault = (defaultTokens !== null && !defaultIsNull) || identity || serial || storedGenerated;
  const where = `${table}.${column}`;
  if ((notNull || primaryKey) && !hasDefault) {
    report(
      env,
      'adding-not-nullable-field',
      from,
      `Adding ${where} as ${primaryKey && !notNull ? 'PRIMARY KEY (so NOT NULL)' : 'NOT NULL'} without a DEFAULT fails as soon as ${table} has a row.`,
      `Add it nullable (or NOT NULL with a constant DEFAULT, instant on PG11+), backfill existing rows in batches, then add CHECK (${column} IS NOT NULL) NOT VALID, validate it, and SET NOT NULL in later migrations.`,
    );
  }
  let volatile: string | null = null;
  if (defaultTokens !== null) {
    for (let k = 0; k < defaultTokens.length; k++) {
      const tok = defaultTokens[k]!;
      if (
        (tok.kind === 'word' || tok.kind === 'ident') &&
        isOp(defaultTokens[k + 1], '(') &&
        isVolatileFunction(tok.value)
      ) {
        volatile = `DEFAULT ${tok.value}()`;
        break;
      }
    }
  }
  if (volatile === null && serial) volatile = `type ${typeWord!.value} (DEFAULT nextval())`;
  if (volatile === null && identity) volatile = 'an identity (one sequence value per row)';
  if (volatile === null && storedGenerated) volatile = 'a STORED generated expression (computed per row)';
  if (volatile !== null) {
    report(
      env,
      'adding-volatile-default',
      from,
      `Adding ${where} with ${volatile} evaluates it for every existing row, rewriting ${table} under an ACCESS EXCLUSIVE lock.`,
      'Add the column without a default (or with a constant or a stable one like now(), which PG11+ stores without a rewrite), then SET DEFAULT for new rows and backfill existing rows in batches.',
    );
  }
}

/** Whether a validated CHECK (column IS NOT NULL) on `table` was validated earlier in this file. */
function hasValidatedNotNullCheck(env: FileEnv, table: string, column: string): boolean {
  for (const key of env.validated) {
    const sep = key.indexOf('\u0000');
    if (key.slice(0, sep) !== table) continue;
    const known = env.checks.get(key);
    const name = key.slice(sep + 1);
    if (known === column || (known === undefined && name === notNullCheckName(table, column))) return true;
  }
  return false;
}

/** Ferry's name for the temporary not-null check (diff.ts). */
function notNullCheckName(table: string, column: string): string {
  return `${table}_${column}_not_null`.slice(0, 63);
}

/** The column of `CHECK (col IS NOT NULL)` (any number of parentheses) starting at the `(`, or null. */
function notNullColumn(t: Token[], open: number): string | null {
  if (!isOp(t[open], '(')) return null;
  let from = open;
  let to = matchingParen(t, open);
  while (isOp(t[from + 1], '(') && matchingParen(t, from + 1) === to - 1) {
    from++;
    to--;
  }
  const inner = t.slice(from + 1, to);
  const column = identAt(inner[0]);
  if (column === null) return null;
  if (inner.length === 4 && isWord(inner[1], 'is') && isWord(inner[2], 'not') && isWord(inner[3], 'null'))
    return column;
  if (inner.length === 2 && isWord(inner[1], 'notnull')) return column;
  return null;
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

// ------------------------------------------------------------------ token helpers

interface Token {
  kind: 'word' | 'ident' | 'string' | 'number' | 'op' | 'param';
  /** Words lower-cased; quoted identifiers and strings unescaped; operators as written. */
  value: string;
  /** Index in the statement text. */
  start: number;
  /** Index just past the token. */
  end: number;
}

function isWord(tok: Token | undefined, ...words: string[]): boolean {
  return tok !== undefined && tok.kind === 'word' && words.includes(tok.value);
}

function isOp(tok: Token | undefined, op: string): boolean {
  return tok !== undefined && tok.kind === 'op' && tok.value === op;
}

function isFalse(tok: Token | undefined): boolean {
  return (
    isWord(tok, 'false', 'off') ||
    (tok !== undefined && (tok.kind === 'number' || tok.kind === 'string') && /^(?:0|false|off)$/i.test(tok.value))
  );
}

/** An identifier (unquoted word folded to lower case, or a quoted one as written). */
function identAt(tok: Token | undefined): string | null {
  return tok !== undefined && (tok.kind === 'word' || tok.kind === 'ident') ? tok.value : null;
}

/** A possibly schema-qualified name at `i`: its last part, and the index after it. */
function qualifiedName(t: Token[], i: number): { name: string; next: number } | null {
  let name = identAt(t[i]);
  if (name === null) return null;
  let next = i + 1;
  while (isOp(t[next], '.') && identAt(t[next + 1]) !== null) {
    name = identAt(t[next + 1])!;
    next += 2;
  }
  return { name, next };
}

/** Index of the `)` matching the `(` at `open` (or the last token when unbalanced). */
function matchingParen(t: Token[], open: number): number {
  let depth = 0;
  for (let k = open; k < t.length; k++) {
    if (isOp(t[k], '(')) depth++;
    else if (isOp(t[k], ')') && --depth === 0) return k;
  }
  return t.length - 1;
}

/** First unquoted `word` at parenthesis depth 0 at or after `from`, or -1. */
function findWord(t: Token[], word: string, from: number): number {
  let depth = 0;
  for (let k = from; k < t.length; k++) {
    if (isOp(t[k], '(')) depth++;
    else if (isOp(t[k], ')')) depth--;
    else if (depth === 0 && isWord(t[k], word)) return k;
  }
  return -1;
}

/** [from, to) ranges separated by commas at depth 0. */
function splitTopLevel(t: Token[], from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  let depth = 0;
  let start = from;
  for (let k = from; k < to; k++) {
    if (isOp(t[k], '(') || isOp(t[k], '[')) depth++;
    else if (isOp(t[k], ')') || isOp(t[k], ']')) depth--;
    else if (depth === 0 && isOp(t[k], ',')) {
      if (k > start) out.push([start, k]);
      start = k + 1;
    }
  }
  if (to > start) out.push([start, to]);
  return out;
}

function hasSequence(t: Token[], from: number, to: number, words: string[]): boolean {
  let depth = 0;
  for (let k = from; k < to; k++) {
    if (isOp(t[k], '(')) depth++;
    else if (isOp(t[k], ')')) depth--;
    else if (depth === 0 && words.every((w, n) => isWord(t[k + n], w))) return true;
  }
  return false;
}

/** The source text of a type, from `at` up to USING / COLLATE or the end of the action. */
function typeText(env: FileEnv, at: number, to: number): string {
  const t = env.tokens;
  let end = at;
  while (end < to && !isWord(t[end], 'using', 'collate')) end++;
  if (end === at) return '';
  return env.statement.text
    .slice(t[at]!.start, t[end - 1]!.end)
    .replace(/\s+/g, ' ')
    .trim();
}

const STATEMENT_KEYWORDS = new Set([
  'alter',
  'cluster',
  'constraint',
  'create',
  'drop',
  'index',
  'lock',
  'or',
  'reindex',
  'replace',
  'table',
  'trigger',
  'truncate',
  'unique',
]);

/** `CREATE UNIQUE INDEX`, `ALTER TABLE`...: the statement's leading keywords. */
function firstWords(t: Token[]): string {
  const words: string[] = [];
  for (const tok of t) {
    if (tok.kind !== 'word' || !STATEMENT_KEYWORDS.has(tok.value)) break;
    words.push(tok.value.toUpperCase());
  }
  return words.join(' ') || 'This statement';
}

// ------------------------------------------------------------------ tokenizer

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;
const NUMBER = /(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?/y;
const OPERATOR_CHARS = /[+\-*/<>=~!@#%^&|`?]/;

/** Tokens of one statement; comments and whitespace are skipped. */
function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i);
    } else if (c === "'") {
      const to = skipQuoted(sql, i, "'", false);
      out.push({ kind: 'string', value: unquote(sql.slice(i, to), "'"), start: i, end: to });
      i = to;
    } else if (c === '"') {
      const to = skipQuoted(sql, i, '"', false);
      out.push({ kind: 'ident', value: unquote(sql.slice(i, to), '"'), start: i, end: to });
      i = to;
    } else if (c === '$') {
      DOLLAR_TAG.lastIndex = i;
      const m = DOLLAR_TAG.exec(sql);
      if (m) {
        const close = sql.indexOf(m[0], i + m[0].length);
        const to = close < 0 ? n : close + m[0].length;
        out.push({ kind: 'string', value: sql.slice(i + m[0].length, close < 0 ? n : close), start: i, end: to });
        i = to;
      } else {
        let to = i + 1;
        while (to < n && /[0-9]/.test(sql[to]!)) to++;
        out.push({ kind: 'param', value: sql.slice(i, to), start: i, end: to });
        i = to;
      }
    } else if (WORD_START.test(c)) {
      let to = i + 1;
      while (to < n && WORD_PART.test(sql[to]!)) to++;
      const word = sql.slice(i, to).toLowerCase();
      if ((word === 'e' || word === 'b' || word === 'x' || word === 'n') && sql[to] === "'") {
        const end = skipQuoted(sql, to, "'", word === 'e');
        out.push({ kind: 'string', value: unquote(sql.slice(to, end), "'"), start: i, end });
        i = end;
      } else if (word === 'u' && sql[to] === '&' && (sql[to + 1] === "'" || sql[to + 1] === '"')) {
        const quote = sql[to + 1]!;
        const end = skipQuoted(sql, to + 1, quote, false);
        out.push({
          kind: quote === '"' ? 'ident' : 'string',
          value: unquote(sql.slice(to + 1, end), quote),
          start: i,
          end,
        });
        i = end;
      } else {
        out.push({ kind: 'word', value: word, start: i, end: to });
        i = to;
      }
    } else if (/[0-9]/.test(c) || (c === '.' && next !== undefined && /[0-9]/.test(next))) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(sql);
      const to = m ? i + m[0].length : i + 1;
      out.push({ kind: 'number', value: sql.slice(i, to), start: i, end: to });
      i = to;
    } else if (c === ':' && next === ':') {
      out.push({ kind: 'op', value: '::', start: i, end: i + 2 });
      i += 2;
    } else if (OPERATOR_CHARS.test(c)) {
      let to = i + 1;
      while (to < n && OPERATOR_CHARS.test(sql[to]!) && !(sql[to] === '-' && sql[to + 1] === '-')) {
        if (sql[to] === '/' && sql[to + 1] === '*') break;
        to++;
      }
      out.push({ kind: 'op', value: sql.slice(i, to), start: i, end: to });
      i = to;
    } else {
      out.push({ kind: 'op', value: c, start: i, end: i + 1 });
      i++;
    }
  }
  return out;
}

function unquote(raw: string, quote: string): string {
  const body = raw.endsWith(quote) && raw.length >= 2 ? raw.slice(1, -1) : raw.slice(1);
  return body.replaceAll(quote + quote, quote);
}
