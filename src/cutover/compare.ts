/**
 * Comparators for shadow reads: is what the old store answered the same as
 * what the new one answered? Not identity: the two stores serialise
 * differently. A JSON file hands back an ISO string where Postgres hands back
 * a Date, a numeric column comes back as the exact string '12.50' where the
 * app stored 12.5, jsonb reorders keys, a bigint may be a number, a string or
 * a BigInt. A comparator that flagged those would drown the one real
 * difference (a field written wrongly) in noise, and block `advance` for
 * nothing.
 *
 *   const compare = valueComparator({ table: users, ignore: ['updated_at'] });
 *   compare({ id: 1, total: '12.50' }, { id: 1, total: 12.5 });   // [] (equal)
 *   compare({ id: 1, name: 'Ada' }, { id: 1, name: 'ada' });        // ['name']
 *
 * Rules: `null`, `undefined` and a missing field are the same (a JSON store
 * drops undefined, Postgres reads SQL NULL as null). With a Ferry table the
 * column's kind decides: timestamps by instant, dates by calendar day,
 * numeric/bigint by exact decimal value, floats by value, json/jsonb
 * structurally (key order never matters). Without a table, or for fields the
 * table does not have: structural, with the same leniency for a Date against
 * an ISO string and for a number/bigint against a numeric string.
 */
import type { ValueKind } from '../schema/column.js';
import type { Table } from '../schema/table.js';

/** The paths of the fields that differ (`'total'`, `'address.city'`, `'tags[2]'`); empty when equal. */
export type Comparator<V = unknown> = (a: V, b: V) => string[];

export interface ValueComparatorOptions {
  /** The Ferry table the values are rows of: its column kinds decide how each field compares. */
  table?: Table;
  /** Field paths to skip (`'updated_at'`, `'meta.etag'`): a field the two stores legitimately disagree on. */
  ignore?: readonly string[];
}

/**
 * A comparator for values of one collection (see the module comment for the
 * rules).
 *
 *   defineCutover({ ..., compare: valueComparator({ table: priceSnapshots, ignore: ['fetched_at'] }) });
 */
export function valueComparator<V = unknown>(options: ValueComparatorOptions = {}): Comparator<V> {
  const { kinds, arrays, ignore } = rulesOf(options);
  return (a, b) => {
    const out: string[] = [];
    const walk = (x: unknown, y: unknown, path: string, top: boolean) => {
      if (ignore.has(path)) return;
      const kind = top ? kinds.get(path) : undefined;
      if (kind !== undefined && !arrays.has(path)) {
        if (!equalByKind(kind, x, y)) {
          if (kind === 'json') diff(x, y, path, out, ignore);
          else out.push(path);
        }
        return;
      }
      diff(x, y, path, out, ignore);
    };
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of unionKeys(a, b)) walk(a[key], b[key], key, true);
    } else diff(a, b, '', out, ignore);
    return out;
  };
}

/** The column kinds (scalar columns only) and ignored paths of a comparator's options. */
function rulesOf(options: ValueComparatorOptions) {
  const kinds = new Map<string, ValueKind>();
  const arrays = new Set<string>();
  if (options.table) {
    for (const column of Object.values(options.table.columns)) {
      kinds.set(column.name, column.def.kind);
      if (column.def.isArray) arrays.add(column.name);
    }
  }
  return { kinds, arrays, ignore: new Set(options.ignore ?? []) };
}

/**
 * The canonical text of a value under the same rules as
 * `valueComparator(options)`: what `verify` hashes, so that a row the two
 * stores spell differently (a Date and its ISO string, 12.5 and '12.5', keys
 * in another order, a null field and a missing one) checksums the same.
 *
 *   const canon = canonicalizer({ table: snapshots });
 *   canon({ price: '12.50', at: new Date(0) }) === canon({ at: '1970-01-01T00:00:00Z', price: 12.5 });   // true
 *
 * The promise, in the one direction a checksum needs: equal canonical texts
 * ⇒ the comparator finds no difference. So a chunk whose checksums agree
 * holds no difference the comparator would report.
 *
 * The converse holds for every value in a column the table types as a
 * timestamp, date or number (compared by instant, day or value, whatever
 * the spelling), and for all other values spelled canonically (a date
 * string as `toISOString()` writes it, a numeric string as `decimal()`
 * writes it). It cannot hold in general: without a column kind the
 * comparator is lenient only between a Date or number and a string, never
 * between two strings, so it is not transitive ('12.5' and '12.50' each
 * equal 12.5, not each other) and no text can stand for "equal to 12.5".
 * There, a Date against a string spelled otherwise, or a number against
 * '12.50', gives two texts: the checksum flags the chunk and verify's row
 * pass finds the rows equal (slower, never wrong). Give the comparator the
 * Ferry table to avoid that.
 */
export function canonicalizer<V = unknown>(options: ValueComparatorOptions = {}): (value: V) => string {
  const { kinds, arrays, ignore } = rulesOf(options);
  const none = new Set<string>();
  return (value) => {
    if (!isPlainObject(value)) return canonicalText(value, '', ignore);
    const parts: string[] = [];
    for (const key of Object.keys(value).sort()) {
      if (ignore.has(key)) continue;
      const kind = kinds.get(key);
      const text =
        kind === undefined || arrays.has(key)
          ? canonicalText(value[key], key, ignore)
          : canonicalByKind(kind, value[key], key, kind === 'json' ? ignore : none);
      if (text !== ABSENT) parts.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  };
}

const ABSENT = 'null';
let opaque = 0;

/** A column's value by its kind: the tokens (`@T`, `@D`, `@N`, `@F`) never collide with `canonicalText`'s forms. */
function canonicalByKind(kind: ValueKind, v: unknown, path: string, ignore: ReadonlySet<string>): string {
  if (isAbsent(v)) return ABSENT;
  switch (kind) {
    case 'timestamp': {
      const t = instant(v);
      if (t !== null) return `@T${t}`;
      break;
    }
    case 'date': {
      const d = calendarDay(v);
      if (d !== null) return `@D${d}`;
      break;
    }
    case 'numeric':
    case 'bigint':
    case 'int':
    case 'float': {
      const d = decimal(v);
      if (d !== null) return kind === 'float' ? `@F${Number(d)}` : `@N${d}`;
      break;
    }
  }
  return canonicalText(v, path, ignore);
}

/** `diff`'s rules as one text: equal texts ⇒ `diff` finds nothing (see canonicalizer). */
function canonicalText(v: unknown, path: string, ignore: ReadonlySet<string>): string {
  if (path !== '' && ignore.has(path)) return ABSENT;
  if (isAbsent(v)) return ABSENT;
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return String(v);
    case 'bigint':
      return JSON.stringify(v.toString());
    case 'number':
      // A number equals the string of its decimal text (diff compares them by value); NaN and ±Infinity only themselves.
      return Number.isFinite(v) ? JSON.stringify(decimal(v)) : String(v);
  }
  if (v instanceof Date) {
    // Two invalid Dates are never equal to diff (unless the same object): a token of its own.
    return Number.isNaN(v.getTime()) ? `#${++opaque}` : JSON.stringify(v.toISOString());
  }
  // A Buffer equals its JSON form ({ type: 'Buffer', data }) by bytes, ignores or not.
  if (Buffer.isBuffer(v)) return canonicalText(v.toJSON(), '', new Set());
  if (Array.isArray(v)) {
    const items: string[] = [];
    for (let k = 0; k < v.length; k++) items.push(canonicalText(v[k], `${path}[${k}]`, ignore));
    // A missing element equals null, so trailing nulls equal a shorter array.
    while (items.at(-1) === ABSENT) items.pop();
    return `[${items.join(',')}]`;
  }
  if (isPlainObject(v)) {
    const parts: string[] = [];
    for (const key of Object.keys(v).sort()) {
      const text = canonicalText(v[key], path === '' ? key : `${path}.${key}`, ignore);
      if (text !== ABSENT) parts.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  }
  return `#${++opaque}`; // a function or symbol: equal to diff only by identity
}

/** One column's values, by its kind (a row field from either store). */
function equalByKind(kind: ValueKind, x: unknown, y: unknown): boolean {
  if (isAbsent(x) || isAbsent(y)) return isAbsent(x) && isAbsent(y);
  switch (kind) {
    case 'timestamp': {
      const [i, j] = [instant(x), instant(y)];
      return i !== null && j !== null ? i === j : looseEqual(x, y);
    }
    case 'date': {
      const [i, j] = [calendarDay(x), calendarDay(y)];
      return i !== null && j !== null ? i === j : looseEqual(x, y);
    }
    case 'numeric':
    case 'bigint':
    case 'int':
    case 'float': {
      const [i, j] = [decimal(x), decimal(y)];
      if (i !== null && j !== null) return i === j || (kind === 'float' && Number(i) === Number(j));
      return looseEqual(x, y);
    }
    default:
      return looseEqual(x, y);
  }
}

function looseEqual(x: unknown, y: unknown): boolean {
  const out: string[] = [];
  diff(x, y, '', out, new Set());
  return out.length === 0;
}

/** Structural difference of two values, pushing the paths that differ. */
function diff(x: unknown, y: unknown, path: string, out: string[], ignore: ReadonlySet<string>): void {
  if (path !== '' && ignore.has(path)) return;
  if (isAbsent(x) || isAbsent(y)) {
    if (!(isAbsent(x) && isAbsent(y))) out.push(path);
    return;
  }
  if (Object.is(x, y) || x === y) return;
  // A Date against a Date or an ISO string: the same instant is the same value.
  if (x instanceof Date || y instanceof Date) {
    const [i, j] = [instant(x), instant(y)];
    if (i === null || j === null || i !== j) out.push(path);
    return;
  }
  // A number or bigint against a number, bigint or numeric string: the same value.
  if (isNumberLike(x) || isNumberLike(y)) {
    const [i, j] = [decimal(x), decimal(y)];
    if (i === null || j === null || i !== j) out.push(path);
    return;
  }
  if (Buffer.isBuffer(x) || Buffer.isBuffer(y)) {
    const [i, j] = [bytes(x), bytes(y)];
    if (i === null || j === null || !i.equals(j)) out.push(path);
    return;
  }
  if (Array.isArray(x) && Array.isArray(y)) {
    const n = Math.max(x.length, y.length);
    for (let k = 0; k < n; k++) diff(x[k], y[k], `${path}[${k}]`, out, ignore);
    return;
  }
  if (isPlainObject(x) && isPlainObject(y)) {
    for (const key of unionKeys(x, y)) diff(x[key], y[key], path === '' ? key : `${path}.${key}`, out, ignore);
    return;
  }
  out.push(path);
}

function isAbsent(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

function isNumberLike(v: unknown): boolean {
  return typeof v === 'number' || typeof v === 'bigint';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !Buffer.isBuffer(v);
}

function unionKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}

const ISO = /^[+-]?\d{4,}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d(?::?\d\d)?)?)?$/;

/** Epoch ms of a Date or an ISO-8601 string, else null. */
function instant(v: unknown): number | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.getTime();
  if (typeof v === 'string' && ISO.test(v.trim())) {
    const t = Date.parse(v.trim());
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

/** 'YYYY-MM-DD' of a date column's value (Ferry reads `date` as that string; an app may hold a Date at UTC midnight). */
function calendarDay(v: unknown): string | null {
  if (typeof v === 'string' && /^\d{4,}-\d\d-\d\d/.test(v)) return v.slice(0, v.indexOf('-', 5) + 3);
  if (v instanceof Date && !Number.isNaN(v.getTime())) return v.toISOString().slice(0, 10);
  return null;
}

const DECIMAL = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/;

/**
 * The canonical decimal text of a number, bigint or numeric string ('12.50'
 * → '12.5', '-0' → '0', 1e21 → '1000000000000000000000'), else null.
 * Exact: a numeric string is never squeezed through a float.
 */
export function decimal(v: unknown): string | null {
  let text: string;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return null;
    text = String(v);
  } else if (typeof v === 'string') text = v;
  else return null;
  const m = DECIMAL.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null;
  const sign = m[1] === '-' ? '-' : '';
  let digits = (m[2] ?? '') + (m[3] ?? '');
  let point = (m[2] ?? '').length + Number(m[4] ?? 0);
  // Normalise to digits with the decimal point at `point`, then trim zeros on both ends.
  const lead = digits.length - digits.replace(/^0+/, '').length;
  digits = digits.slice(lead);
  point -= lead;
  digits = digits.replace(/0+$/, '');
  if (digits === '') return '0';
  let int: string;
  let frac: string;
  if (point <= 0) {
    int = '0';
    frac = '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    int = digits + '0'.repeat(point - digits.length);
    frac = '';
  } else {
    int = digits.slice(0, point);
    frac = digits.slice(point);
  }
  return `${sign}${int}${frac ? `.${frac}` : ''}`;
}

/** A Buffer, or what JSON made of one ({ type: 'Buffer', data: [...] }). */
function bytes(v: unknown): Buffer | null {
  if (Buffer.isBuffer(v)) return v;
  if (isPlainObject(v) && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data as number[]);
  return null;
}
