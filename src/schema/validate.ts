import { z } from 'zod';
import { E_BAD_ARGUMENT, E_INVALID_VALUE, E_UNKNOWN_COLUMN, FerryError } from '../errors.js';
import type { Column, ColumnDef } from './column.js';
import type { Table } from './table.js';

/**
 * Validation of values against column definitions, so a bad value is
 * reported as `users.telegram_id: expected number, received string "abc"`
 * instead of a bare `invalid input syntax for type bigint` from the server.
 *
 * Modes: `insert`/`update` check a written value; `filter` also takes a list
 * (IN) and null (IS NULL); `compare` takes one value or null, for `>`/`<`
 * (keyset pagination), where a list would be a row constructor.
 */
export type ValidationMode = 'insert' | 'update' | 'filter' | 'compare';

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;
const INT_RANGES: Record<string, [number, number]> = {
  smallint: [-32768, 32767],
  integer: [-2147483648, 2147483647],
  bigint: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const NUMERIC = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$|^\s*(NaN|[-+]?Infinity)\s*$/;
const DATE = /^\d{4,}-\d{2}-\d{2}( BC)?$|^[-+]?infinity$/;
const TIMESTAMP_WORDS = /^([-+]?infinity|now|today|tomorrow|yesterday|epoch)$/i;

/**
 * ±infinity timestamps read back as ±Infinity (db/types.ts), so they may be
 * written back and compared against (keyset `after`); dates accept the same.
 * z.number() refuses non-finite numbers, hence a custom check.
 */
const infinite = z.custom<number>(
  (n) => n === Number.POSITIVE_INFINITY || n === Number.NEGATIVE_INFINITY,
  'not ±Infinity',
);

/** Postgres text cannot hold NUL; catching it here names the column. */
const noNul = (s: string) => !s.includes('\u0000');

function elementSchema(def: ColumnDef): z.ZodType {
  switch (def.kind) {
    case 'int': {
      const [min, max] = INT_RANGES[def.type] ?? INT_RANGES.integer!;
      return z.number().int().min(min).max(max);
    }
    case 'bigint':
      return z.union([
        z.number().int().min(INT_RANGES.bigint![0]).max(INT_RANGES.bigint![1]),
        z.bigint().min(INT8_MIN).max(INT8_MAX),
      ]);
    case 'numeric':
      return z.union([z.number(), z.string().regex(NUMERIC, 'not a number')]);
    case 'float':
      return z.number();
    case 'boolean':
      return z.boolean();
    case 'string': {
      let s = z.string().refine(noNul, 'contains a NUL (\\u0000) character, which Postgres text cannot store');
      if (def.maxLength !== null) {
        const max = def.maxLength;
        s = s.refine((v) => [...v].length <= max, `longer than ${max} characters`);
      }
      return s;
    }
    case 'uuid':
      return z.string().regex(UUID, 'not a UUID');
    case 'date':
      return z.union([
        z.date().refine((d) => !Number.isNaN(d.getTime()), 'invalid date'),
        infinite,
        z.string().regex(DATE, 'not a date (YYYY-MM-DD)'),
      ]);
    case 'timestamp':
      return z.union([
        z.date().refine((d) => !Number.isNaN(d.getTime()), 'invalid date'),
        infinite,
        z.string().refine((s) => TIMESTAMP_WORDS.test(s) || !Number.isNaN(Date.parse(s)), 'not a timestamp'),
      ]);
    case 'interval':
      return z.string().min(1);
    case 'json':
      return z.unknown().refine((v) => v !== undefined, 'is undefined');
    case 'bytea':
      return z.instanceof(Uint8Array);
    case 'enum':
      return z.enum(def.enumValues as [string, ...string[]]);
    case 'custom':
      return z.unknown();
  }
}

function valueSchema(def: ColumnDef): z.ZodType {
  const element = elementSchema(def);
  return def.isArray ? z.array(element.nullable()) : element;
}

/**
 * Cheap checks for the common scalar cases, so hot paths (`get` by key) skip
 * zod; anything they do not clearly accept goes to zod, which words the error.
 */
function obviouslyValid(def: ColumnDef, value: unknown): boolean {
  if (def.isArray) return false;
  switch (def.kind) {
    case 'int': {
      const [min, max] = INT_RANGES[def.type] ?? INT_RANGES.integer!;
      return Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
    }
    case 'bigint':
      return Number.isSafeInteger(value);
    case 'string':
      // length counts UTF-16 units, never fewer than the code points the limit is in.
      return (
        typeof value === 'string' &&
        (def.maxLength === null || value.length <= def.maxLength) &&
        !value.includes('\u0000')
      );
    case 'timestamp':
    case 'date':
      return value instanceof Date && !Number.isNaN(value.getTime());
    case 'enum':
      return typeof value === 'string' && def.enumValues?.includes(value) === true;
    case 'uuid':
      return typeof value === 'string' && UUID.test(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'float':
      return typeof value === 'number';
    case 'json':
      return value !== undefined;
    default:
      return false;
  }
}

const cache = new WeakMap<Column, Map<string, z.ZodType>>();

function schemaFor(column: Column, mode: 'write' | 'filter' | 'compare'): z.ZodType {
  let byMode = cache.get(column);
  if (!byMode) {
    byMode = new Map();
    cache.set(column, byMode);
  }
  let schema = byMode.get(mode);
  if (!schema) {
    const value = valueSchema(column.def);
    // A filter on a scalar column may list several values (IN).
    const base = mode === 'filter' && !column.def.isArray ? z.union([value, z.array(value)]) : value;
    schema = column.def.notNull && mode === 'write' ? base : base.nullable();
    byMode.set(mode, schema);
  }
  return schema;
}

/** Look up a column by name, or throw a helpful E_UNKNOWN_COLUMN. */
export function columnOf(table: Table, name: string): Column {
  const column = typeof name === 'string' && Object.hasOwn(table.columns, name) ? table.columns[name] : undefined;
  if (column) return column;
  if (typeof name !== 'string') {
    throw new FerryError(
      E_BAD_ARGUMENT,
      `Table ${table.name}: a column name must be a string, got ${describe(name)}. Columns: ${Object.keys(table.columns).join(', ')}.`,
      { details: { table: table.name } },
    );
  }
  const names = Object.keys(table.columns);
  const guess = closest(name, names);
  throw new FerryError(
    E_UNKNOWN_COLUMN,
    `Table ${table.name} has no column "${name}".${guess ? ` Did you mean "${guess}"?` : ''} Columns: ${names.join(', ')}.`,
    { details: { table: table.name, column: name } },
  );
}

/**
 * Check one row (insert), patch (update) or equality filter against the
 * table. `where` says which row of a batch it is, for the message.
 */
export function validateValues(table: Table, values: Record<string, unknown>, mode: ValidationMode, where = ''): void {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new FerryError(
      E_BAD_ARGUMENT,
      `Expected an object of ${table.name} columns${where}, got ${describe(values)}.`,
    );
  }
  if (allObviouslyValid(table, values, mode)) return;
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) validateValue(table, columnOf(table, name), value, mode, where);
  }
  if (mode === 'insert') {
    for (const column of requiredColumns(table)) {
      if (values[column.name] === undefined || values[column.name] === null) {
        throw new FerryError(
          E_INVALID_VALUE,
          `${table.name}.${column.name} is required (NOT NULL with no default)${where}.`,
          { details: { table: table.name, column: column.name } },
        );
      }
    }
  }
}

/**
 * The checks below that pass without zod, for a whole row at once: true only
 * when the full path would find nothing (every column known and writable,
 * every value obviously valid, nothing required missing). Anything else
 * returns false and the full path runs, so its messages are the only ones.
 * An import validates every row: Object.entries, columnOf and the
 * requiredColumns filter per row were most of this function's time.
 */
function allObviouslyValid(table: Table, values: Record<string, unknown>, mode: ValidationMode): boolean {
  const writing = mode === 'insert' || mode === 'update';
  const columns = table.columns;
  // for-in, not Object.keys: no array per row. An inherited enumerable key
  // is unknown here and sends the row down the full path, which decides.
  for (const name in values) {
    const value = values[name];
    if (value === undefined) continue;
    const column = Object.hasOwn(columns, name) ? columns[name] : undefined;
    if (!column) return false;
    const def = column.def;
    if (writing && (def.identity === 'always' || def.generated !== null)) return false;
    if (value === null ? def.notNull && writing : !obviouslyValid(def, value)) return false;
  }
  if (mode === 'insert') {
    const req = requiredColumns(table);
    for (let i = 0; i < req.length; i++) {
      const v = values[(req[i] as Column).name];
      if (v === undefined || v === null) return false;
    }
  }
  return true;
}

const required = new WeakMap<Table, Column[]>();

/** Columns an insert must give: NOT NULL with no default of any kind. */
function requiredColumns(table: Table): Column[] {
  let columns = required.get(table);
  if (!columns) {
    columns = Object.values(table.columns).filter(({ def: d }) => {
      return d.notNull && d.default === null && !d.serial && d.identity === null && d.generated === null;
    });
    required.set(table, columns);
  }
  return columns;
}

/** Check one value for one column of `table`; throws E_INVALID_VALUE naming both. */
export function validateValue(table: Table, column: Column, value: unknown, mode: ValidationMode, where = ''): void {
  const writing = mode === 'insert' || mode === 'update';
  if (writing && (column.def.identity === 'always' || column.def.generated !== null)) {
    throw new FerryError(
      E_INVALID_VALUE,
      `${table.name}.${column.name} is generated by the database and cannot be written${where}.`,
      { details: { table: table.name, column: column.name } },
    );
  }
  if (value === null ? !column.def.notNull || !writing : obviouslyValid(column.def, value)) return;
  const result = schemaFor(column, writing ? 'write' : mode).safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const reason = value === null ? 'is NOT NULL and cannot be null' : (issue?.message ?? 'invalid');
    throw new FerryError(
      E_INVALID_VALUE,
      `Invalid value for ${table.name}.${column.name} (${column.def.type}${column.def.isArray ? '[]' : ''})${where}: ${reason}; got ${column.def.sensitive ? hidden(value) : describe(value)}.`,
      { details: { table: table.name, column: column.name } },
    );
  }
}

/** A `.sensitive()` column's value: its kind only, never the value or its length. */
function hidden(value: unknown): string {
  const kind = value instanceof Date ? 'Date' : Array.isArray(value) ? 'array' : typeof value;
  return `${kind} **** (sensitive, not shown)`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string')
    return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (value instanceof Date) return `Date ${Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()}`;
  if (Array.isArray(value)) return `array of ${value.length}`;
  if (typeof value === 'object') return 'object';
  return `${typeof value} ${String(value)}`;
}

function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of candidates) {
    const d = levenshtein(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Up to `max` of `candidates` within a few edits of `name` (case-insensitive),
 * closest first: the "did you mean" list of an error about an unknown name.
 */
export function closeNames(name: string, candidates: readonly string[], max = 3): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  return candidates
    .map((c) => ({ c, d: levenshtein(name.toLowerCase(), c.toLowerCase()) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, max)
    .map((x) => x.c);
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
