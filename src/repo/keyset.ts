import { type Expression, type ExpressionBuilder, type SqlBool, sql } from 'kysely';
import { E_BAD_ARGUMENT, FerryError } from '../errors.js';
import type { Table } from '../schema/table.js';
import { columnOf } from '../schema/validate.js';
import type { Direction, OrderBy } from './types.js';

export interface KeysetKey {
  column: string;
  direction: Direction;
  nullable: boolean;
}

/** The sort keys for a keyset query: the requested order, then the primary key as tie-breaker. */
export function resolveOrder(table: Table, orderBy: OrderBy<Table>, pk: string[]): KeysetKey[] {
  const pairs: [string, Direction][] = Array.isArray(orderBy)
    ? orderBy.map((o) => (typeof o === 'string' ? [o, 'asc'] : [o[0], o[1]]))
    : Object.entries(orderBy as Record<string, Direction | undefined>).filter((e): e is [string, Direction] => !!e[1]);
  const keys: KeysetKey[] = [];
  for (const [name, direction] of pairs) {
    if (direction !== 'asc' && direction !== 'desc') {
      throw new FerryError(
        E_BAD_ARGUMENT,
        `orderBy ${name}: direction must be 'asc' or 'desc', got ${String(direction)}.`,
      );
    }
    const column = columnOf(table, name);
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

export function decodeCursor(cursor: string, keys: KeysetKey[]): unknown[] {
  let payload: { o?: unknown; v?: unknown };
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new FerryError(E_BAD_ARGUMENT, 'after: the cursor is not one Ferry produced (it does not decode).');
  }
  if (payload.o !== signature(keys) || !Array.isArray(payload.v) || payload.v.length !== keys.length) {
    throw new FerryError(E_BAD_ARGUMENT, 'after: the cursor was made for a different orderBy; start again without it.');
  }
  return payload.v.map(decodeValue);
}

const signature = (keys: KeysetKey[]) => keys.map((k) => `${k.column}:${k.direction}`).join(',');

function encodeValue(v: unknown): unknown {
  if (v instanceof Date) return { $date: v.toISOString() };
  if (typeof v === 'bigint') return { $bigint: v.toString() };
  return v;
}

function decodeValue(v: unknown): unknown {
  if (v && typeof v === 'object' && '$date' in v) return new Date(String((v as { $date: unknown }).$date));
  if (v && typeof v === 'object' && '$bigint' in v) return BigInt(String((v as { $bigint: unknown }).$bigint));
  return v;
}
