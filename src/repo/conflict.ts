import { E_BAD_ARGUMENT, FerryError } from '../errors.js';
import type { Table } from '../schema/table.js';
import { columnOf } from '../schema/validate.js';

/**
 * Which column sets `upsert({ conflict })` may name, read once per table from
 * the schema: Postgres accepts `ON CONFLICT (cols)` only when a unique index
 * on exactly those columns (in any order) exists, and otherwise fails the
 * statement with a bare "there is no unique or exclusion constraint matching
 * the ON CONFLICT specification".
 *
 * Partial unique indexes (`uniqueIndex().on(...).where(...)`) are refused:
 * Postgres infers one only when the statement repeats a WHERE that implies the
 * index predicate, which `upsert` does not take. Such an upsert is written
 * with the query builder (`onConflict((oc) => oc.columns([...]).where(...))`).
 * Expression indexes cannot be named by columns at all.
 */
interface ConflictTargets {
  /** Sorted, comma-joined column sets of the primary key, unique constraints and full unique indexes. */
  full: Set<string>;
  /** The same for partial unique indexes, with their names for the message. */
  partial: Map<string, string>;
  /** Every usable set, for the message. */
  described: string[];
}

const targets = new WeakMap<Table, ConflictTargets>();

const setKey = (columns: readonly string[]) => [...new Set(columns)].sort().join(',');

function targetsOf(table: Table): ConflictTargets {
  let found = targets.get(table);
  if (found) return found;
  const ir = table.toIR();
  const sets: string[][] = [];
  if (ir.primaryKey) sets.push(ir.primaryKey.columns);
  for (const u of ir.uniques) sets.push(u.columns);
  const partial = new Map<string, string>();
  for (const index of ir.indexes) {
    if (!index.unique || index.keys.some((k) => k.column === null)) continue;
    const columns = index.keys.map((k) => k.column!);
    if (index.where === null) sets.push(columns);
    else partial.set(setKey(columns), index.name);
  }
  found = {
    full: new Set(sets.map(setKey)),
    partial,
    described: sets.map((s) => `[${s.join(', ')}]`),
  };
  targets.set(table, found);
  return found;
}

/** Check `upsert`'s `conflict` option before any query; returns the column list to use. */
export function checkConflictTarget(table: Table, conflict: unknown): string[] {
  if (!Array.isArray(conflict) || conflict.length === 0) {
    throw new FerryError(
      E_BAD_ARGUMENT,
      `upsert into ${table.name}: conflict must be a non-empty array of column names, got ${Array.isArray(conflict) ? 'an empty array' : conflict === null ? 'null' : typeof conflict}.`,
      { details: { table: table.name } },
    );
  }
  for (const name of conflict) columnOf(table, name);
  const columns = conflict as string[];
  const known = targetsOf(table);
  const key = setKey(columns);
  if (known.full.has(key)) return columns;
  const partialIndex = known.partial.get(key);
  const usable =
    known.described.length > 0
      ? known.described.join(', ')
      : 'none (the table has no primary key or unique constraint)';
  const why =
    partialIndex === undefined
      ? `no primary key, unique constraint or unique index covers exactly [${columns.join(', ')}]`
      : `the only unique index on [${columns.join(', ')}] is the partial index ${partialIndex}, which Postgres uses for ON CONFLICT only with a matching WHERE; write this upsert with db.insertInto(...).onConflict((oc) => oc.columns([...]).where(...))`;
  throw new FerryError(
    E_BAD_ARGUMENT,
    `upsert into ${table.name}: conflict on ${why}. Usable conflict targets: ${usable}.`,
    {
      details: { table: table.name, conflict: columns },
    },
  );
}
