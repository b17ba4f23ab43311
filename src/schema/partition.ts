/**
 * Declarative partitioning: `table(...).partitionBy('range', t.created_at)`
 * makes a partitioned table, `partition(name, of, bounds)` one of its
 * partitions (`CREATE TABLE … PARTITION OF … FOR VALUES …`).
 *
 * The IR keeps the key and the bound as Postgres prints them
 * (`pg_get_partkeydef`, `pg_get_expr(relpartbound)`); what the DSL renders
 * here is only valid SQL, and the shadow database (migrate/shadow.ts) turns
 * it into Postgres's spelling before anything is compared.
 */
import { E_SCHEMA, FerryError } from '../errors.js';
import type { Column } from './column.js';
import { assertIdentifier, quoteIdent as q } from './identifiers.js';
import type { PartitionByIR, PartitionIR, TableIR } from './ir.js';
import { literal, SqlExpr } from './sql.js';

export type PartitionStrategy = PartitionByIR['strategy'];
export type PartitionKey = Column | SqlExpr;
/** A column, its name, or an expression. */
type KeyArg = PartitionKey | string;

const STRATEGIES: readonly PartitionStrategy[] = ['range', 'list', 'hash'];

/** `MINVALUE` / `MAXVALUE` in a range bound: below / above every value. */
export const MINVALUE = Object.freeze({ bound: 'MINVALUE' as const });
export const MAXVALUE = Object.freeze({ bound: 'MAXVALUE' as const });

export type PartitionValue = string | number | bigint | boolean | Date | null | typeof MINVALUE | typeof MAXVALUE;

/**
 * A partition's bounds: `{ from, to }` for a range (`to` exclusive; arrays
 * for a multi-column key), `{ in: [...] }` for a list, `{ modulus, remainder }`
 * for a hash, or `'default'` (rows no other partition takes; not for hash).
 */
export type PartitionBounds =
  | { from: PartitionValue | readonly PartitionValue[]; to: PartitionValue | readonly PartitionValue[] }
  | { in: readonly PartitionValue[] }
  | { modulus: number; remainder: number }
  | 'default'
  /** The clause verbatim, as `ferry pull` writes a bound it cannot spell as values: ``sql.raw("FOR VALUES IN ('a')")``. */
  | SqlExpr;

/** The table-extra form `table(...).partitionBy()` appends (see table.ts). */
export class PartitionByExtra {
  readonly kind = 'partitionBy';
  constructor(
    readonly strategy: PartitionStrategy,
    readonly keys: readonly PartitionKey[],
  ) {}
}

export function checkStrategy(strategy: string, what: string): PartitionStrategy {
  if (!STRATEGIES.includes(strategy as PartitionStrategy)) {
    throw new FerryError(E_SCHEMA, `${what}: partitionBy() takes 'range', 'list' or 'hash', got '${strategy}'.`);
  }
  return strategy as PartitionStrategy;
}

/** The key's SQL; an expression is parenthesised, as `PARTITION BY` requires. */
export function partitionKeySql(keys: readonly KeyArg[]): string {
  return keys.map((k) => (k instanceof SqlExpr ? `(${k.text})` : q(typeof k === 'string' ? k : k.name))).join(', ');
}

/** `RANGE (created_at)` (as `pg_get_partkeydef()` prints it) as IR; null when not of that shape. */
export function parsePartitionKey(def: string): PartitionByIR | null {
  const m = /^(RANGE|LIST|HASH) \((.*)\)$/s.exec(def);
  return m ? { strategy: m[1]!.toLowerCase() as PartitionStrategy, key: m[2]! } : null;
}

/** `PARTITION BY RANGE (created_at)`. */
export function partitionBySql(p: PartitionByIR): string {
  return `PARTITION BY ${p.strategy.toUpperCase()} (${p.key})`;
}

export function createPartition(p: PartitionIR): string {
  return `CREATE TABLE ${q(p.name)} PARTITION OF ${q(p.parent)} ${p.bound}${p.partitionBy ? ` ${partitionBySql(p.partitionBy)}` : ''}`;
}

function valueSql(v: PartitionValue): string {
  if (v === null) return 'NULL';
  if (v === MINVALUE || v === MAXVALUE) return v.bound;
  if (v instanceof Date) return literal(v.toISOString());
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return literal(v);
  throw new FerryError(E_SCHEMA, `A partition bound value must be a string, number, Date, null, MINVALUE or MAXVALUE.`);
}

/** `FOR VALUES …` or `DEFAULT` for `bounds`, checked against the parent's strategy and key width. */
export function boundSql(bounds: PartitionBounds, parent: PartitionByIR, what: string, width: number): string {
  const fail = (msg: string) => new FerryError(E_SCHEMA, `${what}: ${msg}`);
  if (bounds instanceof SqlExpr) return bounds.text;
  if (bounds === 'default') {
    if (parent.strategy === 'hash') throw fail('a hash-partitioned table cannot have a default partition.');
    return 'DEFAULT';
  }
  if ('from' in bounds) {
    if (parent.strategy !== 'range')
      throw fail(`{ from, to } bounds need a range-partitioned parent, not ${parent.strategy}.`);
    const side = (v: PartitionValue | readonly PartitionValue[]) => {
      const values = Array.isArray(v) ? (v as readonly PartitionValue[]) : [v as PartitionValue];
      if (values.length !== width)
        throw fail(`a range bound needs ${width} value(s), one per key column; got ${values.length}.`);
      return values.map(valueSql).join(', ');
    };
    return `FOR VALUES FROM (${side(bounds.from)}) TO (${side(bounds.to)})`;
  }
  if ('in' in bounds) {
    if (parent.strategy !== 'list') throw fail(`{ in } bounds need a list-partitioned parent, not ${parent.strategy}.`);
    if (bounds.in.length === 0) throw fail('{ in: [...] } needs at least one value.');
    return `FOR VALUES IN (${bounds.in.map(valueSql).join(', ')})`;
  }
  if ('modulus' in bounds) {
    if (parent.strategy !== 'hash')
      throw fail(`{ modulus, remainder } bounds need a hash-partitioned parent, not ${parent.strategy}.`);
    const { modulus, remainder } = bounds;
    if (
      !Number.isInteger(modulus) ||
      modulus < 1 ||
      !Number.isInteger(remainder) ||
      remainder < 0 ||
      remainder >= modulus
    ) {
      throw fail(`modulus must be a positive integer and 0 <= remainder < modulus; got ${modulus}, ${remainder}.`);
    }
    return `FOR VALUES WITH (MODULUS ${modulus}, REMAINDER ${remainder})`;
  }
  throw fail(`bounds must be { from, to }, { in }, { modulus, remainder } or 'default'.`);
}

/**
 * Postgres enforces a primary key or unique constraint per partition, so one
 * on a partitioned table must include every key column (and the key must not
 * contain expressions). Checked here so the error names the table and the
 * column instead of surfacing as a shadow-database failure.
 */
export function checkUniqueKeys(t: TableIR, keys: readonly PartitionKey[]): void {
  const uniques: { what: string; columns: readonly (string | null)[] }[] = [
    ...(t.primaryKey ? [{ what: `primary key ${t.primaryKey.name}`, columns: t.primaryKey.columns }] : []),
    ...t.uniques.map((u) => ({ what: `unique constraint ${u.name}`, columns: u.columns })),
    ...t.indexes
      .filter((i) => i.unique)
      .map((i) => ({ what: `unique index ${i.name}`, columns: i.keys.map((k) => k.column) })),
  ];
  for (const u of uniques) {
    for (const k of keys) {
      if (k instanceof SqlExpr) {
        throw new FerryError(
          E_SCHEMA,
          `${t.name}: the ${u.what} cannot be enforced because the partition key has an expression (${k.text}); Postgres allows unique constraints on partitioned tables only when the key is plain columns.`,
          { details: { table: t.name } },
        );
      }
      if (!u.columns.includes(k.name)) {
        throw new FerryError(
          E_SCHEMA,
          `${t.name}: the ${u.what} (${u.columns.join(', ')}) must include the partition key column "${k.name}" (Postgres enforces uniqueness per partition); add ${k.name} to it.`,
          { details: { table: t.name, column: k.name } },
        );
      }
    }
  }
}

// ---------------------------------------------------------------- partition()

const PARTITION = Symbol.for('ferry.partition');

/** Something partitions can be declared of: a partitioned table, or a sub-partitioned partition. */
export interface PartitionParent {
  readonly name: string;
  /** Its partitioning; null when not partitioned. */
  readonly partitioning: PartitionByIR | null;
  /** Number of key columns/expressions. */
  readonly keyWidth: number;
}

export class Partition implements PartitionParent {
  readonly kind = 'partition';
  readonly [PARTITION] = true;
  constructor(
    private readonly ir: PartitionIR,
    readonly keyWidth = 0,
  ) {}
  get name(): string {
    return this.ir.name;
  }
  get partitioning(): PartitionByIR | null {
    return this.ir.partitionBy ?? null;
  }
  /**
   * Sub-partition this partition; its own partitions name it as `of`.
   *
   * ```ts
   * const y2026 = partition('events_2026', events, { from: '2026-01-01', to: '2027-01-01' })
   *   .partitionBy('list', 'kind');
   * // CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
   * //   PARTITION BY LIST (kind)
   * ```
   */
  partitionBy(strategy: PartitionStrategy, ...keys: (KeyArg | readonly KeyArg[])[]): Partition {
    const flat = keys.flat() as KeyArg[];
    if (flat.length === 0) throw new FerryError(E_SCHEMA, `Partition ${this.ir.name}: partitionBy() needs a key.`);
    const by = { strategy: checkStrategy(strategy, `Partition ${this.ir.name}`), key: partitionKeySql(flat) };
    return new Partition({ ...this.ir, partitionBy: by }, flat.length);
  }
  toIR(): PartitionIR {
    return structuredClone(this.ir);
  }
}

/**
 * A partition of a partitioned table (`partitionBy()`), exported from the
 * schema module beside it.
 *
 * ```ts
 * export const events = table('events', { id: bigint().notNull(), at: timestamptz().notNull() },
 *   (t) => [primaryKey(t.id, t.at)]).partitionBy('range', 'at');
 * export const events2026_01 = partition('events_2026_01', events, { from: '2026-01-01', to: '2026-02-01' });
 * export const eventsOld = partition('events_old', events, { from: MINVALUE, to: '2026-01-01' });
 * export const eventsRest = partition('events_rest', events, 'default');
 * // CREATE TABLE events_2026_01 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')
 * // CREATE TABLE events_old PARTITION OF events FOR VALUES FROM (MINVALUE) TO ('2026-01-01')
 * // CREATE TABLE events_rest PARTITION OF events DEFAULT
 * ```
 *
 * List: `partition('users_eu', users, { in: ['de', 'fr'] })`; hash:
 * `partition('users_h0', users, { modulus: 4, remainder: 0 })`.
 */
export function partition(name: string, of: PartitionParent, bounds: PartitionBounds): Partition {
  assertIdentifier(name, 'Partition');
  const what = `Partition ${name}`;
  if (!of.partitioning) {
    throw new FerryError(E_SCHEMA, `${what}: ${of.name} is not partitioned; call .partitionBy(...) on it first.`);
  }
  return new Partition({ name, parent: of.name, bound: boundSql(bounds, of.partitioning, what, of.keyWidth) });
}

export function isPartition(value: unknown): value is Partition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PARTITION] === true;
}

/** Parents before their partitions, otherwise by name (code-unit order, as introspection sorts). */
export function sortPartitions(list: readonly PartitionIR[]): PartitionIR[] {
  const byName = new Map(list.map((p) => [p.name, p]));
  const depth = (p: PartitionIR): number => {
    let d = 0;
    for (let x = byName.get(p.parent); x && d <= list.length; x = byName.get(x.parent)) d++;
    return d;
  };
  return [...list].sort((a, b) => depth(a) - depth(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
