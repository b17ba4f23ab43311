import { E_CONSTRAINT, E_INVALID_VALUE, FerryError } from '../errors.js';

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
export function translateDbError(err: unknown, table: string): unknown {
  if (err instanceof FerryError || typeof err !== 'object' || err === null) return err;
  const e = err as PgLikeError;
  const code = typeof e.code === 'string' ? e.code : '';
  const details = { sqlstate: code, table: e.table ?? table, constraint: e.constraint, column: e.column };
  const kind = CONSTRAINTS[code];
  if (kind) {
    const what = e.constraint ? ` (${e.constraint})` : '';
    return new FerryError(
      E_CONSTRAINT,
      `${table}: ${kind} constraint${what} violated: ${e.detail ?? e.message ?? ''}`.trim(),
      { cause: err, details },
    );
  }
  // Class 22: data exceptions (bad input syntax, out of range, too long...).
  if (code.startsWith('22')) {
    return new FerryError(E_INVALID_VALUE, `${table}: ${e.message ?? 'invalid value'}`, { cause: err, details });
  }
  return err;
}
