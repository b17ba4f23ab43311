import { E_INVALID_VALUE, FerryError } from '../errors.js';
import type { Column } from '../schema/column.js';
import type { Table } from '../schema/table.js';

/**
 * A validated value as the driver should receive it. node-postgres sends a JS
 * array as a Postgres array literal, which a json column rejects, so JSON is
 * serialised here and both backends store the same. JSON.stringify throws on
 * a BigInt or a cycle and returns undefined for a function or symbol; either
 * would otherwise surface as a bare TypeError (or a silent NULL) from deep in
 * the driver, so it becomes an E_INVALID_VALUE naming the column.
 */
export function encodeValue(table: Table, column: Column, value: unknown): unknown {
  if (column.def.kind !== 'json' || value === null) return value;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw notJson(table, column, (err as Error).message, err);
  }
  if (text === undefined) throw notJson(table, column, `got ${typeof value}`);
  // json[] columns go to the driver as arrays (each element serialised there); the check above is all they need.
  return column.def.isArray ? value : text;
}

function notJson(table: Table, column: Column, reason: string, cause?: unknown): FerryError {
  return new FerryError(
    E_INVALID_VALUE,
    `Invalid value for ${table.name}.${column.name} (${column.def.type}${column.def.isArray ? '[]' : ''}): not representable as JSON (${reason}); convert BigInt to string or number and remove circular references.`,
    { cause, details: { table: table.name, column: column.name } },
  );
}
