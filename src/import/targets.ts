/**
 * What the loader needs to know about each target table, worked out once from
 * the schema and the import definition: writable columns, the natural key
 * (checked against a real unique constraint, since ON CONFLICT needs one),
 * foreign-key load order, and how each value is written as CSV for COPY.
 */
import { sql } from 'kysely';
import type { DbHandle } from '../db/open.js';
import { E_UNKNOWN_COLUMN, FerryError } from '../errors.js';
import type { Column } from '../schema/column.js';
import { quoteIdent } from '../schema/identifiers.js';
import { defineSchema, type Schema } from '../schema/schema.js';
import type { Table } from '../schema/table.js';
import type { OnConflict, TableImportOptions } from './define.js';
import { E_IMPORT_DEFINITION, E_IMPORT_TARGET_MISSING } from './errors.js';

export interface Target {
  table: Table;
  name: string;
  /** Position in load order (parents first); also names the staging table. */
  order: number;
  key: string[];
  onConflict: Exclude<OnConflict, object>;
  /** onConflict `if-newer`: the column that orders versions (onConflict is then 'update'); null otherwise. */
  newerBy: string | null;
  /** Which of several rows with the same key in one run is written (see TableImportOptions.duplicates). */
  duplicates: 'first' | 'last';
  insertOnly: Set<string>;
  /** Writable columns (not generated, not identity always). */
  writable: Set<string>;
  /** Tables this one references (foreign keys), other than itself. */
  parents: Set<string>;
  /** Of those, the ones that are targets of this import too, by name. */
  parentTargets: ReadonlyMap<string, Target>;
  /** Column tuples of this table that other targets' foreign keys reference (rows COPied here are remembered by them). */
  referenced: string[][];
  staging: string;
}

export function resolveSchema(module: unknown): Schema {
  if (module && typeof module === 'object' && 'tables' in module && 'toIR' in module) return module as Schema;
  return defineSchema(module as Record<string, unknown>);
}

export function planTargets(schema: Schema, tables: Record<string, TableImportOptions<any> | undefined>): Target[] {
  const listed = Object.entries(tables).filter((e): e is [string, TableImportOptions<any>] => e[1] !== undefined);
  if (listed.length === 0) {
    throw new FerryError(E_IMPORT_DEFINITION, 'The import lists no tables: add `tables: { <table>: { key: [...] } }`.');
  }
  const byName = new Map<string, Omit<Target, 'order' | 'staging' | 'parentTargets' | 'referenced'>>();
  for (const [name, options] of listed) {
    const table = schema.table(name);
    if (!table) {
      const known = schema.tables.map((t) => t.name).join(', ');
      throw new FerryError(
        E_IMPORT_DEFINITION,
        `tables.${name}: the schema has no table "${name}" (tables: ${known}).`,
      );
    }
    const writable = new Set(
      Object.values(table.columns)
        .filter((c) => c.def.generated === null && c.def.identity !== 'always')
        .map((c) => c.name),
    );
    const key = [...(options.key ?? [])];
    if (key.length === 0)
      throw new FerryError(E_IMPORT_DEFINITION, `tables.${name}.key is empty: name the natural key.`);
    for (const column of [...key, ...(options.insertOnly ?? [])]) {
      if (!Object.hasOwn(table.columns, column)) {
        throw new FerryError(E_IMPORT_DEFINITION, `tables.${name}: the table has no column "${column}".`);
      }
    }
    checkKeyIsUnique(table, key);
    const { onConflict, newerBy } = conflictPolicy(table, name, options);
    const duplicates = options.duplicates ?? 'first';
    if (duplicates !== 'first' && duplicates !== 'last') {
      throw new FerryError(E_IMPORT_DEFINITION, `tables.${name}.duplicates must be 'first' or 'last'.`);
    }
    const parents = new Set(
      table
        .toIR()
        .foreignKeys.map((fk) => fk.references.table)
        .filter((t) => t !== name),
    );
    byName.set(name, {
      table,
      name,
      key,
      onConflict,
      newerBy,
      duplicates,
      insertOnly: new Set(options.insertOnly ?? []),
      writable,
      parents,
    });
  }
  const targets: Target[] = loadOrder(byName).map((t, order) => ({
    ...t,
    order,
    staging: `ferry_stage_${order}`,
    parentTargets: new Map(),
    referenced: [],
  }));
  const targetNamed = new Map(targets.map((t) => [t.name, t]));
  for (const t of targets) {
    for (const fk of t.table.toIR().foreignKeys) {
      const parent = targetNamed.get(fk.references.table);
      if (!parent || parent === t) continue;
      (t.parentTargets as Map<string, Target>).set(parent.name, parent);
      const cols = fk.references.columns;
      if (!parent.referenced.some((r) => r.length === cols.length && r.every((c, i) => c === cols[i]))) {
        parent.referenced.push([...cols]);
      }
    }
  }
  return targets;
}

/** Kinds of column whose values `>` orders as versions. */
const VERSION_KINDS = new Set(['int', 'bigint', 'numeric', 'float', 'date', 'timestamp']);

function conflictPolicy(
  table: Table,
  name: string,
  options: TableImportOptions<any>,
): { onConflict: Exclude<OnConflict, object>; newerBy: string | null } {
  const given: unknown = options.onConflict ?? 'update';
  if (given === 'update' || given === 'skip' || given === 'error') return { onConflict: given, newerBy: null };
  const policy = given as { update?: unknown; by?: unknown };
  const usage = `tables.${name}.onConflict must be 'update', 'skip', 'error' or { update: 'if-newer', by: '<column>' }`;
  if (typeof given !== 'object' || given === null || policy.update !== 'if-newer' || typeof policy.by !== 'string') {
    throw new FerryError(E_IMPORT_DEFINITION, `${usage}.`);
  }
  const by = policy.by;
  const column = table.columns[by];
  if (!column) throw new FerryError(E_IMPORT_DEFINITION, `${usage}: the table has no column "${by}".`);
  if (options.key.includes(by) || options.insertOnly?.includes(by)) {
    throw new FerryError(
      E_IMPORT_DEFINITION,
      `tables.${name}.onConflict.by: "${by}" is part of the key or insert-only, so it never changes; name the column that orders versions (updated_at, version).`,
    );
  }
  if (!VERSION_KINDS.has(column.def.kind) || column.def.isArray) {
    throw new FerryError(
      E_IMPORT_DEFINITION,
      `tables.${name}.onConflict.by: "${by}" is ${column.def.type}${column.def.isArray ? '[]' : ''}; it must be a timestamp, date or number column, whose order says which row is newer.`,
    );
  }
  return { onConflict: 'update', newerBy: by };
}

/** ON CONFLICT (key) needs a primary key, unique constraint or plain unique index on exactly those columns. */
function checkKeyIsUnique(table: Table, key: string[]): void {
  const ir = table.toIR();
  const same = (cols: readonly string[]) => cols.length === key.length && cols.every((c) => key.includes(c));
  const candidates: string[][] = [];
  if (ir.primaryKey) candidates.push(ir.primaryKey.columns);
  for (const u of ir.uniques) candidates.push(u.columns);
  for (const i of ir.indexes) {
    if (i.unique && i.where === null && i.keys.every((k) => k.column !== null)) {
      candidates.push(i.keys.map((k) => k.column as string));
    }
  }
  if (candidates.some(same)) return;
  const options = candidates.map((c) => `[${c.join(', ')}]`).join(', ') || 'none';
  throw new FerryError(
    E_IMPORT_DEFINITION,
    `tables.${table.name}.key [${key.join(', ')}] is not a primary key or unique constraint of ${table.name} ` +
      `(unique keys: ${options}). Add a unique constraint on it in the schema, or use one of those.`,
  );
}

/** Parents before children; tables in a reference cycle keep their listed order. */
function loadOrder<T extends { name: string; parents: Set<string> }>(byName: Map<string, T>): T[] {
  const out: T[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: T) => {
    if (state.get(t.name)) return;
    state.set(t.name, 'visiting');
    for (const p of t.parents) {
      const parent = byName.get(p);
      if (parent && state.get(p) !== 'visiting') visit(parent);
    }
    state.set(t.name, 'done');
    out.push(t);
  };
  for (const t of byName.values()) visit(t);
  return out;
}

/** Whether `name` is a column of the target, for a clear reject instead of a database error. */
export function columnFor(target: Target, name: string): Column {
  const column = Object.hasOwn(target.table.columns, name) ? target.table.columns[name] : undefined;
  if (!column) {
    throw new FerryError(E_UNKNOWN_COLUMN, `${target.name} has no column "${name}"`, {
      details: { table: target.name, column: name },
    });
  }
  return column;
}

// Types without an equality operator; compared as text.
const NO_EQUALITY = new Set(['xml', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle']);

/** `a` as a comparable expression: json → jsonb (json has no `=`), geometric → text. */
export function comparable(target: Target, column: string, alias: string): string {
  const def = target.table.columns[column]?.def;
  const ref = `${alias}.${quoteIdent(column)}`;
  if (!def) return ref;
  if (def.type === 'json') return def.isArray ? `${ref}::text` : `${ref}::jsonb`;
  if (NO_EQUALITY.has(def.type)) return `${ref}::text`;
  return ref;
}

/** Fail early, naming the missing tables, when the migrations have not been applied. */
export async function assertTargetsExist(db: DbHandle, targets: Target[]): Promise<void> {
  const { rows } = await sql<{ name: string; ok: boolean }>`
    select name, to_regclass(quote_ident(name)) is not null as ok
    from unnest(${targets.map((t) => t.name)}::text[]) as name`.execute(db.db);
  const missing = rows.filter((r) => !r.ok).map((r) => r.name);
  if (missing.length > 0) {
    throw new FerryError(
      E_IMPORT_TARGET_MISSING,
      `${db.redactedUrl} has no table ${missing.join(', ')}. Create the schema first: ferry migrate up.`,
      { details: { tables: missing } },
    );
  }
}
