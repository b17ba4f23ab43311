/**
 * Keyset pagination over any table or view: the sort column, then the
 * primary key (else the row's physical address, else every column) so the
 * order is total; opaque cursors both ways.
 *
 * The predicate logic is the repositories' (src/repo/keyset.ts: NULLS LAST
 * for ASC, NULLS FIRST for DESC, a row comparison when it is exact) but not
 * its code: that one checks cursor values against a schema-module Table and
 * carries them as JS values, while Studio pages through tables no module
 * declares and must round-trip every type exactly (microsecond timestamps,
 * numerics, tids). So here a cursor carries each key's value as Postgres's
 * own text, read with the page (`key::text`), and compares it as
 * `key > $n::<type>`: nothing is parsed in JS, nothing is lost.
 */
import { type RawBuilder, sql } from 'kysely';
import { badRequest } from './http.js';

export interface SortKey {
  /** The key's SQL (`r."created_at"`, `r.ctid`). */
  expr: RawBuilder<unknown>;
  /** The type its cursor value is cast back to. */
  cast: string;
  direction: 'asc' | 'desc';
  nullable: boolean;
  /** For the cursor's signature: which key this is. */
  label: string;
}

const flip = (k: SortKey): SortKey => ({ ...k, direction: k.direction === 'asc' ? 'desc' : 'asc' });

/** The keys in reverse order of direction: a `before` page reads backwards, then is reversed. */
export function reversed(keys: SortKey[]): SortKey[] {
  return keys.map(flip);
}

export function orderBy(keys: SortKey[]): RawBuilder<unknown> {
  return sql.join(keys.map((k) => sql`${k.expr} ${sql.raw(k.direction)}`));
}

const val = (k: SortKey, v: string) => sql`${v}::${sql.raw(k.cast)}`;

/** Rows strictly after `values` (texts, null for NULL) in the order of `keys`. */
export function after(keys: SortKey[], values: (string | null)[]): RawBuilder<unknown> {
  const same = keys.every((k) => k.direction === keys[0]!.direction);
  if (same && keys.every((k) => !k.nullable) && values.every((v) => v !== null)) {
    const op = keys[0]!.direction === 'asc' ? '>' : '<';
    return sql`(${sql.join(keys.map((k) => k.expr))}) ${sql.raw(op)} (${sql.join(keys.map((k, i) => val(k, values[i]!)))})`;
  }
  const branches: RawBuilder<unknown>[] = [];
  keys.forEach((key, i) => {
    const v = values[i] ?? null;
    let tail: RawBuilder<unknown> | null;
    if (key.direction === 'asc') {
      // NULLS LAST: nothing sorts after NULL; NULLs sort after every value.
      tail =
        v === null
          ? null
          : key.nullable
            ? sql`(${key.expr} > ${val(key, v)} or ${key.expr} is null)`
            : sql`${key.expr} > ${val(key, v)}`;
    } else {
      tail = v === null ? sql`${key.expr} is not null` : sql`${key.expr} < ${val(key, v)}`;
    }
    if (tail === null) return;
    const equal = keys.slice(0, i).map((k, j) => {
      const w = values[j] ?? null;
      return w === null ? sql`${k.expr} is null` : sql`${k.expr} = ${val(k, w)}`;
    });
    branches.push(sql`(${sql.join([...equal, tail], sql` and `)})`);
  });
  if (branches.length === 0) return sql`false`;
  const any = sql`(${sql.join(branches, sql` or `)})`;
  // The OR alone gives an index on the keys no range to start from: bound the first key too.
  const first = keys[0]!;
  const v = values[0] ?? null;
  if (first.nullable || v === null) return any;
  return sql`${first.expr} ${sql.raw(first.direction === 'asc' ? '>=' : '<=')} ${val(first, v)} and ${any}`;
}

const signature = (table: string, keys: SortKey[]) =>
  `${table}|${keys.map((k) => `${k.label}:${k.direction}`).join(',')}`;

export function encodeCursor(table: string, keys: SortKey[], values: (string | null)[]): string {
  return Buffer.from(JSON.stringify({ s: signature(table, keys), v: values })).toString('base64url');
}

/** The key texts of a cursor made for this table and order; anything else is a clear 400. */
export function decodeCursor(table: string, keys: SortKey[], cursor: string): (string | null)[] {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    payload = null;
  }
  const p = payload as { s?: unknown; v?: unknown } | null;
  if (!p || typeof p !== 'object' || !Array.isArray(p.v)) {
    throw badRequest('The page cursor does not decode: start again from the first page.');
  }
  if (p.s !== signature(table, keys)) {
    throw badRequest('The page cursor was made for another table or sort order: start again from the first page.');
  }
  if (p.v.length !== keys.length || !p.v.every((x) => x === null || typeof x === 'string')) {
    throw badRequest('The page cursor does not hold one value per sort key: start again from the first page.');
  }
  return p.v as (string | null)[];
}
