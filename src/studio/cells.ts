/**
 * Values between the database and the browser, as api.ts's `Cell` says:
 * out, a value read through Ferry's parsers (src/db/types.ts) becomes JSON
 * that loses nothing (bigint and numeric as strings, timestamps as ISO in
 * UTC, json wrapped, bytea as its size, sensitive columns masked); in, a Cell
 * becomes the text Postgres parses for the column's type (`$1::type`), so no
 * value is ever spliced into SQL and none is converted twice.
 */
import type { Cell, CellKind } from './api.js';
import { badRequest } from './http.js';

export const MASKED: Cell = { $masked: true };

/** A parsed database value as a Cell for a column of `kind`. */
export function toCell(value: unknown, kind: CellKind): Cell {
  if (value === null || value === undefined) return null;
  if (kind === 'json') return { $json: value };
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return kind === 'bigint' ? String(value) : value;
    // ±infinity timestamps and float NaN/Infinity: Postgres's own spellings.
    return Number.isNaN(value) ? 'NaN' : value > 0 ? 'infinity' : '-infinity';
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (value instanceof Uint8Array) return { $bytea: value.byteLength };
  if (Array.isArray(value)) return value.map((v) => toCell(v, elementKind(v)));
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  // Types parsed to objects by an extension's parser (none today): as JSON, not a lossy "[object Object]".
  return { $json: value };
}

/** The kind of an array element, from its parsed value (an array column's elements share one type). */
function elementKind(value: unknown): CellKind {
  if (typeof value === 'bigint') return 'bigint';
  if (value instanceof Date) return 'timestamp';
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array))
    return 'json';
  return 'text';
}

/**
 * The text Postgres parses for `cell` in a column of `kind` (used as
 * `$n::<type>`). `what` names the value for the error of one that cannot be
 * written (a masked cell, a bytea size).
 */
export function cellToText(cell: Cell | undefined, kind: CellKind, what: string): string | null {
  if (cell === null || cell === undefined) return null;
  if (typeof cell === 'string') return cell;
  if (typeof cell === 'number' || typeof cell === 'boolean') return String(cell);
  if (Array.isArray(cell)) return arrayLiteral(cell, what);
  if ('$json' in cell) return JSON.stringify(cell.$json);
  if (kind === 'json') return JSON.stringify(cell);
  if ('$masked' in cell)
    throw badRequest(`${what} is a masked (sensitive) value: it cannot be sent back; leave the column out.`);
  if ('$bytea' in cell)
    throw badRequest(`${what} is a bytea shown by its size: Studio cannot write bytea; leave the column out.`);
  throw badRequest(`${what} is not a value Studio understands (${JSON.stringify(cell).slice(0, 60)}).`);
}

/** A Postgres array literal (`{"a","b",NULL}`) of cells, every element quoted. */
function arrayLiteral(cells: Cell[], what: string): string {
  const parts = cells.map((c) => {
    if (Array.isArray(c)) return arrayLiteral(c, what);
    const text = cellToText(c, 'text', what);
    return text === null ? 'NULL' : `"${text.replace(/[\\"]/g, (m) => `\\${m}`)}"`;
  });
  return `{${parts.join(',')}}`;
}

/** True when `value` is shaped like a Cell (checked on everything a client sends). */
export function isCell(value: unknown, depth = 0): value is Cell {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return depth < 8 && value.every((v) => isCell(v, depth + 1));
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length === 1 && (keys[0] === '$json' || keys[0] === '$masked' || keys[0] === '$bytea');
  }
  return false;
}

/** A SQL literal of `text` for display (`'it''s'`), or NULL. Never executed: only shown beside what ran. */
export function literal(text: unknown): string {
  if (text === null || text === undefined) return 'NULL';
  return `'${String(text).replace(/'/g, "''")}'`;
}

/** `sql` with each `$n` replaced by its parameter as a literal: what the UI shows as "the SQL it ran". */
export function inlineParams(sql: string, params: readonly unknown[]): string {
  return sql.replace(/\$(\d+)/g, (m, n: string) => {
    const i = Number(n) - 1;
    return i >= 0 && i < params.length ? literal(params[i]) : m;
  });
}
