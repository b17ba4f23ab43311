/**
 * Session temp tables that batches are COPied into, and the bisection that
 * isolates a bad row when a COPY or an INSERT fails.
 */
import { type CopyAround, isConnectionLoss, type RawSession } from '../db/session.js';
import { quoteIdent } from '../schema/identifiers.js';
import { maskDbText, maskRow, sensitiveValues } from '../schema/sensitive.js';
import { COPY_CSV_OPTIONS, csvLineFields } from './encode.js';
import { type Group, snippet } from './prepare.js';
import type { RejectRow } from './state.js';
import { isCanceled } from './statement-timeout.js';
import type { Target } from './targets.js';

/** One index-free temp table per target, named by `prefix` + load order, with `_ferry_n` numbering rows. */
export async function createStaging(session: RawSession, targets: Target[], prefix = 'ferry_stage_'): Promise<void> {
  const statements = targets.map((t) => {
    const cols = [...t.writable].map(quoteIdent).join(', ');
    const name = `${prefix}${t.order}`;
    return (
      `drop table if exists pg_temp.${name};\n` +
      `create temp table ${name} as select ${cols} from ${quoteIdent(t.name)} with no data;\n` +
      `alter table ${name} add column _ferry_n integer`
    );
  });
  await session.query(statements.join(';\n'));
}

export async function copyGroup(
  session: RawSession,
  target: Target,
  group: Group,
  first: number,
  rejects: RejectRow[],
  table = target.staging,
) {
  const cols = [...group.columns.map(quoteIdent), '_ferry_n'].join(', ');
  const sql = `copy ${table} (${cols}) from stdin with (${COPY_CSV_OPTIONS})`;
  const copy = async (lo: number, hi: number): Promise<number> => {
    await session.copyIn(sql, group.lines.pieces(lo, hi, first));
    return hi - lo + 1;
  };
  return bisect(session, 0, group.lines.length - 1, copy, (i, err) => {
    rejects.push(dbReject(target, group, i, err));
  });
}

/** COPY the whole group straight into its target, in one statement: it fails whole on any bad row. */
export async function copyIntoTarget(
  session: RawSession,
  target: Target,
  group: Group,
  around?: CopyAround,
): Promise<void> {
  const cols = group.columns.map(quoteIdent).join(', ');
  const sql = `copy ${quoteIdent(target.name)} (${cols}) from stdin with (${COPY_CSV_OPTIONS})`;
  await session.copyIn(sql, group.lines.pieces(0, group.lines.length - 1), around);
}

/**
 * Run `attempt(lo, hi)` in a savepoint; when it fails for a reason other than
 * a lost connection, split the range in two and retry each half, until single
 * bad items are left for `reject` (pgloader's approach). Returns how many
 * items went through.
 *
 * `setApart(lo, hi, err)`, when given, may deal with the failure's cause
 * itself (reject rows it can name, which `attempt` then leaves out) and
 * return true: the range is tried once more whole instead of halved.
 */
export async function bisect(
  session: RawSession,
  lo: number,
  hi: number,
  attempt: (lo: number, hi: number) => Promise<number>,
  reject: (index: number, err: unknown) => void,
  setApart?: (lo: number, hi: number, err: unknown) => Promise<boolean>,
): Promise<number> {
  await session.query('savepoint ferry_bisect');
  try {
    const n = await attempt(lo, hi);
    await session.query('release savepoint ferry_bisect');
    return n;
  } catch (err) {
    // A cancelled statement (statement_timeout) says nothing about the rows: never split and reject over it.
    if (isConnectionLoss(err) || isCanceled(err)) throw err;
    await session.query('rollback to savepoint ferry_bisect; release savepoint ferry_bisect');
    if (setApart && (await setApart(lo, hi, err))) return bisect(session, lo, hi, attempt, reject);
    if (lo === hi) {
      reject(lo, err);
      return 0;
    }
    const mid = Math.floor((lo + hi) / 2);
    return (await bisect(session, lo, mid, attempt, reject)) + (await bisect(session, mid + 1, hi, attempt, reject));
  }
}

/** A row of `group` the database refused, as a reject. */
export function dbReject(target: Target, group: Group, index: number, err: unknown): RejectRow {
  const meta = group.meta.at(index);
  const fields = csvLineFields(group.lines.line(index));
  const e = (err ?? {}) as { code?: string; message?: string; detail?: string; column?: string; constraint?: string };
  const detail = e.detail ? ` (${e.detail})` : '';
  const row = Object.fromEntries(group.columns.map((c, k) => [c, fields[k] ?? null]));
  return {
    ordinal: meta.ordinal,
    rowIndex: meta.rowIndex,
    location: meta.loc,
    table: target.name,
    column: e.column ?? null,
    // Postgres echoes values (`Key (token)=(…)`, `Failing row contains (…)`): `.sensitive()` ones are masked.
    reason: maskDbText(
      `${e.message ?? 'rejected by the database'}${detail}`,
      target.table,
      sensitiveValues(target.table, row),
    ),
    sqlstate: e.code ?? null,
    record: snippet(maskRow(target.table, row)),
  };
}
