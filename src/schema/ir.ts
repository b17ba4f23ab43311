/**
 * The schema IR: a plain, JSON-serialisable description of a database schema.
 *
 * The DSL compiles to it, live-database introspection produces it, and the
 * migration differ compares two of them. Because introspection reads what
 * Postgres reports, every field uses Postgres's own canonical spelling:
 * types as `format_type()` prints them (`character varying(255)`,
 * `timestamp with time zone`, `integer[]`), referential actions in lower case,
 * index methods as in `pg_am`. Names are unqualified; everything lives in one
 * schema (the connection's `search_path`, normally `public`).
 */
export interface SchemaIR {
  /**
   * Extensions (`CREATE EXTENSION`), by name; created before everything else
   * and dropped last. Optional for IR written before extensions existed:
   * absent reads as none.
   */
  extensions?: ExtensionIR[];
  /**
   * Standalone sequences (`CREATE SEQUENCE`), by name: created after enums and
   * before tables (whose defaults may call `nextval()` on them), owned
   * (`OWNED BY`) once their table exists, dropped after the tables. A sequence
   * a serial or identity column owns is the column's (`ColumnIR.sequence`).
   * Optional like `extensions`: absent reads as none.
   */
  sequences?: SequenceIR[];
  enums: EnumIR[];
  tables: TableIR[];
  /**
   * Partitions of partitioned tables (`CREATE TABLE … PARTITION OF …`), by
   * name; a partition's columns, keys and indexes are its parent's and are
   * not repeated. Optional like `extensions`: absent reads as none.
   */
  partitions?: PartitionIR[];
}

/** How a table is partitioned, as `pg_get_partkeydef()` prints it: `RANGE (created_at)`. */
export interface PartitionByIR {
  strategy: 'range' | 'list' | 'hash';
  /** The key inside the parentheses: `created_at`, `lower(region)`, `id, b`. */
  key: string;
}

export interface PartitionIR {
  name: string;
  /** The partitioned table (or partition, when sub-partitioned) it belongs to. */
  parent: string;
  /** As `pg_get_expr(relpartbound)` prints it: `FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')`, `DEFAULT`. */
  bound: string;
  /** A sub-partitioned partition's own partitioning; present only then. */
  partitionBy?: PartitionByIR;
}

export interface ExtensionIR {
  /** As in `pg_extension.extname`, e.g. `pg_trgm`, `uuid-ossp`. */
  name: string;
  /** Schema it is installed in; null for the schema being described (normally `public`). */
  schema: string | null;
  /** A pinned version (`extversion`); null for the version the server installs by default. */
  version: string | null;
}

export type SequenceType = 'smallint' | 'integer' | 'bigint';

/**
 * Sequence options as decimal strings (bigint range), each null when it is
 * what Postgres picks by default for the type and direction (`NO MINVALUE`,
 * `START WITH` the minimum ascending, `CACHE 1`...).
 */
export interface SequenceOptionsIR {
  start: string | null;
  increment: string | null;
  min: string | null;
  max: string | null;
  cache: string | null;
  cycle: boolean;
}

/** A column's sequence: `type` only when it is not the column's (a dump's `AS integer` sequence on a bigint column). */
export interface ColumnSequenceIR extends SequenceOptionsIR {
  type?: SequenceType;
}

export interface SequenceIR extends SequenceOptionsIR {
  name: string;
  /** `AS ...`; Postgres's default is bigint. */
  type: SequenceType;
  /** `OWNED BY table.column`, or null. */
  ownedBy: { table: string; column: string } | null;
}

export interface EnumIR {
  name: string;
  values: string[];
}

export interface TableIR {
  name: string;
  columns: ColumnIR[];
  primaryKey: PrimaryKeyIR | null;
  uniques: UniqueIR[];
  foreignKeys: ForeignKeyIR[];
  checks: CheckIR[];
  indexes: IndexIR[];
  comment: string | null;
  /** `PARTITION BY …`: present only on a partitioned table. */
  partitionBy?: PartitionByIR;
}

export interface ColumnIR {
  name: string;
  /** Canonical type, e.g. `integer`, `numeric(10,2)`, `text[]`, or an enum's name. */
  type: string;
  nullable: boolean;
  /** Default as an SQL expression (`now()`, `'free'::tier`, `0`), or null. */
  default: string | null;
  /** `serial`/`bigserial`/`smallserial`: an owned sequence supplies the default. */
  serial: boolean;
  identity: 'always' | 'by default' | null;
  /**
   * Options of a serial's or identity's own sequence, present only when some
   * differs from the default.
   */
  sequence?: ColumnSequenceIR;
  /** Expression of a `GENERATED ALWAYS AS (...) STORED` column. */
  generated: string | null;
  comment: string | null;
}

export interface PrimaryKeyIR {
  name: string;
  columns: string[];
}

export interface UniqueIR {
  name: string;
  columns: string[];
  nullsNotDistinct: boolean;
}

export type ReferentialAction = 'no action' | 'restrict' | 'cascade' | 'set null' | 'set default';

export interface ForeignKeyIR {
  name: string;
  columns: string[];
  references: { table: string; columns: string[] };
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
}

export interface CheckIR {
  name: string;
  /** The boolean expression, without the surrounding `CHECK (...)`. */
  expression: string;
}

export type IndexMethod = 'btree' | 'hash' | 'gin' | 'gist' | 'brin' | 'spgist';

export interface IndexIR {
  name: string;
  unique: boolean;
  method: IndexMethod;
  keys: IndexKeyIR[];
  /** Columns carried in the index leaf pages (`INCLUDE (...)`). */
  include: string[];
  /** Predicate of a partial index, without `WHERE`. */
  where: string | null;
  /** Unique index whose NULLs collide (`NULLS NOT DISTINCT`, Postgres 15+). Present only when true. */
  nullsNotDistinct?: true;
}

export interface IndexKeyIR {
  /** Either a column name or an expression, never both. */
  column: string | null;
  expression: string | null;
  order: 'asc' | 'desc';
  nulls: 'first' | 'last' | null;
  opclass: string | null;
}
