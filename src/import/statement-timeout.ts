/**
 * The `statement_timeout` of `ferry import` and `ferry verify`, and what a
 * timeout says when it fires.
 *
 * Why their own: the pool's default (30 s, FERRY_STATEMENT_TIMEOUT_MS) is
 * sized for an application's queries. An import's statements are bounded by
 * its batch (a COPY and an INSERT … SELECT of up to 5,000 records), but
 * verify's compare a whole table in one statement, whose time grows with the
 * table: 30 s cut verify of a 200k-message import short. Both set their own
 * for the session they hold (10 minutes by default: far above what a sound
 * plan needs at tens of millions of rows, short enough that a runaway one
 * does not run for hours) and put the pool's back when done.
 *
 * PGlite accepts `statement_timeout` but does not enforce it (no timer
 * signal in its single-threaded WASM build): there the setting is a no-op.
 */
import type { RawSession } from '../db/session.js';
import { type Duration, toMs } from '../duration.js';
import { E_BAD_ARGUMENT, FerryError } from '../errors.js';
import { E_IMPORT_TIMEOUT } from './errors.js';

export const DEFAULT_STATEMENT_TIMEOUT_MS = 600_000;

type Command = 'import' | 'verify';

/** The timeout each held session runs with, for the message when it fires. */
const applied = new WeakMap<RawSession, { command: Command; ms: number }>();

/**
 * Set the session's `statement_timeout` (`timeout`: ms or e.g. '10m'; 0 =
 * none; default 10 minutes). Returns how to put the pool's setting back
 * (`RESET` restores the value the connection was opened with).
 */
export async function applyStatementTimeout(
  session: RawSession,
  command: Command,
  timeout: Duration | undefined,
): Promise<() => Promise<void>> {
  const ms = statementTimeoutMs(command, timeout);
  await session.query(`set statement_timeout = ${ms}`);
  applied.set(session, { command, ms });
  return async () => {
    applied.delete(session);
    await session.query('reset statement_timeout');
  };
}

export function statementTimeoutMs(command: Command, timeout: Duration | undefined): number {
  const fn = command === 'import' ? 'runImport' : 'verifyImport';
  return toMs(timeout ?? DEFAULT_STATEMENT_TIMEOUT_MS, `${fn} option statementTimeout`, E_BAD_ARGUMENT);
}

/** The server cancelled a statement for `statement_timeout` (SQLSTATE 57014, which a user's cancel shares). */
export function isStatementTimeout(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  return e?.code === QUERY_CANCELED && /statement timeout/i.test(e.message ?? '');
}

/**
 * 57014: the statement was cancelled (timeout or pg_cancel_backend). Never a
 * bad row: bisection must not split a batch over it and reject rows.
 */
export const QUERY_CANCELED = '57014';

export function isCanceled(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === QUERY_CANCELED;
}

/**
 * `err` as E_IMPORT_TIMEOUT naming `step` (and `table`) when it is a
 * statement timeout on `session`; else `err` unchanged.
 */
export function asStepTimeout(session: RawSession, err: unknown, step: string, table: string | null): unknown {
  if (!isStatementTimeout(err)) return err;
  const { command, ms } = applied.get(session) ?? { command: 'import' as Command, ms: 0 };
  const limit = ms > 0 ? `its statement timeout (${formatMs(ms)})` : 'the server’s statement_timeout';
  const head = command === 'import' ? 'The import stopped' : 'Verify stopped';
  const rerun =
    command === 'import'
      ? 'What committed is kept; rerun the import (it resumes)'
      : 'Nothing was changed; rerun verify';
  return new FerryError(
    E_IMPORT_TIMEOUT,
    `${head}: ${step} ran past ${limit} and the database cancelled it. ` +
      `${rerun} with a longer --statement-timeout (e.g. ${formatMs(Math.max(ms * 3, 1_800_000))}; 0 for none; ` +
      'the statementTimeout option in code). If the table is small, the plan is at fault: EXPLAIN the statement and report it.',
    { cause: err, details: { command, step, table, timeoutMs: ms } },
  );
}

/** Run `fn` as `step`: a statement timeout inside becomes E_IMPORT_TIMEOUT naming it. */
export async function inStep<T>(
  session: RawSession,
  step: string,
  table: string | null,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asStepTimeout(session, err, step, table);
  }
}

function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
