/**
 * `table(name, columns, extras)`: the table builder and its compilation to
 * `TableIR`.
 *
 * Over 600 lines: the builder's chained options (keys, indexes, checks,
 * comments, row-level security, storage options, partitioning, Citus
 * distribution) and the IR compiler read and check the same column map and
 * constraint lists; the features with logic of their own live apart
 * (partition.ts, table-options.ts, policy.ts, column.ts, citus.ts).
 */
import { E_SCHEMA, FerryError } from '../errors.js';
import { type DistributedByOptions, distributedIR } from './citus.js';
import { Column, type ColumnBuilder, type ColumnDef, type ForeignKeyTarget, type ReferenceOptions } from './column.js';
import { assertIdentifier } from './identifiers.js';
import type {
  ColumnSequenceIR,
  IndexIR,
  IndexKeyIR,
  IndexMethod,
  ReferentialAction,
  SequenceType,
  TableIR,
} from './ir.js';
import {
  checkStrategy,
  checkUniqueKeys,
  PartitionByExtra,
  type PartitionKey,
  type PartitionStrategy,
  partitionKeySql,
} from './partition.js';
import type { AnyColumns, InferInsert, InferSelect, InferUpdate } from './row-types.js';
import { sequenceOptionsIR } from './sequence.js';
import { SqlExpr } from './sql.js';
import {
  commentOf,
  type StorageParameter,
  storageParametersIR,
  type TableOptions,
  tableOptionsIR,
} from './table-options.js';

export type ColumnBuilders = Record<string, ColumnBuilder<any>>;
export type BoundColumns<B extends ColumnBuilders> = { [K in keyof B & string]: Column<B[K]['_']> };
export type { AnyColumns } from './row-types.js';

// ---------------------------------------------------------------- extras

export class PrimaryKeyExtra {
  readonly kind = 'primaryKey';
  constructor(
    readonly columns: readonly Column[],
    readonly constraintName: string | null = null,
    readonly constraintComment: string | null = null,
    readonly deferrableAs: 'immediate' | 'deferred' | null = null,
  ) {}
  named(name: string): PrimaryKeyExtra {
    return new PrimaryKeyExtra(this.columns, name, this.constraintComment, this.deferrableAs);
  }
  /** `COMMENT ON CONSTRAINT`. */
  comment(text: string): PrimaryKeyExtra {
    return new PrimaryKeyExtra(this.columns, this.constraintName, text, this.deferrableAs);
  }
  /** `DEFERRABLE INITIALLY DEFERRED` (or `'immediate'`): checked at commit (see `unique().deferrable()`). */
  deferrable(initially: 'immediate' | 'deferred' = 'deferred'): PrimaryKeyExtra {
    return new PrimaryKeyExtra(this.columns, this.constraintName, this.constraintComment, initially);
  }
}

export class UniqueExtra {
  readonly kind = 'unique';
  constructor(
    readonly constraintName: string | null,
    readonly columns: readonly Column[] = [],
    readonly distinctNulls = true,
    readonly constraintComment: string | null = null,
    readonly deferrableAs: 'immediate' | 'deferred' | null = null,
  ) {}
  on(...columns: Column[]): UniqueExtra {
    return new UniqueExtra(this.constraintName, columns, this.distinctNulls, this.constraintComment, this.deferrableAs);
  }
  /** NULLs collide with each other (Postgres 15+). */
  nullsNotDistinct(): UniqueExtra {
    return new UniqueExtra(this.constraintName, this.columns, false, this.constraintComment, this.deferrableAs);
  }
  /** `COMMENT ON CONSTRAINT`. */
  comment(text: string): UniqueExtra {
    return new UniqueExtra(this.constraintName, this.columns, this.distinctNulls, text, this.deferrableAs);
  }
  /**
   * `DEFERRABLE INITIALLY DEFERRED` (or `'immediate'`): checked at commit, so
   * one transaction may swap two rows' values (positions, ranks).
   */
  deferrable(initially: 'immediate' | 'deferred' = 'deferred'): UniqueExtra {
    return new UniqueExtra(this.constraintName, this.columns, this.distinctNulls, this.constraintComment, initially);
  }
}

export class ForeignKeyExtra {
  readonly kind = 'foreignKey';
  constructor(
    readonly columns: readonly Column[],
    readonly target: () => readonly ForeignKeyTarget[],
    readonly onDelete: ReferentialAction,
    readonly onUpdate: ReferentialAction,
    readonly constraintName: string | null,
    readonly notValid = false,
    readonly constraintComment: string | null = null,
    readonly deferrable: 'immediate' | 'deferred' | null = null,
  ) {}
}

export class CheckExtra {
  readonly kind = 'check';
  constructor(
    readonly constraintName: string,
    readonly expression: string,
    readonly isNotValid = false,
    readonly constraintComment: string | null = null,
  ) {}
  /**
   * Added `NOT VALID`: Postgres checks new and updated rows only, never the
   * rows already there (`ALTER TABLE ... ADD CONSTRAINT ... CHECK (...) NOT
   * VALID`). Drop it to have a migration validate the constraint.
   */
  notValid(): CheckExtra {
    return new CheckExtra(this.constraintName, this.expression, true, this.constraintComment);
  }
  /** `COMMENT ON CONSTRAINT`. */
  comment(text: string): CheckExtra {
    return new CheckExtra(this.constraintName, this.expression, this.isNotValid, text);
  }
}

export class IndexKeyBuilder {
  constructor(
    readonly key: { column: Column | null; expression: string | null } & Omit<IndexKeyIR, 'column' | 'expression'>,
  ) {}
  nullsFirst(): IndexKeyBuilder {
    return new IndexKeyBuilder({ ...this.key, nulls: 'first' });
  }
  nullsLast(): IndexKeyBuilder {
    return new IndexKeyBuilder({ ...this.key, nulls: 'last' });
  }
  /** An operator class, e.g. `jsonb_path_ops` or `gin_trgm_ops`. */
  opclass(name: string): IndexKeyBuilder {
    return new IndexKeyBuilder({ ...this.key, opclass: name });
  }
}

export type IndexKey = Column | SqlExpr | IndexKeyBuilder;

function keyOf(key: IndexKey, order: 'asc' | 'desc'): IndexKeyBuilder {
  if (key instanceof IndexKeyBuilder) return new IndexKeyBuilder({ ...key.key, order });
  return new IndexKeyBuilder({
    column: key instanceof Column ? key : null,
    expression: key instanceof SqlExpr ? key.text : null,
    order,
    nulls: null,
    opclass: null,
  });
}
export const asc = (key: IndexKey) => keyOf(key, 'asc');
export const desc = (key: IndexKey) => keyOf(key, 'desc');

export class IndexExtra {
  readonly kind = 'index';
  constructor(
    readonly indexName: string | null,
    readonly spec: {
      unique: boolean;
      method: IndexMethod;
      keys: readonly IndexKeyBuilder[];
      include: readonly Column[];
      where: string | null;
      nullsNotDistinct?: boolean;
      with?: Readonly<Record<string, StorageParameter>>;
      comment?: string;
    },
  ) {}
  private with(patch: Partial<IndexExtra['spec']>): IndexExtra {
    return new IndexExtra(this.indexName, { ...this.spec, ...patch });
  }
  on(...keys: IndexKey[]): IndexExtra {
    return this.with({ keys: keys.map((k) => (k instanceof IndexKeyBuilder ? k : asc(k))) });
  }
  using(method: IndexMethod): IndexExtra {
    return this.with({ method });
  }
  /** A partial index: only rows matching the predicate are indexed. */
  where(predicate: SqlExpr): IndexExtra {
    return this.with({ where: predicate.text });
  }
  /** Covering index: extra columns stored in the leaf pages (`INCLUDE`). */
  include(...columns: Column[]): IndexExtra {
    return this.with({ include: columns });
  }
  unique(): IndexExtra {
    return this.with({ unique: true });
  }
  /** On a unique index: NULLs collide with each other (Postgres 15+). */
  nullsNotDistinct(): IndexExtra {
    return this.with({ nullsNotDistinct: true });
  }
  /**
   * Storage parameters of the index:
   *
   * ```ts
   * index().on(t.created_at).withOptions({ fillfactor: 70 })
   * // CREATE INDEX ... ON ... (created_at) WITH (fillfactor = 70)
   * ```
   */
  withOptions(parameters: Readonly<Record<string, StorageParameter>>): IndexExtra {
    return this.with({ with: { ...parameters } });
  }
  /** `COMMENT ON INDEX`. */
  comment(text: string): IndexExtra {
    return this.with({ comment: text });
  }
}

const emptyIndex = { unique: false, method: 'btree' as const, keys: [], include: [], where: null };
export const index = (name?: string) => new IndexExtra(name ?? null, emptyIndex);
export const uniqueIndex = (name?: string) => new IndexExtra(name ?? null, { ...emptyIndex, unique: true });
export const unique = (name?: string) => new UniqueExtra(name ?? null);
export const primaryKey = (...columns: Column[]) => new PrimaryKeyExtra(columns);
export const check = (name: string, expression: SqlExpr) => new CheckExtra(name, expression.text);
export const foreignKey = (
  spec: {
    columns: Column[];
    references: () => readonly ForeignKeyTarget[];
    name?: string;
    /** `COMMENT ON CONSTRAINT`. */
    comment?: string;
  } & Omit<ReferenceOptions, 'name'>,
) =>
  new ForeignKeyExtra(
    spec.columns,
    spec.references,
    spec.onDelete ?? 'no action',
    spec.onUpdate ?? 'no action',
    spec.name ?? null,
    spec.notValid ?? false,
    spec.comment ?? null,
    spec.deferrable ?? null,
  );

export type TableExtra = PrimaryKeyExtra | UniqueExtra | ForeignKeyExtra | CheckExtra | IndexExtra | PartitionByExtra;

// ---------------------------------------------------------------- table

// A registry symbol, not `instanceof`: a schema module loaded by the CLI (via
// tsx) or from another copy of the package has its own class identities.
const TABLE = Symbol.for('ferry.table');

export class Table<N extends string = string, C extends AnyColumns = AnyColumns> {
  readonly kind = 'table';
  readonly [TABLE] = true;
  readonly name: N;
  readonly columns: C;
  readonly extras: readonly TableExtra[];
  /** Type-only row shapes, as drizzle's `$inferSelect`. */
  declare readonly $inferSelect: InferSelect<C>;
  declare readonly $inferInsert: InferInsert<C>;
  declare readonly $inferUpdate: InferUpdate<C>;

  /** Migration hint: the table's previous name (see `renamedFrom()`). */
  readonly previousName: string | null;
  /** `COMMENT ON TABLE` text (see `comment()`). */
  readonly tableComment: string | null;
  /** UNLOGGED, storage parameters, row-level security (see `unlogged()`, `withOptions()`, `rls()`). */
  readonly options: TableOptions;

  constructor(
    name: N,
    columns: C,
    extras: readonly TableExtra[],
    previousName: string | null = null,
    tableComment: string | null = null,
    options: TableOptions = {},
  ) {
    this.name = name;
    this.columns = columns;
    this.extras = extras;
    this.previousName = previousName;
    this.tableComment = tableComment;
    this.options = options;
  }

  /** Migration hint: the table was called `oldName`; migrations rename it rather than drop and create. */
  renamedFrom(oldName: string): Table<N, C> {
    assertIdentifier(oldName, 'Previous table');
    return new Table(this.name, this.columns, this.extras, oldName, this.tableComment, this.options);
  }

  /** The table's comment (`COMMENT ON TABLE`); some libraries keep a version marker there. */
  comment(text: string): Table<N, C> {
    return new Table(this.name, this.columns, this.extras, this.previousName, text, this.options);
  }

  private withTableOptions(patch: TableOptions): Table<N, C> {
    const options = { ...this.options, ...patch };
    return new Table(this.name, this.columns, this.extras, this.previousName, this.tableComment, options);
  }

  /**
   * `CREATE UNLOGGED TABLE`: writes skip the WAL (faster), the table is
   * emptied after a crash and not replicated. For caches and job-queue
   * bookkeeping. A migration switches an existing table with
   * `ALTER TABLE ... SET LOGGED | UNLOGGED` (which rewrites it).
   */
  unlogged(on = true): Table<N, C> {
    return this.withTableOptions({ unlogged: on });
  }

  /**
   * Storage parameters (`pg_class.reloptions`); a migration sets and resets
   * them with `ALTER TABLE ... SET (...)` / `RESET (...)`:
   *
   * ```ts
   * table('que_jobs', { ... }).withOptions({ fillfactor: 90, autovacuum_vacuum_scale_factor: 0.01 })
   * // CREATE TABLE que_jobs (...) WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.01)
   * ```
   */
  withOptions(parameters: Readonly<Record<string, StorageParameter>>): Table<N, C> {
    return this.withTableOptions({ with: { ...parameters } });
  }

  /**
   * Row-level security: `ALTER TABLE ... ENABLE ROW LEVEL SECURITY`, and with
   * `force` also `FORCE ROW LEVEL SECURITY` (the owner is subject to the
   * policies too). Rows are then visible only through a `policy()`; with
   * none, every row is denied to everyone but the owner and superusers.
   *
   * ```ts
   * export const docs = table('docs', { ... }).rls({ force: true });
   * export const ownDocs = policy('own_docs', docs, { using: sql`owner = current_user` });
   * ```
   */
  rls(options: { enabled?: boolean; force?: boolean } = {}): Table<N, C> {
    return this.withTableOptions({
      rowLevelSecurity: { enabled: options.enabled ?? true, force: options.force ?? false },
    });
  }

  /**
   * Citus: shard the table across the cluster by `column` (a column of this
   * table), co-located with `colocateWith` (see DistributedByOptions).
   * `migrate new` calls `create_distributed_table` once the table and its
   * keys and indexes exist and before the foreign keys are added, guarded so
   * that the migration is a no-op on PostgreSQL without Citus (schema/citus.ts).
   * Citus then needs the primary key, unique constraints and foreign keys to
   * include the column (the migration linter's `citus-*` rules check them).
   *
   * ```ts
   * export const messages = table('messages', { user_id: bigint().notNull(), id: bigserial(), ... },
   *   (t) => [primaryKey(t.user_id, t.id)]).distributedBy('user_id', { colocateWith: users });
   * // SELECT create_distributed_table('messages', 'user_id', colocate_with => 'users')
   * ```
   */
  distributedBy(column: keyof C & string, options: DistributedByOptions = {}): Table<N, C> {
    if (this.options.distribution) {
      throw new FerryError(E_SCHEMA, `Table ${this.name}: distributedBy() or reference() is called twice.`);
    }
    if (!this.columns[column]) {
      throw new FerryError(
        E_SCHEMA,
        `Table ${this.name}: distributedBy() names column "${column}", which it does not have.`,
      );
    }
    return this.withTableOptions({ distribution: distributedIR(this.name, column, options) });
  }

  /**
   * Citus: a reference table, copied whole to every node (`create_reference_table`),
   * for small tables every shard joins or points a foreign key at (plans,
   * countries). Guarded like `distributedBy()`.
   */
  reference(): Table<N, C> {
    if (this.options.distribution) {
      throw new FerryError(E_SCHEMA, `Table ${this.name}: distributedBy() or reference() is called twice.`);
    }
    return this.withTableOptions({ distribution: { kind: 'reference' } });
  }

  /**
   * Partition the table (`PARTITION BY`) by columns (given as columns or
   * their names) or expressions; its partitions are `partition(name, table,
   * bounds)`. Indexes declared on it are created on the parent and Postgres
   * creates them on every partition; a primary key or unique constraint must
   * include every key column.
   *
   * ```ts
   * export const events = table('events', { id: bigserial(), at: timestamptz().notNull() },
   *   (t) => [primaryKey(t.id, t.at)]).partitionBy('range', 'at');
   * // CREATE TABLE events (...) PARTITION BY RANGE (at)
   * table('users', { ... }).partitionBy('list', sql`lower(region)`);
   * // ... PARTITION BY LIST ((lower(region)))
   * ```
   */
  partitionBy(
    strategy: PartitionStrategy,
    keys: (keyof C & string) | PartitionKey | readonly ((keyof C & string) | PartitionKey)[],
  ): Table<N, C> {
    const what = `Table ${this.name}`;
    checkStrategy(strategy, what);
    if (this.extras.some((e) => e.kind === 'partitionBy')) {
      throw new FerryError(E_SCHEMA, `${what}: partitionBy() is called twice.`);
    }
    const list = (Array.isArray(keys) ? keys : [keys]) as ((keyof C & string) | PartitionKey)[];
    if (list.length === 0) throw new FerryError(E_SCHEMA, `${what}: partitionBy() needs a key.`);
    const resolved = list.map((k) => {
      if (typeof k !== 'string') return k;
      const col = this.columns[k];
      if (!col) throw new FerryError(E_SCHEMA, `${what}: partitionBy() names column "${k}", which it does not have.`);
      return col;
    });
    const extra = new PartitionByExtra(strategy, resolved);
    return new Table(
      this.name,
      this.columns,
      [...this.extras, extra],
      this.previousName,
      this.tableComment,
      this.options,
    );
  }

  /** The `PARTITION BY` of `partitionBy()`, or null (a partition's `of` reads it). */
  get partitioning(): { strategy: PartitionStrategy; key: string } | null {
    const e = this.extras.find((x): x is PartitionByExtra => x.kind === 'partitionBy');
    return e ? { strategy: e.strategy, key: partitionKeySql(e.keys) } : null;
  }

  /** Number of partition key columns and expressions (0 when not partitioned). */
  get keyWidth(): number {
    return this.extras.find((x): x is PartitionByExtra => x.kind === 'partitionBy')?.keys.length ?? 0;
  }

  /** Primary-key column names, in key order. Empty when the table has none. */
  get primaryKey(): string[] {
    const extra = this.extras.find((e): e is PrimaryKeyExtra => e.kind === 'primaryKey');
    if (extra) return extra.columns.map((c) => c.name);
    return Object.values(this.columns)
      .filter((c) => c.def.primaryKey)
      .map((c) => c.name);
  }

  toIR(): TableIR {
    return compileTable(this);
  }
}

/**
 * Define a table. Column keys are the SQL column names (snake_case as the
 * database has them), so Kysely queries and raw SQL use the same names.
 */
export function table<const N extends string, B extends ColumnBuilders>(
  name: N,
  columns: B,
  extras?: (columns: BoundColumns<B>) => TableExtra[],
): Table<N, BoundColumns<B>> {
  assertIdentifier(name, 'Table');
  const bound = {} as Record<string, Column>;
  for (const [key, builder] of Object.entries(columns)) {
    assertIdentifier(key, `Column ${name}.${key}`);
    bound[key] = new Column(name, key, builder.def);
  }
  const typed = bound as BoundColumns<B>;
  return new Table(name, typed, extras ? extras(typed) : []);
}

export function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TABLE] === true;
}

// ---------------------------------------------------------------- IR compilation

function compileTable(t: Table): TableIR {
  const used = new Set<string>();
  // Postgres derives names the same way; keeping its defaults means a pulled
  // database and its DSL agree without anyone naming constraints by hand.
  const name = (explicit: string | null, parts: string[], suffix: string): string => {
    const base = [t.name, ...parts, suffix].join('_');
    let candidate = explicit ?? base;
    if (!explicit) for (let n = 1; used.has(candidate); n++) candidate = `${base}${n}`;
    if (used.has(candidate)) throw schemaError(`${t.name}: two constraints or indexes are named "${candidate}".`);
    assertIdentifier(candidate, `Constraint or index on ${t.name}`);
    used.add(candidate);
    return candidate;
  };
  const own = (col: Column, where: string): string => {
    if (col.table !== t.name || t.columns[col.name] !== col) {
      throw schemaError(
        `${t.name}: ${where} names column ${col.table}.${col.name}, which is not a column of ${t.name}.`,
      );
    }
    return col.name;
  };

  const cols = Object.values(t.columns);
  const unlogged = t.options.unlogged === true;
  const pkExtras = t.extras.filter((e): e is PrimaryKeyExtra => e.kind === 'primaryKey');
  const pkColumns = cols.filter((c) => c.def.primaryKey);
  if (pkExtras.length > 1 || (pkExtras.length === 1 && pkColumns.length > 0) || pkColumns.length > 1) {
    throw schemaError(
      `${t.name} declares more than one primary key. For a composite key use primaryKey(t.a, t.b) in the table extras and drop .primaryKey() from the columns.`,
    );
  }
  const pkExtra = pkExtras[0];
  const pkNames = pkExtra ? pkExtra.columns.map((c) => own(c, 'primaryKey()')) : pkColumns.map((c) => c.name);
  const primaryKey =
    pkNames.length > 0
      ? {
          name: name(pkExtra?.constraintName ?? null, [], 'pkey'),
          columns: pkNames,
          ...(pkExtra?.deferrableAs ? { deferrable: pkExtra.deferrableAs } : {}),
          ...commentOf(pkExtra?.constraintComment ?? null),
        }
      : null;

  const ir: TableIR = {
    name: t.name,
    columns: cols.map((c) => ({
      name: c.name,
      type: c.def.isArray ? `${c.def.type}[]` : c.def.type,
      nullable: !(c.def.notNull || pkNames.includes(c.name)),
      default: c.def.serial || c.def.identity ? null : c.def.default,
      serial: c.def.serial,
      identity: c.def.identity,
      generated: c.def.generated,
      comment: c.def.comment,
      ...columnSequence(t.name, c.name, c.def, unlogged),
      ...(c.def.storage ? { storage: c.def.storage } : {}),
      ...(c.def.compression ? { compression: c.def.compression } : {}),
      ...(c.def.statistics != null ? { statistics: c.def.statistics } : {}),
    })),
    primaryKey,
    uniques: [],
    foreignKeys: [],
    checks: [],
    indexes: [],
    comment: t.tableComment,
    ...tableOptionsIR(t.name, t.options),
  };

  for (const c of cols) {
    if (c.def.unique) {
      ir.uniques.push({
        name: name(c.def.unique.name, [c.name], 'key'),
        columns: [c.name],
        nullsNotDistinct: c.def.unique.nullsNotDistinct,
      });
    }
    if (c.def.references) {
      const ref = c.def.references;
      const target = resolveTarget(ref.target, `${t.name}.${c.name}`);
      ir.foreignKeys.push({
        name: name(ref.name, [c.name], 'fkey'),
        columns: [c.name],
        references: { table: target.table, columns: [target.column] },
        onDelete: ref.onDelete,
        onUpdate: ref.onUpdate,
        ...(ref.notValid ? { notValid: true as const } : {}),
        ...(ref.deferrable ? { deferrable: ref.deferrable } : {}),
      });
    }
    c.def.checks.forEach((chk) => {
      ir.checks.push({ name: name(chk.name, [c.name], 'check'), expression: chk.expression });
    });
    if (c.def.index) ir.indexes.push(plainIndex(name(c.def.index.name, [c.name], 'idx'), [c.name]));
  }

  for (const e of t.extras) {
    switch (e.kind) {
      case 'primaryKey':
        break;
      case 'unique': {
        if (e.columns.length === 0)
          throw schemaError(`${t.name}: unique(${e.constraintName ?? ''}) needs .on(columns).`);
        const names = e.columns.map((c) => own(c, 'unique()'));
        ir.uniques.push({
          name: name(e.constraintName, names, 'key'),
          columns: names,
          nullsNotDistinct: !e.distinctNulls,
          ...(e.deferrableAs ? { deferrable: e.deferrableAs } : {}),
          ...commentOf(e.constraintComment),
        });
        break;
      }
      case 'foreignKey': {
        const names = e.columns.map((c) => own(c, 'foreignKey()'));
        const targets = e.target();
        if (targets.length !== names.length || targets.length === 0) {
          throw schemaError(
            `${t.name}: foreignKey(${names.join(', ')}) references ${targets.length} columns; it needs ${names.length}.`,
          );
        }
        const refTable = targets[0]!.table;
        if (targets.some((x) => x.table !== refTable)) {
          throw schemaError(`${t.name}: foreignKey(${names.join(', ')}) references columns of more than one table.`);
        }
        ir.foreignKeys.push({
          name: name(e.constraintName, names, 'fkey'),
          columns: names,
          references: { table: refTable, columns: targets.map((x) => x.column) },
          onDelete: e.onDelete,
          onUpdate: e.onUpdate,
          ...(e.notValid ? { notValid: true as const } : {}),
          ...(e.deferrable ? { deferrable: e.deferrable } : {}),
          ...commentOf(e.constraintComment),
        });
        break;
      }
      case 'check':
        ir.checks.push({
          name: name(e.constraintName, [], 'check'),
          expression: e.expression,
          ...(e.isNotValid ? { notValid: true as const } : {}),
          ...commentOf(e.constraintComment),
        });
        break;
      case 'partitionBy':
        for (const k of e.keys) if (!(k instanceof SqlExpr)) own(k, 'partitionBy()');
        ir.partitionBy = { strategy: e.strategy, key: partitionKeySql(e.keys) };
        break;
      case 'index': {
        if (e.spec.keys.length === 0) throw schemaError(`${t.name}: index(${e.indexName ?? ''}) needs .on(keys).`);
        const keys: IndexKeyIR[] = e.spec.keys.map((k) => ({
          column: k.key.column ? own(k.key.column, 'index()') : null,
          expression: k.key.expression,
          order: k.key.order,
          nulls: k.key.nulls,
          opclass: k.key.opclass,
        }));
        const parts = keys.map((k) => k.column ?? 'expr');
        ir.indexes.push({
          name: name(e.indexName, parts, 'idx'),
          unique: e.spec.unique,
          method: e.spec.method,
          keys,
          include: e.spec.include.map((c) => own(c, 'index().include()')),
          where: e.spec.where,
          ...(e.spec.nullsNotDistinct ? { nullsNotDistinct: true as const } : {}),
          ...storageParametersIR(e.spec.with, `Index ${e.indexName ?? parts.join('_')} on ${t.name}`),
          ...commentOf(e.spec.comment ?? null),
        });
        break;
      }
    }
  }
  const partitioned = t.extras.find((x): x is PartitionByExtra => x.kind === 'partitionBy');
  if (partitioned) checkUniqueKeys(ir, partitioned.keys);
  return ir;
}

function plainIndex(indexName: string, columns: string[]): IndexIR {
  return {
    name: indexName,
    unique: false,
    method: 'btree',
    keys: columns.map((column) => ({ column, expression: null, order: 'asc', nulls: null, opclass: null })),
    include: [],
    where: null,
  };
}

function resolveTarget(thunk: () => ForeignKeyTarget, where: string): ForeignKeyTarget {
  const target = thunk();
  if (!target || typeof target.table !== 'string' || typeof target.column !== 'string') {
    throw schemaError(`${where}: references() must return a column, e.g. () => users.columns.id.`);
  }
  return target;
}

function schemaError(message: string): FerryError {
  return new FerryError(E_SCHEMA, message);
}

/** `ColumnIR.sequence` of a serial or identity column given `sequenceOptions()`, when some option is not the default. */
function columnSequence(
  table: string,
  column: string,
  def: ColumnDef,
  unlogged: boolean,
): { sequence?: ColumnSequenceIR } {
  if (def.sequenceOptions === null) return {};
  const what = `Column ${table}.${column}`;
  if (!def.serial && def.identity === null) {
    throw new FerryError(E_SCHEMA, `${what}: sequenceOptions() needs a serial or identity column.`);
  }
  const { persistence: given, ...options } = def.sequenceOptions;
  // Recorded only when it is not the table's own (see ColumnSequenceIR.persistence).
  const persistence = given !== undefined && given !== (unlogged ? 'unlogged' : 'logged') ? { persistence: given } : {};
  const type = options.as ?? (def.type as SequenceType);
  const o = sequenceOptionsIR(type, options, what);
  const isDefault = !o.cycle && [o.start, o.increment, o.min, o.max, o.cache].every((x) => x === null);
  if (type !== def.type) return { sequence: { type, ...o, ...persistence } };
  return isDefault && !('persistence' in persistence) ? {} : { sequence: { ...o, ...persistence } };
}
