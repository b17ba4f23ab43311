/**
 * The migration runner's execution of a plan, on the locked connection.
 *
 * Each transactional migration runs as one transaction: SET LOCAL lock and
 * statement timeouts, the file's statements one by one (so a failure names
 * its statement exactly), the history row, COMMIT. Any failure rolls all of
 * it back and stops the run. A no-transaction migration runs its single
 * statement with session-level timeouts (restored afterwards), then records
 * its history row.
 */
import path from 'node:path';
import { type Kysely, sql } from 'kysely';
import type { FerryErrorDetailsMap } from '../errors.js';
import { E_MIGRATION_FAILED } from './errors.js';
import { type MigrationFile, parseSqlFile } from './files.js';
import { deleteHistory, insertHistory } from './history.js';
import { charOffsetToIndex, lineOfIndex, type SqlStatement } from './sql-split.js';

/** A migration's failure in a run result: the same facts a thrown E_MIGRATION_FAILED carries as `details`. */
export type MigrationError = FailureFacts & {
  /** E_MIGRATION_FAILED. */
  code: typeof E_MIGRATION_FAILED;
};
type FailureFacts = FerryErrorDetailsMap[typeof E_MIGRATION_FAILED];

export interface MigrationResult {
  id: string;
  direction: 'up' | 'down';
  status: 'applied' | 'reverted' | 'failed' | 'skipped' | 'baselined';
  durationMs: number;
  error?: MigrationError;
}

export interface RunResult {
  results: MigrationResult[];
  /** False when a migration failed. */
  ok: boolean;
}

/** What running a migration needs from the Migrator's resolved options. */
export interface ExecSettings {
  /** The history table, for messages. */
  table: string;
  /** `"schema"."table"` / `"table"`, for SQL text. */
  tableSql: string;
  appliedBy: string;
  statementLockTimeoutMs: number;
  statementTimeoutMs: number;
}

/** A failure inside a migration, carried to the rollback point. */
class StepFailure {
  constructor(
    readonly cause: unknown,
    readonly statement: string,
    readonly line: number | null,
  ) {}
}

export async function runPlan(
  conn: Kysely<any>,
  plan: MigrationFile[],
  direction: 'up' | 'down',
  o: ExecSettings,
): Promise<RunResult> {
  const results: MigrationResult[] = [];
  let failed = false;
  for (const f of plan) {
    if (failed) {
      results.push({ id: f.id, direction, status: 'skipped', durationMs: 0 });
      continue;
    }
    const result = await runOne(conn, f, direction, o);
    results.push(result);
    if (result.status === 'failed') failed = true;
  }
  return { results, ok: !failed };
}

async function runOne(
  conn: Kysely<any>,
  f: MigrationFile,
  direction: 'up' | 'down',
  o: ExecSettings,
): Promise<MigrationResult> {
  const file = path.join(f.dir, direction === 'up' ? 'up.sql' : 'down.sql');
  const text = direction === 'up' ? f.up : f.down!;
  // Parsed again (cheap) for the statements; readMigrations already validated it.
  const { statements, noTransaction } = parseSqlFile(file, text);
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const record = async () => {
    if (direction === 'up') await insertHistory(conn, o.tableSql, f, elapsed(), o.appliedBy);
    else await deleteHistory(conn, o.tableSql, f);
  };
  const done = (): MigrationResult => ({
    id: f.id,
    direction,
    status: direction === 'up' ? 'applied' : 'reverted',
    durationMs: Math.round(elapsed()),
  });
  const failedResult = (failure: StepFailure): MigrationResult => ({
    id: f.id,
    direction,
    status: 'failed',
    durationMs: Math.round(elapsed()),
    error: describeFailure(failure, file, noTransaction),
  });

  if (noTransaction) {
    let saved: { lt: string; st: string } | undefined;
    try {
      const { rows } = await sql<{ lt: string; st: string }>`
        select current_setting('lock_timeout') as lt, current_setting('statement_timeout') as st`.execute(conn);
      saved = rows[0];
      await sql.raw(timeoutSql(o, false)).execute(conn);
      const stmt = statements[0]!;
      await runStatement(conn, stmt);
    } catch (err) {
      return failedResult(toFailure(err));
    } finally {
      if (saved) {
        await sql`select set_config('lock_timeout', ${saved.lt}, false), set_config('statement_timeout', ${saved.st}, false)`
          .execute(conn)
          .catch(() => {});
      }
    }
    try {
      await record();
    } catch (err) {
      return failedResult(
        new StepFailure(err, `(recording ${f.id} in ${o.table}; the statement itself did run)`, null),
      );
    }
    return done();
  }

  try {
    await sql.raw('begin').execute(conn);
  } catch (err) {
    return failedResult(new StepFailure(err, 'BEGIN', null));
  }
  try {
    await sql.raw(timeoutSql(o, true)).execute(conn);
    for (const stmt of statements) await runStatement(conn, stmt);
    try {
      await record();
    } catch (err) {
      throw new StepFailure(err, `(recording ${f.id} in ${o.table})`, null);
    }
    try {
      await sql.raw('commit').execute(conn);
    } catch (err) {
      throw new StepFailure(err, 'COMMIT', null);
    }
    return done();
  } catch (err) {
    await sql
      .raw('rollback')
      .execute(conn)
      .catch(() => {});
    return failedResult(toFailure(err));
  }
}

function timeoutSql(o: ExecSettings, local: boolean): string {
  const scope = local ? 'set local' : 'set';
  return (
    `${scope} lock_timeout = ${o.statementLockTimeoutMs}; ` + `${scope} statement_timeout = ${o.statementTimeoutMs}`
  );
}

async function runStatement(conn: Kysely<any>, stmt: SqlStatement): Promise<void> {
  try {
    await sql.raw(stmt.text).execute(conn);
  } catch (err) {
    const pos = Number((err as { position?: unknown })?.position);
    let line = stmt.line;
    if (Number.isInteger(pos) && pos >= 1) {
      const index = charOffsetToIndex(stmt.text, pos - 1);
      line = stmt.line + lineOfIndex(stmt.text, index) - 1;
    }
    throw new StepFailure(err, stmt.text, line);
  }
}

function toFailure(err: unknown): StepFailure {
  return err instanceof StepFailure ? err : new StepFailure(err, '(setting up the migration)', null);
}

function describeFailure(failure: StepFailure, file: string, noTransaction: boolean): MigrationError {
  const e = failure.cause as { code?: unknown; message?: unknown; detail?: unknown; hint?: unknown } | undefined;
  const sqlstate = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  const error: MigrationError = {
    code: E_MIGRATION_FAILED,
    file,
    statement: failure.statement,
    line: failure.line,
    message: typeof e?.message === 'string' ? e.message : String(failure.cause),
  };
  if (sqlstate) error.sqlstate = sqlstate;
  if (typeof e?.detail === 'string' && e.detail) error.detail = e.detail;
  let hint = typeof e?.hint === 'string' && e.hint ? e.hint : undefined;
  if (sqlstate === '25001' && !noTransaction) {
    hint = `This statement cannot run in a transaction: put it alone in a migration whose first line is "-- ferry:no-transaction".`;
  } else if (sqlstate === '55P03') {
    hint =
      'A lock could not be taken within statementLockTimeoutMs; something holds a conflicting lock. Retry, or raise the option.';
  } else if (sqlstate === '57014') {
    hint ??= 'Canceled, probably by statementTimeoutMs; raise it for slow migrations.';
  }
  if (noTransaction) {
    const partial =
      'The migration ran without a transaction, so check for partial effects (e.g. an INVALID index left by CREATE INDEX CONCURRENTLY: drop it before retrying).';
    hint = hint ? `${hint} ${partial}` : partial;
  }
  if (hint) error.hint = hint;
  return error;
}
