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
   * Views and materialized views, by name: created after the tables (and
   * after the views they read), dropped before them. Optional like
   * `sequences`: absent reads as none.
   */
  views?: ViewIR[];
  /**
   * Functions (`CREATE FUNCTION`), by name then argument types (overloads
   * share a name). Optional like `extensions`: absent reads as none.
   */
  functions?: FunctionIR[];
  /**
   * Triggers, by table then name. Top-level rather than in `TableIR`: a
   * trigger needs both its table and its function, so it is created after
   * both and dropped before either (as foreign keys are ordered after all
   * tables), and `TableIR` stays as it was. Optional: absent reads as none.
   */
  triggers?: TriggerIR[];
  /**
   * SQL for what Ferry does not model (`raw()`), in declaration order: run
   * as written, undone by its `down`. Optional: absent reads as none.
   */
  raw?: RawIR[];
  /**
   * Partitions of partitioned tables (`CREATE TABLE … PARTITION OF …`), by
   * name; a partition's columns, keys and indexes are its parent's and are
   * not repeated. Optional like `extensions`: absent reads as none.
   */
  partitions?: PartitionIR[];
}

/**
 * A `raw(up, down)`. Introspection reports the unmodelled objects it can
 * print (C-language functions, procedures, constraint triggers...) as raw
 * entries named after the object (`function name(argument types)`,
 * `trigger table.name`), their `up` as Postgres prints the definition.
 */
export interface RawIR {
  name: string;
  /** SQL, one or more statements, without a trailing semicolon. */
  up: string;
  down: string;
  /** Run after everything else is created, and undone first (it needs tables, functions...). */
  last?: true;
}

/**
 * A function as `pg_proc` reports it: `arguments` as
 * `pg_get_function_arguments` prints them (names, modes, defaults),
 * `argumentTypes` as `oidvectortypes(proargtypes)` (the identity among
 * overloads: what `DROP FUNCTION name(...)` takes), `returns` as
 * `pg_get_function_result` (`trigger`, `SETOF que_jobs`, `TABLE(id integer)`),
 * `body` as `prosrc`, verbatim.
 */
export interface FunctionIR {
  name: string;
  arguments: string;
  argumentTypes: string;
  returns: string;
  /** `pg_language.lanname`: sql, plpgsql, ... */
  language: string;
  body: string;
  volatility: 'volatile' | 'stable' | 'immutable';
  strict: boolean;
  security: 'invoker' | 'definer';
  parallel: 'unsafe' | 'restricted' | 'safe';
  /** `SET name = value` clauses (`proconfig`), in order; empty for none. */
  setConfig: [string, string][];
  comment: string | null;
}

export type TriggerEvent = 'insert' | 'update' | 'delete' | 'truncate';

export interface TriggerIR {
  name: string;
  table: string;
  timing: 'before' | 'after' | 'instead of';
  /** In this order: insert, update, delete, truncate. */
  events: TriggerEvent[];
  /** `UPDATE OF` columns; empty for any update. */
  updateOf: string[];
  forEach: 'row' | 'statement';
  /** The `WHEN (...)` condition as Postgres prints it, without the parentheses; or null. */
  when: string | null;
  /** The trigger function, qualified only when not on the search path (`tsvector_update_trigger`). */
  function: string;
  /** Literal arguments passed to the function (`TG_ARGV`). */
  args: string[];
  comment: string | null;
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
  /**
   * Present only when it differs from the table's: PostgreSQL 15 makes the
   * sequence of an UNLOGGED table's column unlogged too, where an older
   * server (and a dump of it) left it logged.
   */
  persistence?: 'logged' | 'unlogged';
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
  /** `PARTITION BY …`: present only on a partitioned table. */
  partitionBy?: PartitionByIR;
  /**
   * Citus distribution (`create_distributed_table` / `create_reference_table`,
   * see schema/citus.ts). Present only when declared. Introspection never
   * reports it (a plain server has no trace of it): migrations record it in
   * marker comments.
   */
  distribution?: DistributionIR;
}

/**
 * How Citus spreads a table over the cluster: sharded by `column`
 * (co-located with the table `colocateWith` names, or Citus's `'default'`
 * group for the column's type, or `'none'`), or copied whole to every node
 * (`reference`).
 */
export type DistributionIR = { kind: 'distributed'; column: string; colocateWith: string } | { kind: 'reference' };

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
  /** `ALTER COLUMN ... SET STATISTICS n` (0–10000), present only when set (else `default_statistics_target`). */
  statistics?: number;
}

export type ColumnStorage = 'plain' | 'external' | 'extended' | 'main';
export type ColumnCompression = 'pglz' | 'lz4';

export interface PrimaryKeyIR {
  name: string;
  columns: string[];
  /** `DEFERRABLE INITIALLY ...`, as on `UniqueIR` (a change drops and adds the key). Present only when deferrable. */
  deferrable?: 'immediate' | 'deferred';
  /** `COMMENT ON CONSTRAINT`. Present only when set (as on every constraint and index). */
  comment?: string;
}

export interface UniqueIR {
  name: string;
  columns: string[];
  nullsNotDistinct: boolean;
  /**
   * `DEFERRABLE INITIALLY ...`, as on `ForeignKeyIR` (checked at commit, so
   * a transaction may swap two rows' values). Present only when deferrable.
   * Postgres alters only a foreign key's in place: a unique's change drops
   * and adds it.
   */
  deferrable?: 'immediate' | 'deferred';
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
  /**
   * `DEFERRABLE INITIALLY IMMEDIATE | DEFERRED`: checked at commit when
   * deferred (by default, or after `SET CONSTRAINTS ... DEFERRED`). Present
   * only when deferrable.
   */
  deferrable?: 'immediate' | 'deferred';
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

/**
 * A view or materialized view. The DSL cannot know how Postgres will spell
 * the query, its output columns or what it reads, so a DSL's ViewIR is
 * compared only after the shadow database normalised it (shadow.ts), like
 * checks and defaults.
 */
export interface ViewIR {
  name: string;
  materialized: boolean;
  /** The query as `pg_get_viewdef` prints it, trimmed, without the trailing `;`. */
  definition: string;
  /** Output columns in order (`format_type` spelling); empty in a DSL's IR before normalisation. */
  columns: ViewColumnIR[];
  /** `security_invoker` (plain views): permissions and RLS of the caller, not the owner. */
  securityInvoker: boolean;
  /** `security_barrier` (plain views). */
  securityBarrier: boolean;
  /** `WITH LOCAL | CASCADED CHECK OPTION` (plain views). */
  checkOption: 'local' | 'cascaded' | null;
  /**
   * Materialized views: populated (`WITH DATA`, or refreshed since). A
   * creation option: a difference in it alone is data, not a schema change,
   * and the differ ignores it.
   */
  withData: boolean;
  /** Indexes of a materialized view (always empty for a plain view). */
  indexes: IndexIR[];
  comment: string | null;
  /** Comments on its output columns (`COMMENT ON COLUMN`), by column name in code-unit order; present only when some. */
  columnComments?: Record<string, string>;
  /**
   * The tables and views of the schema it reads, by name, with the columns
   * it uses (from `pg_depend`); ordering and drop-and-recreate around column
   * and table changes follow it. A DSL's IR lists the relations its SQL names
   * (columns unknown) until normalised.
   */
  dependsOn: ViewDependencyIR[];
}

export interface ViewColumnIR {
  name: string;
  type: string;
}

export interface ViewDependencyIR {
  name: string;
  columns: string[];
}
