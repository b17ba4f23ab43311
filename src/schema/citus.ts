/**
 * Citus distribution: `table(...).distributedBy('user_id')` shards a table
 * across the cluster by a column (`create_distributed_table`), and
 * `table(...).reference()` copies a small table to every node
 * (`create_reference_table`).
 *
 * One set of migrations runs on Citus in production and on plain PostgreSQL
 * or PGlite in development and tests, so every Citus call is guarded: it
 * runs only where the `citus` extension is installed (the cluster operator
 * installs it; it needs `shared_preload_libraries`, so a schema does not
 * create it), and never inside Ferry's shadow (migrate/shadow.ts sets
 * `ferry.shadow`), whose scratch tables must stay plain. On plain PostgreSQL
 * the statement is a no-op.
 *
 * The catalog of a plain server has no trace of a distribution, so Ferry
 * learns what earlier migrations distributed from a marker comment each
 * distribution change carries (`-- citus distribution: {...}`), as it does
 * for `raw()`; introspection and drift checks leave distribution out.
 */
import { E_SCHEMA, FerryError } from '../errors.js';
import { assertIdentifier, quoteIdent } from './identifiers.js';
import type { DistributionIR, SchemaIR, TableIR } from './ir.js';
import { literal } from './sql.js';

/** Options of `distributedBy()`. */
export interface DistributedByOptions {
  /**
   * The table to co-locate with (its shards on the same nodes, so joins and
   * foreign keys on the distribution column stay on one node): a table or
   * its name, `'default'` (Citus's choice: the group of tables distributed
   * by a column of the same type) or `'none'` (a group of its own).
   */
  colocateWith?: { readonly name: string } | string;
}

/**
 * Citus's own extensions: installed by whoever runs the cluster, on every
 * node (`shared_preload_libraries`, then `CREATE EXTENSION citus` on the
 * coordinator and each worker), never by a migration. Introspection leaves
 * them out, as it leaves out plpgsql, so `migrate check` on a Citus database
 * does not report them as drift; `extension('citus')` is refused.
 */
export const CITUS_EXTENSIONS: readonly string[] = ['citus', 'citus_columnar'];

export const CITUS_GUARD =
  "EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AND current_setting('ferry.shadow', true) IS DISTINCT FROM 'on'";

/** The IR of `distributedBy(column, options)`; `table` names the table for error messages. */
export function distributedIR(table: string, column: string, options: DistributedByOptions = {}): DistributionIR {
  const c = options.colocateWith;
  const colocateWith = c === undefined ? 'default' : typeof c === 'string' ? c : c.name;
  assertIdentifier(colocateWith, `colocateWith of table ${table}`);
  if (colocateWith === table) {
    throw new FerryError(E_SCHEMA, `Table ${table}: distributedBy() cannot co-locate a table with itself.`);
  }
  return { kind: 'distributed', column, colocateWith };
}

/** `PERFORM fn(...)` wrapped in the Citus guard: a no-op on PostgreSQL without Citus. */
function guarded(call: string): string {
  return `DO $$ BEGIN IF ${CITUS_GUARD} THEN PERFORM ${call}; END IF; END $$`;
}

const rel = (table: string) => literal(quoteIdent(table));

/**
 * ```sql
 * -- distributedBy('user_id', { colocateWith: users }) on messages:
 * DO $$ BEGIN IF EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AND ... THEN
 *   PERFORM create_distributed_table('messages', 'user_id', colocate_with => 'users'); END IF; END $$
 * -- reference() on plans:
 * DO $$ BEGIN IF ... THEN PERFORM create_reference_table('plans'); END IF; END $$
 * ```
 */
export function distributeSql(table: string, d: DistributionIR): string {
  if (d.kind === 'reference') return guarded(`create_reference_table(${rel(table)})`);
  const colocate = d.colocateWith === 'default' ? '' : `, colocate_with => ${colocateArg(d.colocateWith)}`;
  return guarded(`create_distributed_table(${rel(table)}, ${literal(d.column)}${colocate})`);
}

/** `undistribute_table`: the rows come back to the coordinator as a plain table. */
export function undistributeSql(table: string): string {
  return guarded(`undistribute_table(${rel(table)})`);
}

/** `alter_distributed_table`: a new distribution column or co-location group (moves every row). */
export function redistributeSql(table: string, d: DistributionIR & { kind: 'distributed' }): string {
  return guarded(
    `alter_distributed_table(${rel(table)}, distribution_column => ${literal(d.column)}, colocate_with => ${colocateArg(d.colocateWith)})`,
  );
}

const colocateArg = (c: string) => (c === 'default' || c === 'none' ? literal(c) : rel(c));

/**
 * Reference tables first, then distributed tables, each after the table it
 * is co-located with and the tables its foreign keys reference (Citus
 * advises distributing the referenced table first: an existing foreign key
 * to a table not yet distributed is refused).
 */
export function sortDistributed(tables: readonly TableIR[]): TableIR[] {
  const byName = new Map(tables.filter((t) => t.distribution).map((t) => [t.name, t]));
  const out: TableIR[] = [];
  const seen = new Set<string>();
  const visit = (t: TableIR) => {
    if (seen.has(t.name)) return;
    seen.add(t.name);
    const d = t.distribution!;
    const before = d.kind === 'distributed' ? [d.colocateWith] : [];
    before.push(...t.foreignKeys.map((fk) => fk.references.table));
    for (const name of before) {
      const target = byName.get(name);
      if (target) visit(target);
    }
    out.push(t);
  };
  for (const t of byName.values()) if (t.distribution!.kind === 'reference') visit(t);
  for (const t of byName.values()) visit(t);
  return out;
}

/** The statements distributing the tables of a schema created from nothing (see ddl.ts `createStatements`). */
export function distributeStatements(tables: readonly TableIR[]): string[] {
  return sortDistributed(tables).map((t) => distributeSql(t.name, t.distribution!));
}

// ---------------------------------------------------------------- markers

export const DISTRIBUTION_MARKER = '-- citus distribution: ';

/** The marker a distribution change carries (null: the table is no longer distributed). */
export function distributionMarker(table: string, d: DistributionIR | null): string {
  return `${DISTRIBUTION_MARKER}${JSON.stringify({ table, distribution: d })}`;
}

/** Each table's distribution as the migrations' up files (in order) leave it, from their markers. */
export function distributionFromMigrations(ups: readonly string[]): Map<string, DistributionIR> {
  const out = new Map<string, DistributionIR>();
  for (const text of ups) {
    for (const line of text.split('\n')) {
      if (!line.startsWith(DISTRIBUTION_MARKER)) continue;
      try {
        const m = JSON.parse(line.slice(DISTRIBUTION_MARKER.length).replace(/;\s*$/, '')) as {
          table: string;
          distribution: DistributionIR | null;
        };
        if (m.distribution) out.set(m.table, m.distribution);
        else out.delete(m.table);
      } catch {
        // A marker edited beyond parsing is ignored (the table then reads as not distributed).
      }
    }
  }
  return out;
}

/** `ir` with each table's `distribution` taken from `of` (by table name); absent when `of` has none. */
export function withDistribution(ir: SchemaIR, of: ReadonlyMap<string, DistributionIR>): SchemaIR {
  return {
    ...ir,
    tables: ir.tables.map((t) => {
      const { distribution: _, ...rest } = t;
      const d = of.get(t.name);
      return d ? { ...rest, distribution: d } : rest;
    }),
  };
}

/** The distributions of `ir`'s tables, by table name. */
export function distributionsOf(ir: SchemaIR): Map<string, DistributionIR> {
  return new Map(ir.tables.flatMap((t) => (t.distribution ? [[t.name, t.distribution] as const] : [])));
}

export function sameDistribution(a: DistributionIR | undefined, b: DistributionIR | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
