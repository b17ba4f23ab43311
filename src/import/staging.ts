/**
 * Session temp tables that batches are COPied into, and the bisection that
 * isolates a bad row when a COPY or an INSERT fails.
 */
import { isConnectionLoss, type RawSession } from '../db/session.js';
import { quoteIdent } from '../schema/identifiers.js';
import { type Group, type PreparedRow, snippet } from './prepare.js';
import type { RejectRow } from './state.js';
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
  const sql = `copy ${table} (${cols}) from stdin with (format csv)`;
  const lineAt = (i: number) => `${group.lines[i]},${first + i}\n`;
  const copy = async (lo: number, hi: number): Promise<number> => {
    let payload = '';
    for (let i = lo; i <= hi; i++) payload += lineAt(i);
    await session.copyIn(sql, payload);
    return hi - lo + 1;
  };
  return bisect(session, 0, group.lines.length - 1, copy, (i, err) => {
    rejects.push(dbReject(target, group.meta[i] as PreparedRow, err));
  });
}

/**
 * Run `attempt(lo, hi)` in a savepoint; when it fails for a reason other than
 * a lost connection, split the range in two and retry each half, until single
 * bad items are left for `reject`. Returns how many items went through.
 *
 * `suspects(lo, hi, err)`, when given, may name items of a failed range that
 * fail whatever else is in their statement (a foreign key to another table
 * with no parent row): each is then tried alone and the stretches between
 * them are bisected, in order. The outcome is the one halving reaches (every
 * item still ends up in an attempt of its own or in a range that went
 * through), in one pass instead of a halving descent per bad item.
 */
export async function bisect(
  session: RawSession,
  lo: number,
  hi: number,
  attempt: (lo: number, hi: number) => Promise<number>,
  reject: (index: number, err: unknown) => void,
  suspects?: (lo: number, hi: number, err: unknown) => Promise<number[]>,
): Promise<number> {
  await session.query('savepoint ferry_bisect');
  try {
    const n = await attempt(lo, hi);
    await session.query('release savepoint ferry_bisect');
    return n;
  } catch (err) {
    if (isConnectionLoss(err)) throw err;
    await session.query('rollback to savepoint ferry_bisect; release savepoint ferry_bisect');
    if (lo === hi) {
      reject(lo, err);
      return 0;
    }
    const named = suspects ? await suspects(lo, hi, err) : [];
    if (named.some((i) => i >= lo && i <= hi)) return bisectAround(session, lo, hi, named, attempt, reject);
    const mid = Math.floor((lo + hi) / 2);
    return (await bisect(session, lo, mid, attempt, reject)) + (await bisect(session, mid + 1, hi, attempt, reject));
  }
}

/**
 * Items lo..hi in order: each of `named` (items expected to fail) in an
 * attempt of its own, the stretches between them bisected.
 */
export async function bisectAround(
  session: RawSession,
  lo: number,
  hi: number,
  named: readonly number[],
  attempt: (lo: number, hi: number) => Promise<number>,
  reject: (index: number, err: unknown) => void,
): Promise<number> {
  let done = 0;
  let at = lo;
  for (const i of [...new Set(named)].filter((i) => i >= lo && i <= hi).sort((a, b) => a - b)) {
    if (i > at) done += await bisect(session, at, i - 1, attempt, reject);
    done += await bisect(session, i, i, attempt, reject);
    at = i + 1;
  }
  if (at <= hi) done += await bisect(session, at, hi, attempt, reject);
  return done;
}

export function dbReject(target: Target, meta: PreparedRow, err: unknown): RejectRow {
  const e = (err ?? {}) as { code?: string; message?: string; detail?: string; column?: string; constraint?: string };
  const detail = e.detail ? ` (${e.detail})` : '';
  return {
    ordinal: meta.ordinal,
    rowIndex: meta.rowIndex,
    location: meta.loc,
    table: target.name,
    column: e.column ?? null,
    reason: `${e.message ?? 'rejected by the database'}${detail}`,
    sqlstate: e.code ?? null,
    record: snippet(meta.value),
  };
}
