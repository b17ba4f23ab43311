import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import { E_BAD_ARGUMENT, E_BAD_CURSOR, E_INVALID_VALUE, FerryError } from '../errors.js';
import type { Table } from '../schema/table.js';
import { columnOf, validateValue } from '../schema/validate.js';
import type { Direction, OrderBy } from './types.js';

export interface KeysetKey {
  column: string;
  direction: Direction;
  nullable: boolean;
}

/** The sort keys for a keyset query: the requested order, then the primary key as tie-breaker. */
export function resolveOrder(table: Table, orderBy: OrderBy<Table>, pk: string[]): KeysetKey[] {
  if (typeof orderBy !== 'object' || orderBy === null) {
    throw new FerryError(
      E_BAD_ARGUMENT,
      `orderBy on ${table.name} must be an object ({ created_at: 'desc' }) or an array ([['created_at', 'desc'], 'id']), got ${typeof orderBy}.`,
    );
  }
  const pairs: [string, Direction][] = Array.isArray(orderBy)
    ? orderBy.map((o: unknown) => {
        if (typeof o === 'string') return [o, 'asc'];
        if (Array.isArray(o) && o.length === 2) return [o[0], o[1]];
        throw new FerryError(
          E_BAD_ARGUMENT,
          `orderBy on ${table.name}: each entry is a column name or a [column, 'asc' | 'desc'] pair, got ${Array.isArray(o) ? `an array of ${o.length}` : o === null ? 'null' : typeof o}.`,
        );
      })
    : Object.entries(orderBy as Record<string, Direction | undefined>).filter((e): e is [string, Direction] => !!e[1]);
  const keys: KeysetKey[] = [];
  for (const [name, direction] of pairs) {
    if (direction !== 'asc' && direction !== 'desc') {
      throw new FerryError(
        E_BAD_ARGUMENT,
        `orderBy ${name}: direction must be 'asc' or 'desc', got ${typeof direction === 'string' ? `'${direction}'` : typeof direction}.`,
      );
    }
    const column = columnOf(table, name);
    if (column.def.type === 'json') {
      // Only jsonb has an ordering (json has no comparison operators at all); Postgres would refuse the ORDER BY.
      throw new FerryError(
        E_BAD_ARGUMENT,
        `orderBy ${table.name}.${name}: a json column cannot be sorted (jsonb can); order by another column.`,
      );
    }
    if (!keys.some((k) => k.column === name))
      keys.push({ column: name, direction, nullable: !column.def.notNull && !pk.includes(name) });
  }
  for (const name of pk)
    if (!keys.some((k) => k.column === name)) keys.push({ column: name, direction: 'asc', nullable: false });
  return keys;
}

type AnyEB = ExpressionBuilder<any, any>;

/**
 * Rows strictly after `values` in the order of `keys`, matching Postgres's
 * default NULL placement (NULLS LAST for ASC, NULLS FIRST for DESC).
 * When every key is NOT NULL and sorts the same way, a row comparison
 * `(a, b) > (x, y)` is used, which a matching composite index can serve.
 */
export function keysetPredicate(eb: AnyEB, keys: KeysetKey[], values: unknown[]): Expression<SqlBool> {
  const sameDirection = keys.every((k) => k.direction === keys[0]!.direction);
  if (sameDirection && keys.every((k) => !k.nullable) && values.every((v) => v !== null)) {
    const op = keys[0]!.direction === 'asc' ? '>' : '<';
    const cols = sql.join(keys.map((k) => sql.ref(k.column)));
    const vals = sql.join(values.map((v) => sql.val(v)));
    return sql<SqlBool>`(${cols}) ${sql.raw(op)} (${vals})`;
  }
  const branches = keys.map((key, i): Expression<SqlBool> | null => {
    const equalBefore = keys.slice(0, i).map((k, j) => equal(eb, k.column, values[j]));
    const after = strictlyAfter(eb, key, values[i]);
    return after === false ? null : eb.and([...equalBefore, after]);
  });
  const live = branches.filter((b): b is Expression<SqlBool> => b !== null);
  return live.length === 0 ? sql<SqlBool>`false` : eb.or(live);
}

function equal(eb: AnyEB, column: string, value: unknown): Expression<SqlBool> {
  return value === null || value === undefined ? eb(column, 'is', null) : eb(column, '=', value);
}

function strictlyAfter(eb: AnyEB, key: KeysetKey, value: unknown): Expression<SqlBool> | false {
  const isNull = value === null || value === undefined;
  if (key.direction === 'asc') {
    // NULLS LAST: nothing sorts after NULL; NULLs sort after every value.
    if (isNull) return false;
    const greater = eb(key.column, '>', value);
    return key.nullable ? eb.or([greater, eb(key.column, 'is', null)]) : greater;
  }
  // DESC, NULLS FIRST: every value sorts after NULL.
  if (isNull) return eb(key.column, 'is not', null);
  return eb(key.column, '<', value);
}

/** Cursor = base64url JSON of the order signature and the last row's key values. */
export function encodeCursor(keys: KeysetKey[], values: unknown[]): string {
  const payload = { o: signature(keys), v: values.map(encodeValue) };
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

/**
 * The key values of a cursor, checked as strictly as a value the app wrote:
 * a cursor comes back from a client, so anything that does not decode to one
 * valid value per key (edited, truncated, made for another order) is an
 * E_BAD_CURSOR before any SQL is built.
 */
export function decodeCursor(table: Table, cursor: string, keys: KeysetKey[]): unknown[] {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor(table, 'it does not decode');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw badCursor(table, 'it does not decode');
  }
  const { o, v } = payload as { o?: unknown; v?: unknown };
  if (o !== signature(keys)) throw badCursor(table, 'it was made for a different orderBy');
  if (!Array.isArray(v) || v.length !== keys.length) throw badCursor(table, 'it does not hold one value per key');
  return keys.map((key, i) => {
    const value = decodeValue(v[i]);
    if (value === BAD) throw badCursor(table, `its ${key.column} value does not decode`);
    try {
      checkKeyValue(table, key, value);
    } catch (err) {
      throw badCursor(table, `its ${key.column} value is not a valid ${key.column}`, err);
    }
    return value;
  });
}

/**
 * Check one `after` value for its key column: a single valid value (a list
 * would compile to a row constructor), null only where the column can hold it.
 */
export function checkKeyValue(table: Table, key: KeysetKey, value: unknown): void {
  const column = table.columns[key.column]!;
  if (value === null || value === undefined) {
    if (key.nullable) return;
    throw new FerryError(
      E_INVALID_VALUE,
      `after: ${table.name}.${key.column} cannot be null (it is NOT NULL or part of the key).`,
      { details: { table: table.name, column: key.column } },
    );
  }
  validateValue(table, column, value, 'compare', ' (in after)');
}

function badCursor(table: Table, why: string, cause?: unknown): FerryError {
  return new FerryError(
    E_BAD_CURSOR,
    `after: the cursor is not one Ferry produced for this query on ${table.name} (${why}); start again from the first page without it.`,
    { cause, details: { table: table.name } },
  );
}

const signature = (keys: KeysetKey[]) => keys.map((k) => `${k.column}:${k.direction}`).join(',');

const BAD = Symbol('bad cursor value');

function encodeValue(v: unknown): unknown {
  if (v instanceof Date) return { $date: v.toISOString() };
  if (typeof v === 'bigint') return { $bigint: v.toString() };
  // JSON has no ±Infinity/NaN (they would become null): ±infinity timestamps, float NaN.
  if (typeof v === 'number' && !Number.isFinite(v)) return { $num: String(v) };
  return v;
}

function decodeValue(v: unknown): unknown {
  if (v && typeof v === 'object' && '$date' in v) {
    const text = (v as { $date: unknown }).$date;
    const date = typeof text === 'string' ? new Date(text) : null;
    return date && !Number.isNaN(date.getTime()) ? date : BAD;
  }
  if (v && typeof v === 'object' && '$bigint' in v) {
    const text = (v as { $bigint: unknown }).$bigint;
    return typeof text === 'string' && /^-?\d{1,20}$/.test(text) ? BigInt(text) : BAD;
  }
  if (v && typeof v === 'object' && '$num' in v) {
    const text = (v as { $num: unknown }).$num;
    return text === 'Infinity' || text === '-Infinity' || text === 'NaN' ? Number(text) : BAD;
  }
  return v;
}
