/**
 * One value policy for both backends.
 *
 * node-postgres (pg-types) and PGlite ship different default parsers: pg
 * returns int8 as a string and `date` as a local-time Date, PGlite returns
 * `timestamp` as a local-time Date and leaves enum arrays as '{a,b}' text.
 * Code developed against PGlite must read exactly what it will read in
 * production, so neither default is used: both backends get the parsers
 * below, and parameters go through the same `prepareParam` before either
 * driver sees them.
 *
 *   int2/int4/oid/float4/float8 → number     int8 → number, or bigint past 2^53
 *   numeric → string (exact)                  bool → boolean
 *   date → 'YYYY-MM-DD' string                 timestamp → Date read as UTC
 *   timestamptz → Date                         ±infinity timestamps → ±Infinity
 *   interval/time/uuid/enum/other → string     json/jsonb → parsed
 *   bytea → Buffer                             arrays of any type → parsed element-wise
 */

/** Builtin type oids Ferry parses (fixed since forever; see pg_type.dat). */
export const PG_OID = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  numeric: 1700,
  jsonb: 3802,
} as const;

/** Oids below this are builtin; above are user or extension types that may appear after open. */
export const FIRST_NORMAL_OID = 16384;

export type TextParser = (text: string) => unknown;

const identity: TextParser = (text) => text;

export function parseInt8(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

export function parseBool(text: string): boolean {
  return text === 't' || text === 'true';
}

export function parseBytea(text: string): Buffer {
  if (text.startsWith('\\x')) return Buffer.from(text.slice(2), 'hex');
  return parseByteaEscape(text);
}

// bytea_output = 'escape' (someone's server config): octal escapes and doubled backslashes.
function parseByteaEscape(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 92) {
      bytes.push(c);
    } else if (text[i + 1] === '\\') {
      bytes.push(92);
      i++;
    } else {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    }
  }
  return Buffer.from(bytes);
}

const TIMESTAMP =
  /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?|Z)?( BC)?$/;

/**
 * Parse timestamp/timestamptz output (DateStyle ISO). A missing offset means
 * UTC: `timestamp` has no zone, and reading it as UTC (not the machine's local
 * zone) is what makes dev laptops and prod containers agree.
 */
export function parseTimestamp(text: string): Date | number | string {
  if (text === 'infinity') return Number.POSITIVE_INFINITY;
  if (text === '-infinity') return Number.NEGATIVE_INFINITY;
  const m = TIMESTAMP.exec(text);
  if (!m) return text; // unexpected DateStyle: hand back the text rather than a wrong Date
  const [, y, mo, d, h, mi, s, frac, sign, oh, om, os, bc] = m;
  let year = Number(y);
  if (bc) year = 1 - year; // 1 BC is year 0 in JS
  // Truncate microseconds to ms from the digits, avoiding float rounding.
  const ms = frac ? Number((frac + '00').slice(0, 3)) : 0;
  const date = new Date(Date.UTC(2000, 0, 1, Number(h), Number(mi), Number(s), ms));
  date.setUTCFullYear(year, Number(mo) - 1, Number(d)); // Date.UTC maps years 0-99 to 19xx
  if (sign) {
    const offset = (Number(oh) * 3600 + Number(om ?? 0) * 60 + Number(os ?? 0)) * 1000;
    date.setTime(date.getTime() - (sign === '+' ? offset : -offset));
  }
  return date;
}

/**
 * Parse Postgres array output: `{1,2,NULL}`, `{"a b","c\"d"}`, `{{1,2},{3,4}}`,
 * `[0:1]={7,8}`. Element text goes through `element`; unquoted NULL is null.
 */
export function parseArrayLiteral(text: string, element: TextParser = identity, delimiter = ','): unknown[] {
  let i = 0;
  if (text.startsWith('[')) i = text.indexOf('=') + 1; // explicit bounds decoration
  const fail = (): never => {
    throw new Error(`Malformed array literal: ${text.length > 80 ? text.slice(0, 80) + '…' : text}`);
  };
  const level = (): unknown[] => {
    if (text[i] !== '{') fail();
    i++;
    const out: unknown[] = [];
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      const c = text[i];
      if (c === '{') {
        out.push(level());
      } else if (c === '"') {
        let value = '';
        let start = ++i;
        for (;;) {
          const q = text.indexOf('"', i);
          const b = text.indexOf('\\', i);
          if (q < 0) fail();
          if (b >= 0 && b < q) {
            value += text.slice(start, b) + text.charAt(b + 1);
            i = start = b + 2;
          } else {
            value += text.slice(start, q);
            i = q + 1;
            break;
          }
        }
        out.push(element(value));
      } else {
        const start = i;
        while (i < text.length && text[i] !== delimiter && text[i] !== '}') i++;
        const raw = text.slice(start, i);
        out.push(raw === 'NULL' ? null : element(raw.includes('\\') ? raw.replace(/\\(.)/g, '$1') : raw));
      }
      if (text[i] === delimiter) i++;
      else if (text[i] === '}') {
        i++;
        return out;
      } else fail();
    }
  };
  return level();
}

const SCALARS = new Map<number, TextParser>([
  [PG_OID.bool, parseBool],
  [PG_OID.bytea, parseBytea],
  [PG_OID.int8, parseInt8],
  [PG_OID.int2, Number],
  [PG_OID.int4, Number],
  [PG_OID.oid, Number],
  [PG_OID.float4, Number],
  [PG_OID.float8, Number],
  [PG_OID.json, JSON.parse],
  [PG_OID.jsonb, JSON.parse],
  [PG_OID.timestamp, parseTimestamp],
  [PG_OID.timestamptz, parseTimestamp],
  // date, numeric, interval, text...: the text *is* the value (identity).
]);

/** One row of `ARRAY_TYPES_SQL`. */
export interface ArrayTypeRow {
  oid: number;
  elem: number;
  delim: string;
}

/**
 * Every array type with its element type. `e.typarray = a.oid` skips
 * int2vector/oidvector, which are arrays in pg_type but print space-separated.
 */
export const ARRAY_TYPES_SQL = `select a.oid, a.typelem as elem, e.typdelim as delim
from pg_catalog.pg_type a join pg_catalog.pg_type e on e.oid = a.typelem
where a.typcategory = 'A' and e.typarray = a.oid`;

/** Same as ARRAY_TYPES_SQL limited to `$1::oid[]`. */
export const ARRAY_TYPES_BY_OID_SQL = `${ARRAY_TYPES_SQL} and a.oid = any($1::oid[])`;

/**
 * Per-database parser table. Arrays come from pg_type (so enum and extension
 * arrays parse too); user types first seen in a result are looked up lazily
 * (see `unknownOids`), which is why DDL in a long-lived process needs no
 * manual refresh in the common case.
 */
export class TypeRegistry {
  readonly #arrays = new Map<number, TextParser>();
  /** User oids already looked up that turned out not to be arrays (enums, composites, domains...). */
  readonly #plain = new Set<number>();

  parser(oid: number): TextParser {
    return this.#arrays.get(oid) ?? SCALARS.get(oid) ?? identity;
  }

  /** Replace the array table (after a full `ARRAY_TYPES_SQL` read). */
  setArrayTypes(rows: readonly ArrayTypeRow[]): void {
    this.#arrays.clear();
    this.#plain.clear();
    this.addArrayTypes(rows);
  }

  addArrayTypes(rows: readonly ArrayTypeRow[], lookedUp: readonly number[] = []): void {
    for (const row of rows) {
      const oid = Number(row.oid);
      const element = this.parser(Number(row.elem));
      const delim = row.delim || ',';
      this.#arrays.set(oid, (text) => parseArrayLiteral(text, element, delim));
    }
    for (const oid of lookedUp) if (!this.#arrays.has(oid)) this.#plain.add(oid);
  }

  /** User type oids in `oids` this registry has never looked up. */
  unknownOids(oids: Iterable<number>): number[] {
    const out = new Set<number>();
    for (const oid of oids) {
      if (oid >= FIRST_NORMAL_OID && !this.#arrays.has(oid) && !this.#plain.has(oid)) out.add(oid);
    }
    return [...out];
  }

  isArray(oid: number): boolean {
    return this.#arrays.has(oid);
  }
}

interface FieldLike {
  name: string;
  dataTypeID: number;
}

/**
 * Look up user types first seen in a result and re-parse their columns in
 * place (they were read with the identity parser, so the raw text is there).
 * `run` executes on the connection that produced the rows, so types created in
 * the current, uncommitted transaction are visible.
 */
export async function resolveUnknownTypes(
  registry: TypeRegistry,
  fields: readonly FieldLike[] | undefined,
  rows: readonly Record<string, unknown>[],
  run: (sql: string, params: unknown[]) => Promise<readonly ArrayTypeRow[]>,
): Promise<void> {
  if (!fields || fields.length === 0) return;
  const unknown = registry.unknownOids(fields.map((f) => f.dataTypeID));
  if (unknown.length === 0) return;
  registry.addArrayTypes(await run(ARRAY_TYPES_BY_OID_SQL, [toArrayLiteral(unknown)]), unknown);
  for (const field of fields) {
    if (!unknown.includes(field.dataTypeID) || !registry.isArray(field.dataTypeID)) continue;
    const parse = registry.parser(field.dataTypeID);
    for (const row of rows) {
      const raw = row[field.name];
      if (typeof raw === 'string') (row as Record<string, unknown>)[field.name] = parse(raw);
    }
  }
}

/**
 * Normalise one query parameter the same way for both drivers, so a value
 * that works in dev works in prod and vice versa:
 * Date → ISO-8601 UTC (pg would otherwise use the machine's local zone),
 * arrays → Postgres array literal (PGlite can only serialise arrays whose type
 * it has cached; pg always sends literals), plain objects → JSON (what pg
 * does; PGlite would send "[object Object]"). Bytes pass through.
 */
export function prepareParam(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return value;
  if (value instanceof Date) return dateParam(value);
  if (Array.isArray(value)) return toArrayLiteral(value);
  const toPostgres = (value as { toPostgres?: (prepare: (v: unknown) => unknown) => unknown }).toPostgres;
  if (typeof toPostgres === 'function') return prepareParam(toPostgres.call(value, prepareParam));
  return JSON.stringify(value);
}

function dateParam(value: Date): string {
  if (Number.isNaN(value.getTime())) throw new TypeError('Invalid Date passed as a query parameter');
  return value.toISOString();
}

/** JS array → Postgres array literal, quoting every element (mirrors pg's own arrayString). */
export function toArrayLiteral(values: readonly unknown[]): string {
  const parts = values.map((v) => {
    if (v === null || v === undefined) return 'NULL';
    if (Array.isArray(v)) return toArrayLiteral(v);
    if (v instanceof Uint8Array) return `"\\\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"`;
    const text = String(prepareParam(v));
    return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${parts.join(',')}}`;
}

/** PGlite's last-resort serialiser: strings as they are, bytes as bytea hex. */
export function serializeParam(value: unknown): string {
  if (value instanceof Uint8Array)
    return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  return String(value);
}

/** Session settings both backends run with; the parsers above rely on them. */
export const SESSION_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO,MDY'],
  ['IntervalStyle', 'postgres'],
];
