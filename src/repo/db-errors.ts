import { E_CONSTRAINT, E_INVALID_VALUE, FerryError } from '../errors.js';
import { maskDbText, sensitiveColumns } from '../schema/sensitive.js';
import type { Table } from '../schema/table.js';

interface PgLikeError {
  code?: string;
  message?: string;
  detail?: string;
  constraint?: string;
  column?: string;
  table?: string;
}

const CONSTRAINTS: Record<string, string> = {
  '23505': 'unique',
  '23503': 'foreign key',
  '23502': 'not-null',
  '23514': 'check',
  '23P01': 'exclusion',
};

/**
 * Turn a server error from a repository call into a FerryError naming the
 * table and constraint; SQLSTATE stays in `details.sqlstate`. Errors that are
 * not about the data (connection loss, syntax) pass through unchanged.
 */
export function translateDbError(err: unknown, tableOrName: string | Table): unknown {
  if (err instanceof FerryError || typeof err !== 'object' || err === null) return err;
  const table = typeof tableOrName === 'string' ? tableOrName : tableOrName.name;
  const { e, cause } =
    typeof tableOrName !== 'string' && sensitiveColumns(tableOrName).size > 0
      ? masked(err as PgLikeError, tableOrName)
      : { e: err as PgLikeError, cause: err };
  const code = typeof e.code === 'string' ? e.code : '';
  const details = { sqlstate: code, table: e.table ?? table, constraint: e.constraint, column: e.column };
  const kind = CONSTRAINTS[code];
  if (kind) {
    const what = e.constraint ? ` (${e.constraint})` : '';
    return new FerryError(
      E_CONSTRAINT,
      `${table}: ${kind} constraint${what} violated: ${e.detail ?? e.message ?? ''}`.trim(),
      { cause, details },
    );
  }
  // Class 22: data exceptions (bad input syntax, out of range, too long...).
  if (code.startsWith('22')) {
    return new FerryError(E_INVALID_VALUE, `${table}: ${e.message ?? 'invalid value'}`, { cause, details });
  }
  return err;
}

/**
 * For a table with `.sensitive()` columns: the error's message and detail
 * with their values masked, and as `cause` a copy carrying only those (the
 * driver's error holds the detail, and util.inspect shows causes).
 */
function masked(err: PgLikeError, table: Table): { e: PgLikeError; cause: Error } {
  const e: PgLikeError = {
    code: err.code,
    message: err.message === undefined ? undefined : maskDbText(err.message, table),
    detail: err.detail === undefined ? undefined : maskDbText(err.detail, table),
    constraint: err.constraint,
    column: err.column,
    table: err.table,
  };
  const cause = Object.assign(new Error(e.message ?? 'database error'), e);
  cause.name = err instanceof Error ? err.name : 'Error';
  return { e, cause };
}
