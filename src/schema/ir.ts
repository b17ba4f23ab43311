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
}

export interface ExtensionIR {
  /** As in `pg_extension.extname`, e.g. `pg_trgm`, `uuid-ossp`. */
  name: string;
  /** Schema it is installed in; null for the schema being described (normally `public`). */
  schema: string | null;
  /** A pinned version (`extversion`); null for the version the server installs by default. */
  version: string | null;
  /** `COMMENT ON EXTENSION`, present only when it is not the one its control file sets. */
  comment?: string;
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
  /** `COMMENT ON SEQUENCE`. Present only when set. */
  comment?: string;
}

export interface EnumIR {
  name: string;
  values: string[];
  /** `COMMENT ON TYPE`. Present only when set. */
  comment?: string;
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
  /** `CREATE UNLOGGED TABLE`: not WAL-logged, emptied after a crash. Present only when true. */
  unlogged?: true;
  /**
   * Storage parameters (`WITH (fillfactor = 90)`, `pg_class.reloptions`),
   * values as Postgres stores them (text). Present only when some are set.
   */
  with?: Record<string, string>;
  /**
   * Row-level security (`ALTER TABLE ... ENABLE | FORCE ROW LEVEL SECURITY`).
   * Present only when enabled or forced.
   */
  rowLevelSecurity?: { enabled: boolean; force: boolean };
  /** Row-level security policies on the table, by name. Present only when there are some. */
  policies?: PolicyIR[];
}

export type PolicyCommand = 'all' | 'select' | 'insert' | 'update' | 'delete';

export interface PolicyIR {
  name: string;
  /** `FOR ...`; Postgres's default is `all`. */
  command: PolicyCommand;
  /** `AS PERMISSIVE` (the default) or `AS RESTRICTIVE`. */
  permissive: boolean;
  /** `TO ...`: role names in code-unit order; `public` (every role) is Postgres's default. */
  roles: string[];
  /** `USING (...)` without the parentheses, or null. */
  using: string | null;
  /** `WITH CHECK (...)` without the parentheses, or null. */
  withCheck: string | null;
  /** `COMMENT ON POLICY`. Present only when set. */
  comment?: string;
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
  /**
   * `ALTER COLUMN ... SET STORAGE`, present only when it is not the type's
   * default (`pg_type.typstorage`).
   */
  storage?: ColumnStorage;
  /** `COMPRESSION pglz | lz4`, present only when set (else `default_toast_compression`). */
  compression?: ColumnCompression;
}

export type ColumnStorage = 'plain' | 'external' | 'extended' | 'main';
export type ColumnCompression = 'pglz' | 'lz4';

export interface PrimaryKeyIR {
  name: string;
  columns: string[];
  /** `COMMENT ON CONSTRAINT`. Present only when set (as on every constraint and index). */
  comment?: string;
}

export interface UniqueIR {
  name: string;
  columns: string[];
  nullsNotDistinct: boolean;
  comment?: string;
}

export type ReferentialAction = 'no action' | 'restrict' | 'cascade' | 'set null' | 'set default';

export interface ForeignKeyIR {
  name: string;
  columns: string[];
  references: { table: string; columns: string[] };
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
  /** Added `NOT VALID`: existing rows were never checked (`pg_constraint.convalidated`). Present only when true. */
  notValid?: true;
  comment?: string;
}

export interface CheckIR {
  name: string;
  /** The boolean expression, without the surrounding `CHECK (...)`. */
  expression: string;
  /** Added `NOT VALID`, as on `ForeignKeyIR`. Present only when true. */
  notValid?: true;
  comment?: string;
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
  /** Storage parameters (`WITH (fillfactor = 70)`), as on `TableIR.with`. Present only when some are set. */
  with?: Record<string, string>;
  comment?: string;
}

export interface IndexKeyIR {
  /** Either a column name or an expression, never both. */
  column: string | null;
  expression: string | null;
  order: 'asc' | 'desc';
  nulls: 'first' | 'last' | null;
  opclass: string | null;
}
