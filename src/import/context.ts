/**
 * The `ctx` a mapping function receives, and the helpers behind it. Every
 * helper is deterministic except `unusablePassword`, whose column should be
 * `insertOnly`: a rerun must map a record to exactly the same row.
 */
import { createHash, hash as oneShotHash, randomBytes, scrypt } from 'node:crypto';
import type { MapContext } from './define.js';
import type { SourceLocation } from './source.js';

/** Thrown by `ctx.reject()` and by helpers that find a bad value; the loader turns it into a reject. */
export class RecordRejected extends Error {
  readonly table: string | undefined;
  readonly column: string | undefined;
  constructor(reason: string, details: { table?: string; column?: string } = {}) {
    super(reason);
    this.name = 'RecordRejected';
    this.table = details.table;
    this.column = details.column;
  }
}

export interface EmittedRow {
  table: string;
  row: Record<string, unknown>;
}

export class ImportContext implements MapContext<Record<string, Record<string, unknown>>> {
  readonly loc: SourceLocation;
  readonly source: string;
  readonly ordinal: number;
  readonly emitted: EmittedRow[] = [];

  constructor(loc: SourceLocation, source: string, ordinal: number) {
    this.loc = loc;
    this.source = source;
    this.ordinal = ordinal;
  }

  emit(table: string, row: Record<string, unknown>): void {
    this.emitted.push({ table, row });
  }

  reject(reason: string, details?: { table?: string; column?: string }): never {
    throw new RecordRejected(reason, details);
  }

  casefold(value: string): string {
    return casefold(value);
  }

  uuid(...parts: unknown[]): string {
    return stableUuid(parts);
  }

  hash(...values: unknown[]): string {
    return oneShotHash('sha256', canonicalJson(values), 'hex');
  }

  unusablePassword(): Promise<string> {
    return unusablePassword();
  }

  timestamp(value: unknown, column?: string): Date {
    const date = parseLegacyTimestamp(value);
    if (date === null) {
      const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
      throw new RecordRejected(`invalid timestamp ${shown}${column ? ` for ${column}` : ''}`, { column });
    }
    return date;
  }
}

/**
 * Full case folding as Python's `str.casefold()` does it for the cases that
 * matter in usernames (ß → ss, ﬁ → fi, Turkish dotted I...): NFKC, then upper,
 * then lower.
 */
export function casefold(value: string): string {
  return value.normalize('NFKC').toUpperCase().toLowerCase();
}

const UUID_NAMESPACE = Buffer.from('6f1c2d0e9b7a4c5e8d3f2a1b0c9e8d7f', 'hex');

// Mappings derive the same ids again and again (a message's user and
// conversation): remember recent ones instead of hashing each time.
const UUID_MEMO_MAX = 50_000;
const uuidMemo = new Map<string, string>();

/** RFC 4122 version-5 layout over SHA-1 of a fixed namespace and the canonical JSON of `parts`. */
export function stableUuid(parts: unknown[]): string {
  const text = canonicalJson(parts);
  const known = uuidMemo.get(text);
  if (known !== undefined) return known;
  const id = uuidOf(text);
  if (uuidMemo.size >= UUID_MEMO_MAX) uuidMemo.clear();
  uuidMemo.set(text, id);
  return id;
}

function uuidOf(text: string): string {
  const digest = createHash('sha1').update(UUID_NAMESPACE).update(text).digest();
  digest[6] = ((digest[6] as number) & 0x0f) | 0x50;
  digest[8] = ((digest[8] as number) & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** JSON with object keys sorted, Dates as ISO strings and bigints as strings: equal values, equal text. */
export function canonicalJson(value: unknown): string {
  // ctx.hash(a, b, c) and ctx.uuid(...) pass flat lists of strings and numbers: nothing to sort.
  if (Array.isArray(value) && value.every(isPlainScalar)) return JSON.stringify(value);
  // Copying with sorted keys and letting the native JSON.stringify write the
  // text was measured faster than writing the text in JS (1.24 vs 1.45 s per
  // 50k council messages).
  return JSON.stringify(sortKeys(value));
}

const isPlainScalar = (v: unknown) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

// The secret is 32 random bytes, so the work factor adds nothing to its
// strength; a small one keeps a 100k-user import from spending minutes here.
const SCRYPT = { N: 1024, r: 8, p: 1, keyLength: 32 };

/** A PHC-format scrypt hash (`$scrypt$ln=10,r=8,p=1$salt$hash`) of a secret nobody knows. */
export function unusablePassword(): Promise<string> {
  const secret = randomBytes(32);
  const salt = randomBytes(16);
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, SCRYPT.keyLength, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p }, (err, key) => {
      if (err) reject(err);
      else resolve(`$scrypt$ln=${Math.log2(SCRYPT.N)},r=${SCRYPT.r},p=${SCRYPT.p}$${b64(salt)}$${b64(key)}`);
    });
  });
}

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

const ISO_LIKE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i;

/**
 * ISO 8601 (a missing zone means UTC, as Python's naive `datetime.utcnow()`
 * wrote it), epoch seconds or milliseconds, or a Date. Calendar-checked:
 * 2024-02-30 is invalid, not March 1st. Returns null when not a valid time.
 */
export function parseLegacyTimestamp(value: unknown): Date | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value === 'number' && Number.isFinite(value)) {
    // Seconds until the year 5138; anything larger is milliseconds.
    return new Date(Math.abs(value) < 1e11 ? value * 1000 : value);
  }
  if (typeof value !== 'string') return null;
  return plainUtcTimestamp(value) ?? parseTimestampText(value);
}

/**
 * The shape nearly every legacy timestamp has (Python's `isoformat()` of a
 * naive or UTC time: `YYYY-MM-DD[T ]hh:mm:ss[.f{1,9}][Z]`), read digit by
 * digit: an import parses one per row, and a regex's match array and its
 * seven strings were ~350 bytes of garbage each. Anything unusual returns
 * undefined and goes the general way; both give the same Date (a test checks
 * this).
 */
function plainUtcTimestamp(text: string): Date | null | undefined {
  const n = text.length;
  if (n < 19 || n > 30) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined;
  const sep = text.charCodeAt(10);
  if (
    text.charCodeAt(4) !== 0x2d || // -
    text.charCodeAt(7) !== 0x2d ||
    (sep !== 0x54 && sep !== 0x20) || // T or space
    text.charCodeAt(13) !== 0x3a || // :
    text.charCodeAt(16) !== 0x3a
  ) {
    return undefined;
  }
  // Then: nothing, "Z", or "." and 1-9 digits and an optional "Z".
  let end = n;
  if (text.charCodeAt(end - 1) === 0x5a) end--; // Z
  let ms = 0;
  if (end > 19) {
    const fraction = end - 20;
    if (text.charCodeAt(19) !== 0x2e || fraction < 1 || fraction > 9 || digits(text, 20, fraction) < 0)
      return undefined;
    // Milliseconds are the first three digits of the fraction (V8 truncates the rest).
    ms = digits(text, 20, Math.min(3, fraction)) * (fraction === 1 ? 100 : fraction === 2 ? 10 : 1);
  }
  if (year < 100 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
}

/** The decimal number in text[at, at + count), or -1 when any of it is not a digit 0-9. */
function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Days in a month of the proleptic Gregorian calendar, as Date.UTC counts
 * them (`new Date(Date.UTC(year, month, 0)).getUTCDate()`, without a Date per
 * timestamp parsed); for years 100 and later (below, Date.UTC maps 0-99 to 1900+).
 */
export function daysInMonth(year: number, month: number): number {
  if (month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) return 29;
  return MONTH_DAYS[month - 1] as number;
}

function parseTimestampText(value: string): Date | null {
  const text = value.trim();
  if (!ISO_LIKE.test(text)) return null;
  const [, y, mo, d] = /^(\d{4})-(\d{2})-(\d{2})/.exec(text) as RegExpExecArray;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
  const zoned = /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(text) || text.length === 10 ? text : `${text}Z`;
  const date = new Date(zoned.replace(' ', 'T'));
  return Number.isNaN(date.getTime()) ? null : date;
}
