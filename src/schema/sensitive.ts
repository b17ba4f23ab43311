/**
 * Masking of `.sensitive()` column values (password hashes, tokens) in what
 * Ferry reports: import rejects, validation messages, constraint errors.
 *
 * Values are masked by position wherever Ferry knows the column (a row's
 * field, a record field of the same name, Postgres's `Key (col)=(value)`),
 * and by exact value only where it knows the value belongs to a sensitive
 * column of the same row (the source record a row was mapped from). It never
 * searches for short strings in prose: see src/db/redact.ts for why.
 */
import type { Table } from './table.js';

export const MASK = '****';

const cache = new WeakMap<Table, ReadonlySet<string>>();

/** Names of the table's `.sensitive()` columns (empty for most tables). */
export function sensitiveColumns(table: Table): ReadonlySet<string> {
  let names = cache.get(table);
  if (!names) {
    names = new Set(
      Object.values(table.columns)
        .filter((c) => c.def.sensitive)
        .map((c) => c.name),
    );
    cache.set(table, names);
  }
  return names;
}

/** `row` with the values of sensitive columns replaced by `****` (null stays null: absence is no secret). */
export function maskRow<T>(table: Table, row: Record<string, T>): Record<string, T | string> {
  const names = sensitiveColumns(table);
  if (names.size === 0) return row;
  const out: Record<string, T | string> = { ...row };
  for (const name of names) if (out[name] !== null && out[name] !== undefined) out[name] = MASK;
  return out;
}

/**
 * A source record with sensitive data masked: fields named like a sensitive
 * column, and any string equal to a sensitive value of a row mapped from it
 * (`{ pw: '$2b$…' }` mapped to `password_hash`). Deep; returns a copy.
 */
export function maskRecord(value: unknown, names: ReadonlySet<string>, values: ReadonlySet<string>): unknown {
  if (names.size === 0 && values.size === 0) return value;
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return values.has(v) ? MASK : v;
    if (v === null || typeof v !== 'object' || depth > 64) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v instanceof Date || ArrayBuffer.isView(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] = names.has(k) && x !== null && x !== undefined ? MASK : walk(x, depth + 1);
    }
    return out;
  };
  return walk(value, 0);
}

/** The text form of a row's sensitive values, as they would be written (for `maskRecord`). */
export function sensitiveValues(
  table: Table,
  row: Record<string, unknown>,
  into: Set<string> = new Set(),
): Set<string> {
  for (const name of sensitiveColumns(table)) {
    const v = row[name];
    if (typeof v === 'string' && v !== '') into.add(v);
    else if (typeof v === 'number' || typeof v === 'bigint') into.add(String(v));
  }
  return into;
}

/**
 * A Postgres message or DETAIL about a row of `table`, with sensitive values
 * masked: `Key (token)=(abc) already exists.` → `Key (token)=(****) …`;
 * `Failing row contains (…)` → all values masked when the table has any
 * sensitive column (the tuple is in column order but values may hold commas,
 * so it cannot be split safely); `…: "value"` quoted values equal to one of
 * the row's `values`.
 */
export function maskDbText(text: string, table: Table, values: ReadonlySet<string> = new Set()): string {
  const names = sensitiveColumns(table);
  if (names.size === 0) return text;
  let out = text.replace(
    /Key \(([^)]*)\)=\((.*?)\)( already exists| is not present| conflicts|\.|$)/g,
    (all, cols, _v, tail) => {
      const listed = String(cols)
        .split(',')
        .map((c) => c.trim().replace(/^"|"$/g, ''));
      return listed.some((c) => names.has(c)) ? `Key (${cols})=(${MASK})${tail}` : all;
    },
  );
  out = out.replace(/Failing row contains \(.*\)/g, `Failing row contains (${MASK})`);
  for (const v of values) out = out.split(`"${v}"`).join(`"${MASK}"`);
  return out;
}
