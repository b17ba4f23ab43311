/**
 * Rows → COPY CSV. Each value is checked against its column first (the same
 * rules as the repositories), so a bad value is rejected here with its table
 * and column named, instead of failing a whole COPY batch in the database.
 */

import { toArrayLiteral } from '../db/types.js';
import { FerryError } from '../errors.js';
import type { ColumnDef } from '../schema/column.js';
import { validateValues } from '../schema/validate.js';
import type { Target } from './targets.js';

export interface RowProblem {
  column?: string;
  reason: string;
}

/** Validate an insert row; returns the problem, or null when the row can be written. */
export function checkRow(target: Target, row: Record<string, unknown>): RowProblem | null {
  try {
    validateValues(target.table, row, 'insert');
  } catch (err) {
    if (err instanceof FerryError) {
      const column = err.details.column as string | undefined;
      return { column, reason: stripPrefix(err.message) };
    }
    throw err;
  }
  if (!hasJsonColumn(target)) return null;
  for (const name of Object.keys(row)) {
    const value = row[name];
    if (value === null || value === undefined || typeof value !== 'object') continue;
    if (target.table.columns[name]?.def.kind !== 'json') continue;
    // The check is on the text COPY will send (kept for jsonField, so the value is serialised once): a walk
    // of the value (hasNul) was 3-5% of a council import's CPU, on top of the serialisation.
    const text = JSON.stringify(value);
    if (text === undefined) continue;
    jsonText.set(value, text);
    if (jsonTextHasNul(text)) {
      return {
        column: name,
        reason: `${target.name}.${name} contains a NUL (\\u0000) character, which jsonb cannot store`,
      };
    }
  }
  return null;
}

const jsonColumns = new WeakMap<Target, boolean>();
/** Whether the target has a json column at all (most rows of most imports need no NUL walk). */
function hasJsonColumn(target: Target): boolean {
  let has = jsonColumns.get(target);
  if (has === undefined) {
    has = Object.values(target.table.columns).some((c) => c.def.kind === 'json');
    jsonColumns.set(target, has);
  }
  return has;
}

function stripPrefix(message: string): string {
  return message.replace(/\.$/, '');
}

/**
 * The CSV quote character Ferry's COPY uses: \x01 instead of '"'. Data almost
 * never holds it, so a field needs no escaping, where every '"' of a JSON
 * value would have to be doubled (a third of the CPU spent on JSON columns).
 */
export const CSV_QUOTE = '\u0001';

/** COPY options matching `csvField`. */
export const COPY_CSV_OPTIONS = "format csv, quote e'\\x01'";

/** One value as a CSV field (see CSV_QUOTE). `null`/`undefined` → unquoted empty (NULL). */
export function csvField(target: Target, column: string, value: unknown): string {
  return encoderOf(target.table.columns[column]?.def)(value);
}

/** `csvField` for one column, its definition looked up once. */
export type FieldEncoder = (value: unknown) => string;

const encoders = new WeakMap<Target, Map<string, FieldEncoder>>();

/**
 * The encoder of each of `columns`: what an import calls per value instead of
 * `csvField`, which looks the column up again for every one.
 */
export function fieldEncoders(target: Target, columns: readonly string[]): FieldEncoder[] {
  let byColumn = encoders.get(target);
  if (!byColumn) {
    byColumn = new Map();
    encoders.set(target, byColumn);
  }
  return columns.map((column) => {
    let encoder = byColumn.get(column);
    if (!encoder) {
      encoder = encoderOf(target.table.columns[column]?.def);
      byColumn.set(column, encoder);
    }
    return encoder;
  });
}

const encoderOf = (def: ColumnDef | undefined): FieldEncoder =>
  def?.kind === 'json' && !def.isArray ? jsonField : valueField;

/** A (non-array) json column: any value is JSON, a string too. */
function jsonField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? jsonText.get(value) : undefined;
  return quoted(text ?? JSON.stringify(value));
}

/**
 * JSON texts of json columns' values, serialised by checkRow just before the
 * row is encoded (the value is not changed in between: one synchronous pass).
 */
const jsonText = new WeakMap<object, string>();

/**
 * Whether a `JSON.stringify` text holds a NUL: a `\u0000` escape, not the
 * text of one (`\\u0000`, a backslash then `u0000`), told apart by the
 * number of backslashes before it. jsonb refuses exactly these; keys whose
 * value is undefined are not in the text, and an object's `toJSON` is.
 */
export function jsonTextHasNul(text: string): boolean {
  for (let i = text.indexOf('\\u0000'); i >= 0; i = text.indexOf('\\u0000', i + 1)) {
    let slashes = 0;
    for (let j = i - 1; j >= 0 && text.charCodeAt(j) === 0x5c; j--) slashes++;
    if (slashes % 2 === 0) return true;
  }
  return false;
}

function valueField(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return quoted(value);
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value)) return quoted(toArrayLiteral(value));
  return quoted(JSON.stringify(value));
}

// Quoted, so an empty string stays '' (unquoted empty is NULL) and commas/newlines are data.
const quoted = (text: string): string =>
  `${CSV_QUOTE}${text.includes(CSV_QUOTE) ? text.replaceAll(CSV_QUOTE, CSV_QUOTE + CSV_QUOTE) : text}${CSV_QUOTE}`;

/** The fields of a line `csvField` wrote, as text (null for NULL); with `last`, only fields 0..last. */
export function csvLineFields(line: string, last = Number.POSITIVE_INFINITY): (string | null)[] {
  const out: (string | null)[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === CSV_QUOTE) {
      let text = '';
      i++;
      for (;;) {
        const close = line.indexOf(CSV_QUOTE, i);
        if (close < 0) {
          text += line.slice(i);
          i = line.length;
          break;
        }
        text += line.slice(i, close);
        if (line[close + 1] !== CSV_QUOTE) {
          i = close + 1;
          break;
        }
        text += CSV_QUOTE;
        i = close + 2;
      }
      out.push(text);
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      const field = line.slice(i, end);
      out.push(field === '' ? null : field);
      i = end;
    }
    if (i >= line.length || out.length > last) return out;
    i++; // the comma
  }
}
