/**
 * NDJSON lines from rows as Ferry reads them (src/db/types.ts: the same values
 * a repository returns on either backend), mapped to JSON where JSON has no
 * such type:
 *
 *   text, uuid, enum, numeric, date, interval → string (as read; numeric stays exact)
 *   int2/int4/float → number      int8 → number, or a string past 2^53 (a bigint; JSON numbers lose it)
 *   bool → boolean                 json/jsonb → the JSON value itself
 *   timestamp/timestamptz → ISO-8601 UTC string, e.g. "2026-03-01T12:00:00.000Z"
 *   ±infinity timestamps, NaN/±Infinity floats → "infinity", "-infinity", "NaN" (Postgres's spelling)
 *   bytea → base64 string          arrays → JSON arrays, element by element   NULL → null
 *
 * Every column is present in every line (NULL as null), in the SELECT's order.
 */

function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  // `this[key]` is the value before Date.prototype.toJSON ran (as in the cache codec).
  const raw = this[key];
  if (typeof raw === 'bigint') return raw.toString();
  if (typeof raw === 'number' && !Number.isFinite(raw)) {
    return Number.isNaN(raw) ? 'NaN' : raw > 0 ? 'infinity' : '-infinity';
  }
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? null : raw.toISOString();
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  return value;
}

/** One NDJSON line (with its `\n`) for a row. */
export function ndjsonLine(row: Record<string, unknown>): string {
  return `${JSON.stringify(row, replacer)}\n`;
}
