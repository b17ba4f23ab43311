/**
 * How cached values are written to Redis (and sized in L1).
 *
 * JSON, extended with the types repository rows contain, so a row read back
 * from the cache equals the row read from the database:
 *
 * - `Date` round-trips as a `Date` (invalid dates too);
 * - `bigint` round-trips as a `bigint` (Ferry reads int8 beyond ±2^53 that way);
 * - `Uint8Array` (and `Buffer`, bytea columns) round-trips as a `Uint8Array`;
 * - `undefined` at the top level is the cached absence of negative caching.
 *
 * Everything else follows `JSON.stringify`: `undefined` properties are
 * dropped, `NaN`/`Infinity` become `null`, class instances become plain
 * objects, `Map`/`Set` become `{}`. Functions and symbols at the top level and
 * circular structures are refused with E_CACHE_VALUE.
 *
 * Tagged values are single-key objects whose key starts with a NUL character:
 * JSON text from PostgreSQL can never contain one (jsonb rejects `\u0000`), so
 * user data cannot collide with a tag, and decoding can skip the restoring
 * walk entirely when the text holds no escaped NUL.
 */
import { cacheError, E_CACHE_VALUE } from './errors.js';

const DATE = '\u0000D';
const BIGINT = '\u0000B';
const BYTES = '\u0000U';
const UNDEFINED = '"\u0000undefined"';
const TAG_MARK = '\\u0000';

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Date) {
    const t = raw.getTime();
    return { [DATE]: Number.isNaN(t) ? null : t };
  }
  if (typeof raw === 'bigint') return { [BIGINT]: raw.toString() };
  if (raw instanceof Uint8Array)
    return { [BYTES]: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  return value;
}

/**
 * Replace tagged objects in a freshly parsed value, in place. A walk after a
 * plain `JSON.parse` is about 3× cheaper than a reviver, which V8 calls for
 * every value (primitives too) on a slow path.
 */
function restore(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = restore(value[i]);
    return value;
  }
  const obj = value as Record<string, unknown>;
  let count = 0;
  let tag: string | undefined;
  for (const k in obj) {
    count++;
    if (count === 1 && k.charCodeAt(0) === 0) tag = k;
    else if (count > 1) break;
  }
  if (count === 1 && tag !== undefined) {
    const v = obj[tag];
    // Strict: a tag holding anything encode() never writes is a corrupt value, not a guess.
    if (tag === DATE) {
      if (v === null) return new Date(Number.NaN);
      if (typeof v === 'number') return new Date(v);
      throw new SyntaxError('bad Date tag');
    }
    if (tag === BIGINT) {
      if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
      throw new SyntaxError('bad bigint tag');
    }
    if (tag === BYTES) {
      if (typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v)) return new Uint8Array(Buffer.from(v, 'base64'));
      throw new SyntaxError('bad bytes tag');
    }
  }
  for (const k in obj) {
    const v = obj[k];
    if (v !== null && typeof v === 'object') obj[k] = restore(v);
  }
  return obj;
}

/** Encode a value for Redis; throws E_CACHE_VALUE when it cannot be represented. */
export function encode(value: unknown): string {
  if (value === undefined) return UNDEFINED;
  if (typeof value === 'function' || typeof value === 'symbol') {
    throw cacheError(E_CACHE_VALUE, `A ${typeof value} cannot be cached: values are stored as JSON.`);
  }
  try {
    return JSON.stringify(value, replacer);
  } catch (err) {
    throw cacheError(E_CACHE_VALUE, `The value cannot be cached: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Decode what `encode` wrote. Throws (a SyntaxError) on anything else:
 * truncated or broken JSON, or a tag holding a value `encode` never writes.
 */
export function decode(text: string): unknown {
  if (text === UNDEFINED) return undefined;
  const parsed = JSON.parse(text);
  return text.includes(TAG_MARK) ? restore(parsed) : parsed;
}

/**
 * Freeze a decoded value (objects and arrays, deeply) so a caller mutating a
 * shared L1 entry fails loudly in strict code instead of corrupting what
 * every other caller reads. Dates and byte arrays cannot be frozen in place.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  if (value instanceof Date || ArrayBuffer.isView(value)) return value;
  Object.freeze(value);
  for (const v of Object.values(value as object)) deepFreeze(v);
  return value;
}
