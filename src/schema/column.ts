import { E_SCHEMA, FerryError } from '../errors.js';
import type { ColumnCompression, ColumnStorage, ReferentialAction } from './ir.js';
import type { SequenceOptions } from './sequence.js';
import { literal, SqlExpr, type SqlIdentifiable } from './sql.js';

/**
 * Type-level facts about a column. They exist only for inference (drizzle's
 * approach): the runtime carries the same facts in `ColumnDef`.
 */
export interface ColumnConfig {
  /** TS type of a non-null value as read. */
  data: unknown;
  /** TS type accepted on insert/update (e.g. `Date | string` for timestamps). */
  input: unknown;
  notNull: boolean;
  hasDefault: boolean;
  /** Identity ALWAYS or GENERATED ... STORED: the database computes it, writes are refused. */
  generated: boolean;
  /** Declared with `.primaryKey()` (composite keys in table extras are not tracked in types). */
  primaryKey: boolean;
}

/** What a value looks like at runtime, used for validation and bulk loading. */
export type ValueKind =
  | 'int'
  | 'bigint'
  | 'numeric'
  | 'float'
  | 'boolean'
  | 'string'
  | 'uuid'
  | 'date'
  | 'timestamp'
  | 'interval'
  | 'json'
  | 'bytea'
  | 'enum'
  /** A type the DSL has no builder for (`customType`): passed through unchecked. */
  | 'custom';

export interface ForeignKeyTarget {
  readonly table: string;
  readonly column: string;
}

export interface ColumnReference {
  readonly target: () => ForeignKeyTarget;
  readonly onDelete: ReferentialAction;
  readonly onUpdate: ReferentialAction;
  readonly name: string | null;
  readonly notValid?: boolean;
  readonly deferrable?: 'immediate' | 'deferred';
}

/** Runtime description of a column before it is placed in a table. Immutable. */
export interface ColumnDef {
  /** Canonical element type as Postgres's `format_type()` prints it. */
  readonly type: string;
  readonly kind: ValueKind;
  readonly isArray: boolean;
  /** Maximum length for varchar(n)/char(n), used by validation. */
  readonly maxLength: number | null;
  readonly enumName: string | null;
  readonly enumValues: readonly string[] | null;
  /** The enum's `renamedValues` hints, so an enum reached only through a column keeps them. */
  readonly enumRenamedValues: Readonly<Record<string, string>> | null;
  readonly notNull: boolean;
  readonly default: string | null;
  readonly serial: boolean;
  readonly identity: 'always' | 'by default' | null;
  /** Options of a serial's or identity's own sequence (`sequenceOptions()`), as given. */
  readonly sequenceOptions: ColumnSequenceOptions | null;
  readonly generated: string | null;
  readonly primaryKey: boolean;
  readonly unique: { name: string | null; nullsNotDistinct: boolean } | null;
  readonly index: { name: string | null } | null;
  readonly references: ColumnReference | null;
  readonly checks: readonly { name: string | null; expression: string }[];
  readonly comment: string | null;
  /** Set to `now()` by every UPDATE made through Ferry (the `timestamps()` helper). */
  readonly onUpdateNow: boolean;
  /** Migration hint: this column used to be called this (renamed, not dropped and re-added). */
  readonly renamedFrom: string | null;
  /** Values are secret (password hashes, tokens): masked in rejects, logs and error messages. Not in the IR. */
  readonly sensitive: boolean;
  /** `SET STORAGE` (see `storage()`), or null for the type's default. */
  readonly storage?: ColumnStorage | null;
  /** `COMPRESSION` (see `compression()`), or null for the server's default. */
  readonly compression?: ColumnCompression | null;
  /** `SET STATISTICS` (see `statistics()`), or null for `default_statistics_target`. */
  readonly statistics?: number | null;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type With<C extends ColumnConfig, K extends keyof ColumnConfig, V> = Simplify<Omit<C, K> & { [P in K]: V }>;

export interface ReferenceOptions {
  onDelete?: ReferentialAction;
  onUpdate?: ReferentialAction;
  /** Constraint name; defaults to `<table>_<column>_fkey` as Postgres would name it. */
  name?: string;
  /**
   * Added `NOT VALID`: rows already in the table are never checked, only new
   * and updated ones. Drop it to have a migration validate the key.
   */
  notValid?: boolean;
  /**
   * `DEFERRABLE`, checked at commit: `'deferred'` (`INITIALLY DEFERRED`) or
   * `'immediate'` (until a transaction says `SET CONSTRAINTS ... DEFERRED`).
   * Rows inserted in any order within a transaction, as in cyclic references.
   */
  deferrable?: 'immediate' | 'deferred';
}

/**
 * A column builder. Every modifier returns a new builder, so a shared base
 * such as `const money = numeric(12, 2).notNull()` can be reused safely.
 */
export class ColumnBuilder<C extends ColumnConfig = ColumnConfig> {
  /** Type-only: never set at runtime. */
  declare readonly _: C;
  readonly def: ColumnDef;

  constructor(def: ColumnDef) {
    this.def = def;
  }

  protected with<N extends ColumnConfig>(patch: Partial<ColumnDef>): ColumnBuilder<N> {
    return new ColumnBuilder<N>({ ...this.def, ...patch });
  }

  notNull(): ColumnBuilder<With<C, 'notNull', true>> {
    return this.with({ notNull: true });
  }

  /** Make a column nullable again (columns are nullable unless told otherwise, as in SQL). */
  nullable(): ColumnBuilder<With<C, 'notNull', false>> {
    return this.with({ notNull: false });
  }

  /** A default: a JS value rendered as a literal, or SQL such as sql`now()`. */
  default(value: C['input'] | SqlExpr): ColumnBuilder<With<C, 'hasDefault', true>> {
    return this.with({ default: renderDefault(value, this.def) });
  }

  primaryKey(): ColumnBuilder<With<With<C, 'notNull', true>, 'primaryKey', true>> {
    return this.with({ primaryKey: true, notNull: true });
  }

  unique(options: { name?: string; nullsNotDistinct?: boolean } = {}): ColumnBuilder<C> {
    return this.with({ unique: { name: options.name ?? null, nullsNotDistinct: options.nullsNotDistinct ?? false } });
  }

  /** A single-column btree index (SQLAlchemy's `index=True`). */
  index(name?: string): ColumnBuilder<C> {
    return this.with({ index: { name: name ?? null } });
  }

  /**
   * Foreign key to another table's column. The thunk lets tables refer to
   * each other (or themselves) regardless of declaration order.
   */
  references(target: () => ForeignKeyTarget, options: ReferenceOptions = {}): ColumnBuilder<C> {
    return this.with({
      references: {
        target,
        onDelete: options.onDelete ?? 'no action',
        onUpdate: options.onUpdate ?? 'no action',
        name: options.name ?? null,
        ...(options.notValid ? { notValid: true } : {}),
        ...(options.deferrable ? { deferrable: options.deferrable } : {}),
      },
    });
  }

  check(expression: SqlExpr, name?: string): ColumnBuilder<C> {
    return this.with({ checks: [...this.def.checks, { name: name ?? null, expression: expression.text }] });
  }

  comment(text: string): ColumnBuilder<C> {
    return this.with({ comment: text });
  }

  /**
   * Migration hint: the column was called `oldName`. The generated migration
   * renames it (keeping its data) instead of dropping one column and adding
   * another. Harmless once applied: it only acts when `oldName` still exists.
   */
  renamedFrom(oldName: string): ColumnBuilder<C> {
    return this.with({ renamedFrom: oldName });
  }

  /**
   * The values are secrets (password hashes, API tokens, session ids): Ferry
   * never shows them, writing `****` instead, in import rejects (file and
   * table), validation errors and constraint-violation messages. Changes
   * nothing in the database, so it is not part of the schema IR or migrations.
   */
  sensitive(): ColumnBuilder<C> {
    return this.with({ sensitive: true });
  }

  /**
   * How values are stored (`ALTER TABLE ... ALTER COLUMN ... SET STORAGE`):
   * `external` keeps large values out of line uncompressed (fast substring
   * on big text/bytea), `main` prefers compression in line, `plain` neither.
   */
  storage(mode: ColumnStorage): ColumnBuilder<C> {
    return this.with({ storage: mode });
  }

  /**
   * How much `ANALYZE` samples of this column (`SET STATISTICS n`, 0–10000;
   * the server's `default_statistics_target` is 100): more for a skewed
   * column the planner misjudges, at the cost of a slower `ANALYZE`.
   */
  statistics(target: number): ColumnBuilder<C> {
    if (!Number.isInteger(target) || target < 0 || target > 10_000) {
      throw new FerryError(E_SCHEMA, `statistics(${target}): the target must be an integer from 0 to 10000.`);
    }
    return this.with({ statistics: target });
  }

  /**
   * Compression of large values (`COMPRESSION lz4`); `lz4` needs a server
   * built with it (PostgreSQL packages are; PGlite is not).
   */
  compression(method: ColumnCompression): ColumnBuilder<C> {
    return this.with({ compression: method });
  }

  /** Narrow the TS type without changing the SQL type (e.g. branded ids, JSON shapes). */
  $type<T>(): ColumnBuilder<With<With<C, 'data', T>, 'input', T>> {
    return this as unknown as ColumnBuilder<With<With<C, 'data', T>, 'input', T>>;
  }

  /** An array of this type (`integer[]`). */
  array(): ColumnBuilder<With<With<C, 'data', C['data'][]>, 'input', C['input'][]>> {
    if (this.def.isArray) throw new TypeError('array() was applied twice; Postgres does not distinguish dimensions');
    return this.with({ isArray: true });
  }

  /** `GENERATED ALWAYS AS (expr) STORED`. */
  generatedAlwaysAs(expression: SqlExpr): ColumnBuilder<With<With<C, 'generated', true>, 'hasDefault', true>> {
    return this.with({ generated: expression.text });
  }

  /** `GENERATED ALWAYS AS IDENTITY` (integer types): the database assigns it; inserts may not. */
  generatedAlwaysAsIdentity(
    this: C['data'] extends number ? ColumnBuilder<C> : never,
  ): ColumnBuilder<With<With<With<C, 'generated', true>, 'hasDefault', true>, 'notNull', true>> {
    this.requireKind('generatedAlwaysAsIdentity()', 'int', 'bigint');
    return this.with({ identity: 'always', notNull: true });
  }

  /** `GENERATED BY DEFAULT AS IDENTITY` (integer types): assigned unless the insert gives one. */
  generatedByDefaultAsIdentity(
    this: C['data'] extends number ? ColumnBuilder<C> : never,
  ): ColumnBuilder<With<With<C, 'hasDefault', true>, 'notNull', true>> {
    this.requireKind('generatedByDefaultAsIdentity()', 'int', 'bigint');
    return this.with({ identity: 'by default', notNull: true });
  }

  /**
   * Options of the sequence behind a serial or identity column
   * (`{ start: 1000, increment: 10, cache: 20 }`), for a schema whose ids do
   * not start at 1; what is left out keeps Postgres's default.
   */
  sequenceOptions(options: ColumnSequenceOptions): ColumnBuilder<C> {
    this.requireKind('sequenceOptions()', 'int', 'bigint');
    return this.with({ sequenceOptions: { ...options } });
  }

  /** `DEFAULT now()` (timestamp types). */
  defaultNow(this: C['data'] extends Date ? ColumnBuilder<C> : never): ColumnBuilder<With<C, 'hasDefault', true>> {
    this.requireKind('defaultNow()', 'timestamp', 'date');
    return this.with({ default: 'now()' });
  }

  /** Set to `now()` by every update made through Ferry (repositories and Kysely queries alike). */
  $onUpdateNow(this: C['data'] extends Date ? ColumnBuilder<C> : never): ColumnBuilder<C> {
    this.requireKind('$onUpdateNow()', 'timestamp');
    return this.with({ onUpdateNow: true });
  }

  /** `DEFAULT gen_random_uuid()` (uuid; built into Postgres 13+). */
  defaultRandom(this: C['data'] extends string ? ColumnBuilder<C> : never): ColumnBuilder<With<C, 'hasDefault', true>> {
    this.requireKind('defaultRandom()', 'uuid');
    return this.with({ default: 'gen_random_uuid()' });
  }

  private requireKind(method: string, ...kinds: ValueKind[]): void {
    if (!kinds.includes(this.def.kind)) throw new TypeError(`${method} does not apply to a ${this.def.type} column`);
  }
}

function renderDefault(value: unknown, def: ColumnDef): string {
  if (value instanceof SqlExpr) return value.text;
  if (def.kind === 'json') return `${literal(JSON.stringify(value))}::${def.isArray ? `${def.type}[]` : def.type}`;
  if (def.isArray) {
    if (!Array.isArray(value)) throw new TypeError(`default for an array column must be an array`);
    return `${literal(toArrayLiteral(value))}::${def.type}[]`;
  }
  if (def.kind === 'enum') return `${literal(value)}::${def.type}`;
  if (def.kind === 'bytea' && value instanceof Uint8Array) return `'\\x${Buffer.from(value).toString('hex')}'::bytea`;
  return literal(value);
}

/** Postgres array literal text: {a,"b c",NULL}. */
export function toArrayLiteral(values: readonly unknown[]): string {
  const items = values.map((v) => {
    if (v === null || v === undefined) return 'NULL';
    if (Array.isArray(v)) return toArrayLiteral(v);
    const s = v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
  });
  return `{${items.join(',')}}`;
}

type Base<Data, Input = Data> = {
  data: Data;
  input: Input;
  notNull: false;
  hasDefault: false;
  generated: false;
  primaryKey: false;
};

function def(type: string, kind: ValueKind, extra: Partial<ColumnDef> = {}): ColumnDef {
  return {
    type,
    kind,
    isArray: false,
    maxLength: null,
    enumName: null,
    enumValues: null,
    enumRenamedValues: null,
    notNull: false,
    default: null,
    serial: false,
    identity: null,
    sequenceOptions: null,
    generated: null,
    primaryKey: false,
    unique: null,
    index: null,
    references: null,
    checks: [],
    comment: null,
    onUpdateNow: false,
    renamedFrom: null,
    sensitive: false,
    ...extra,
  };
}

/**
 * `sequence()`'s options without `ownedBy` (the column); `as` defaults to the
 * column's type. `persistence`: the sequence's own, when it is not the
 * table's (a logged sequence behind an UNLOGGED table, as a database made
 * before PostgreSQL 15 has them).
 */
export type ColumnSequenceOptions = Omit<SequenceOptions, 'ownedBy' | 'comment'> & {
  persistence?: 'logged' | 'unlogged';
};

type Serial = { data: number; input: number; notNull: true; hasDefault: true; generated: false; primaryKey: false };

export const smallint = () => new ColumnBuilder<Base<number>>(def('smallint', 'int'));
export const integer = () => new ColumnBuilder<Base<number>>(def('integer', 'int'));
/** int8. Read as a JS number; values beyond ±2^53 come back as a JS bigint. */
export const bigint = () => new ColumnBuilder<Base<number, number | bigint>>(def('bigint', 'bigint'));
export const smallserial = () => new ColumnBuilder<Serial>(def('smallint', 'int', { serial: true, notNull: true }));
export const serial = () => new ColumnBuilder<Serial>(def('integer', 'int', { serial: true, notNull: true }));
export const bigserial = () => new ColumnBuilder<Serial>(def('bigint', 'bigint', { serial: true, notNull: true }));
/** `integer GENERATED ALWAYS AS IDENTITY` — the modern serial. */
export const identity = () => integer().generatedAlwaysAsIdentity();

/** numeric(p,s). Read as a string so no precision is lost. */
export const numeric = (precision?: number, scale?: number) => {
  const type = precision === undefined ? 'numeric' : `numeric(${precision},${scale ?? 0})`;
  return new ColumnBuilder<Base<string, string | number>>(def(type, 'numeric'));
};
export const real = () => new ColumnBuilder<Base<number>>(def('real', 'float'));
export const doublePrecision = () => new ColumnBuilder<Base<number>>(def('double precision', 'float'));
export const boolean = () => new ColumnBuilder<Base<boolean>>(def('boolean', 'boolean'));
export const text = () => new ColumnBuilder<Base<string>>(def('text', 'string'));
export const varchar = (length?: number) =>
  new ColumnBuilder<Base<string>>(
    def(length === undefined ? 'character varying' : `character varying(${length})`, 'string', {
      maxLength: length ?? null,
    }),
  );
export const char = (length = 1) =>
  new ColumnBuilder<Base<string>>(def(`character(${length})`, 'string', { maxLength: length }));
export const uuid = () => new ColumnBuilder<Base<string>>(def('uuid', 'uuid'));
/** date. Read as `'YYYY-MM-DD'` so no time zone can shift it. */
export const date = () => new ColumnBuilder<Base<string, string | Date>>(def('date', 'date'));
export const timestamp = (options: { precision?: number } = {}) =>
  new ColumnBuilder<Base<Date, Date | string>>(
    def(withPrecision('timestamp', options.precision, 'without time zone'), 'timestamp'),
  );
export const timestamptz = (options: { precision?: number } = {}) =>
  new ColumnBuilder<Base<Date, Date | string>>(
    def(withPrecision('timestamp', options.precision, 'with time zone'), 'timestamp'),
  );
/** interval. Read as Postgres prints it, e.g. `'1 day 02:00:00'`. */
export const interval = () => new ColumnBuilder<Base<string>>(def('interval', 'interval'));
export const json = <T = unknown>() => new ColumnBuilder<Base<T>>(def('json', 'json'));
export const jsonb = <T = unknown>() => new ColumnBuilder<Base<T>>(def('jsonb', 'json'));
export const bytea = () => new ColumnBuilder<Base<Uint8Array>>(def('bytea', 'bytea'));

function withPrecision(base: string, precision: number | undefined, suffix: string): string {
  return precision === undefined ? `${base} ${suffix}` : `${base}(${precision}) ${suffix}`;
}

/**
 * Any other Postgres type, by its canonical name (`citext`, `tsvector`,
 * `inet`, `int4range`...): values pass through as the driver gives them
 * (strings, unless a parser is registered). `ferry pull` emits it for types
 * without a builder.
 */
export const customType = <T = string>(sqlType: string) => new ColumnBuilder<Base<T>>(def(sqlType, 'custom'));

/** Used by `pgEnum`: an enum-typed column. */
export function enumColumn<V extends string>(
  typeName: string,
  enumName: string,
  values: readonly V[],
  renamedValues: Readonly<Record<string, string>> = {},
) {
  return new ColumnBuilder<Base<V>>(
    def(typeName, 'enum', { enumName, enumValues: values, enumRenamedValues: renamedValues }),
  );
}

/** A column placed in a table: knows its table and name. */
export class Column<C extends ColumnConfig = ColumnConfig> implements SqlIdentifiable, ForeignKeyTarget {
  declare readonly _: C;
  readonly table: string;
  readonly name: string;
  readonly def: ColumnDef;

  constructor(table: string, name: string, def: ColumnDef) {
    this.table = table;
    this.name = name;
    this.def = def;
  }

  get column(): string {
    return this.name;
  }

  get sqlName(): string {
    return this.name;
  }
}
