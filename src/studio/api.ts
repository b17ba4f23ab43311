/**
 * Ferry Studio's HTTP API: the one contract between the server
 * (src/studio/server.ts and its routes) and the browser UI (src/studio/ui/).
 * Types only, no runtime code: the UI imports them too, and its bundle must
 * not pull in anything of Node's.
 *
 * Conventions:
 * - Every path is relative to where Studio is mounted (`ferry studio` mounts
 *   it at `/`; an app may mount it at `/studio/`). The UI is served at `./`
 *   (index.html and hashed assets) and routes with the URL fragment
 *   (`#/tables/users?sort=id`), so a mount point needs one prefix only.
 * - Requests and responses are JSON (`application/json; charset=utf-8`)
 *   except the NDJSON download. Errors: a 4xx/5xx status with `ApiError`.
 * - Table names are `schema.name` when the schema is not `public`, else the
 *   bare name; URL path segments are `encodeURIComponent`-ed.
 * - Row keys (`RowKey`) and filters travel as JSON in one query parameter
 *   (`?key=...`, `?filter=...`), URL-encoded.
 * - Writes (POST/PATCH/DELETE) need write mode (`ferry studio --write`, or
 *   `studio(ferry, { write: true })`) and the header `x-ferry-studio-token`
 *   with the token printed at start (or FERRY_STUDIO_TOKEN). Without write
 *   mode: 403 E_STUDIO_READ_ONLY; with a missing or wrong token: 401
 *   E_STUDIO_TOKEN. The custom header is also the CSRF defence (a cross-site
 *   form cannot set it, and Studio never answers a CORS preflight); a request
 *   whose `Origin` is not Studio's own is refused (403 E_STUDIO_ORIGIN), and
 *   one whose `Host` is not an allowed host is refused (421 E_STUDIO_HOST)
 *   against DNS rebinding. The UI reads the token from the page URL's
 *   fragment (`#token=...`, never sent to the server by the browser) and
 *   keeps it in sessionStorage.
 */

/** Every error response's body. `code` is a FerryError code (E_*). */
export interface ApiError {
  error: {
    code: string;
    message: string;
    /** Per-column messages for a write the schema's validation refused (422). */
    fields?: Record<string, string>;
  };
}

// ------------------------------------------------------------------ meta

/** GET api/meta */
export interface MetaResponse {
  ferryVersion: string;
  backend: 'postgres' | 'pglite';
  /** The database URL with any password removed (`postgres://app@db:5432/app`, `pglite:./data`). */
  database: string;
  /** Write mode is on (edits still need the token). */
  writable: boolean;
  /** Which pages have something to show. */
  features: { schema: boolean; migrations: boolean; imports: boolean; cache: boolean; cutover: boolean };
}

// ------------------------------------------------------------------ tables

export type TableKind = 'table' | 'partitioned' | 'view' | 'materialized-view';

/** GET api/tables */
export interface TablesResponse {
  tables: TableSummary[];
}

export interface TableSummary {
  /** `name`, or `schema.name` outside `public`. */
  name: string;
  schema: string;
  kind: TableKind;
  /** From `pg_class.reltuples` (null when never analysed); never a COUNT(*). */
  estimatedRows: number | null;
  /** `pg_total_relation_size`, bytes. */
  bytes: number | null;
  comment: string | null;
}

/** How the UI shows a column's cells and which filter operators it offers. */
export type CellKind =
  | 'text'
  | 'number'
  | 'bigint'
  | 'boolean'
  | 'json'
  | 'timestamp'
  | 'date'
  | 'uuid'
  | 'bytea'
  | 'array'
  | 'enum'
  | 'other';

export interface ColumnInfo {
  name: string;
  /** The SQL type as Postgres prints it (`timestamp with time zone`, `text[]`). */
  type: string;
  kind: CellKind;
  nullable: boolean;
  /** The default expression, as SQL text. */
  default: string | null;
  /** Marked `.sensitive()` in the schema: cells come back masked (`{ $masked: true }`). */
  sensitive: boolean;
  /** Part of the primary key. */
  primaryKey: boolean;
  /** Included in full-text search (`q`): text-like columns. */
  searchable: boolean;
  enumValues?: string[];
  comment: string | null;
}

export interface ForeignKeyInfo {
  name: string;
  /** The referencing table and its columns. */
  table: string;
  columns: string[];
  /** The referenced table and its columns. */
  refTable: string;
  refColumns: string[];
}

/** GET api/tables/:table */
export interface TableResponse extends TableSummary {
  columns: ColumnInfo[];
  /** Empty for a table without one (rows are then read-only, keyed by ctid). */
  primaryKey: string[];
  /** This table's foreign keys (a cell opens the parent row). */
  foreignKeys: ForeignKeyInfo[];
  /** Other tables' foreign keys to this one (a row lists its children). */
  referencedBy: ForeignKeyInfo[];
  /** CREATE statements for the table, its indexes, constraints, triggers, comments. */
  ddl: string;
}

// ------------------------------------------------------------------ rows

/**
 * A cell as JSON: strings, numbers, booleans and null as themselves; bigint
 * and numeric as strings (exact); json/jsonb as the value itself wrapped
 * (`{ $json: value }`, so a JSON string is not mistaken for text);
 * timestamps as ISO 8601 strings in UTC; bytea as `{ $bytea: byteLength }`;
 * arrays as arrays of cells; masked columns as `{ $masked: true }`.
 */
export type Cell =
  | string
  | number
  | boolean
  | null
  | Cell[]
  | { $json: unknown }
  | { $bytea: number }
  | { $masked: true };

/** Primary key column → value (as a Cell). */
export type RowKey = Record<string, Cell>;

export interface Row {
  /** column → cell, for the page's columns. */
  cells: Record<string, Cell>;
  /** The row's key; null when the table has no primary key. */
  key: RowKey | null;
  /**
   * The row's version for optimistic locking: a hash of its full stored
   * content (masked columns included, server-side). An update or delete sends
   * it back; a row changed since is not overwritten (409).
   */
  version: string;
}

export type FilterOp = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'contains' | 'isNull' | 'notNull' | 'in';

export interface Filter {
  column: string;
  op: FilterOp;
  /** Absent for isNull/notNull; an array for `in`; text for `contains` (case-insensitive). */
  value?: Cell;
}

/**
 * GET api/tables/:table/rows?limit=50&sort=<column>&dir=asc|desc&after=<cursor>|before=<cursor>
 *   &filter=<JSON Filter[]>&q=<text>
 * Keyset pagination: `sort` plus the primary key make the order total;
 * `after`/`before` are opaque cursors from a previous page. `limit` is 1-500
 * (default 50). `q` searches the searchable columns (`to_tsvector` /
 * `websearch_to_tsquery`, falling back to ILIKE on a table too small to matter).
 */
export interface RowsResponse {
  columns: string[];
  rows: Row[];
  /** Cursor of the next page (null on the last page). */
  next: string | null;
  /** Cursor of the previous page (null on the first page). */
  prev: string | null;
  /** The table's estimate when unfiltered; null when filtered (no COUNT(*) on big tables). */
  estimatedTotal: number | null;
  /** The SQL that read the page, for the "show SQL" toggle. */
  sql: string;
}

/** GET api/tables/:table/row?key=<JSON RowKey> → 404 E_STUDIO_NOT_FOUND when gone */
export interface RowResponse {
  row: Row;
}

/** GET api/tables/:table/children?key=<JSON RowKey>: one entry per referencing foreign key, counts capped. */
export interface ChildrenResponse {
  children: {
    foreignKey: ForeignKeyInfo;
    /** Rows referencing this one, counted up to `cap` (count = cap + 1 means "more than cap"). */
    count: number;
    cap: number;
    /** A filter that lists them on the child table's page. */
    filter: Filter[];
  }[];
}

/** POST api/tables/:table/rows → 201 WriteResponse | 422 ApiError with `fields` */
export interface InsertRequest {
  /** column → cell (timestamps as ISO strings, json as `{ $json }`). Omitted columns take their defaults. */
  values: Record<string, Cell>;
}

/** PATCH api/tables/:table/rows → 200 WriteResponse | 409 ConflictResponse | 422 */
export interface UpdateRequest {
  key: RowKey;
  /** The version the user edited. */
  version: string;
  /** Only the changed columns. */
  values: Record<string, Cell>;
}

/** DELETE api/tables/:table/rows (JSON body) → 200 WriteResponse | 409 ConflictResponse */
export interface DeleteRequest {
  key: RowKey;
  version: string;
}

export interface WriteResponse {
  /** The row as stored after the write (null after a delete). */
  row: Row | null;
  /** The statement that ran, with its parameters inlined as literals for display. */
  sql: string;
}

/** 409: the row changed (or was deleted) since the user loaded it; nothing was written. */
export interface ConflictResponse extends ApiError {
  /** The row as stored now (null when deleted); the UI shows it beside the user's version. */
  current: Row | null;
}

// ------------------------------------------------------------------ SQL runner

/**
 * POST api/sql. Runs in a READ ONLY transaction with a statement timeout
 * (default 10 s) unless write mode is on, the token is given and `write` is
 * true; `explain` wraps it in EXPLAIN (FORMAT JSON), `analyze` (write mode
 * only: ANALYZE executes the statement) adds ANALYZE. One statement.
 * Results are capped at `maxRows` (default 1,000; `truncated` says so).
 */
export interface SqlRequest {
  sql: string;
  explain?: boolean;
  analyze?: boolean;
  write?: boolean;
  maxRows?: number;
}

export interface SqlResponse {
  columns: { name: string; type: string }[];
  rows: Cell[][];
  rowCount: number | null;
  truncated: boolean;
  ms: number;
  /** EXPLAIN's plan (FORMAT JSON), when asked. */
  plan?: unknown;
}

/** GET api/sql/history: this server's recent statements, newest first (kept in memory, at most 100). */
export interface SqlHistoryResponse {
  entries: { sql: string; at: string; ms: number; ok: boolean; error?: string; rowCount?: number | null }[];
}

// ------------------------------------------------------------------ schema

/** GET api/schema */
export interface SchemaResponse {
  /** The ER diagram as standalone SVG (tables, columns, foreign keys as edges), from the schema IR. */
  svg: string;
  /** The whole schema's DDL, as `ferry schema` prints it. */
  ddl: string;
  tables: { name: string; kind: TableKind }[];
}

// ------------------------------------------------------------------ migrations

/** GET api/migrations */
export interface MigrationsResponse {
  /** Where migrations are read from; null when none is configured (only the history shows). */
  directory: string | null;
  applied: { id: string; name: string; checksum: string; appliedAt: string; checksumMatches: boolean | null }[];
  pending: { id: string; name: string; checksum: string }[];
  lint: { migration: string; rule: string; severity: 'error' | 'warning'; message: string }[];
  /** `ferry migrate check`: does the database match the schema and the migrations? */
  drift: { status: 'clean' | 'drift' | 'unknown'; differences: string[]; message?: string };
}

// ------------------------------------------------------------------ imports

/** GET api/imports: runs from the import checkpoint table. */
export interface ImportsResponse {
  runs: ImportRun[];
}

export interface ImportRun {
  name: string;
  runId: string;
  status: 'running' | 'done' | 'partial' | string;
  /** Records consumed so far. */
  position: number;
  records: number;
  rejectedRecords: number;
  rejects: number;
  tables: Record<
    string,
    { inserted: number; updated: number; unchanged: number; duplicates: number; rejected: number; stale?: number }
  >;
  updatedAt: string | null;
}

/**
 * GET api/imports/:name/rejects?table=&reason=&sqlstate=&limit=&after=
 * (`reason` is a case-insensitive substring). GET api/imports/:name/rejects.ndjson
 * downloads them all with the same filters (Content-Disposition: attachment).
 */
export interface RejectsResponse {
  rejects: {
    ordinal: number;
    source: string | null;
    location: string | null;
    table: string | null;
    column: string | null;
    reason: string;
    sqlstate: string | null;
    /** The record or row as imported (sensitive columns masked). */
    data: unknown;
  }[];
  next: string | null;
  /** Reject counts by table, reason and SQLSTATE, for the filter menus. */
  facets: { tables: Record<string, number>; sqlstates: Record<string, number> };
}

// ------------------------------------------------------------------ cache

/** GET api/cache. `available: false` when no cache or Redis is configured. */
export interface CacheResponse {
  available: boolean;
  tiers?: { l1: { hits: number; misses: number; size: number }; l2: { hits: number; misses: number } | null };
  breaker?: 'closed' | 'open' | 'half-open' | null;
  redis?: { connected: boolean; url: string | null };
  /** Live session and rate-limit key counts (SCAN of their prefixes), null when unknown. */
  sessions?: number | null;
  rateLimits?: number | null;
}

/** GET api/cache/keys?prefix=&limit= (SCAN, never KEYS); DELETE api/cache/keys?prefix= (write mode) */
export interface CacheKeysResponse {
  keys: { key: string; ttlMs: number | null; bytes: number | null }[];
  /** True when more keys match than were listed. */
  more: boolean;
}

export interface CacheDeleteResponse {
  deleted: number;
}

// ------------------------------------------------------------------ cutover

/** GET api/cutover. `available: false` when no cutover has been set up in this database. */
export interface CutoverResponse {
  available: boolean;
  cutovers?: {
    name: string;
    stage: string;
    /** Share of reads served from Postgres in the gradual switch, 0-1. */
    readShare: number | null;
    journalSize: number;
    comparisons: number;
    mismatches: number;
    mismatchRate: number | null;
    /** The most recent mismatches, legacy and Postgres values side by side. */
    recentMismatches: { key: string; table: string | null; legacy: unknown; postgres: unknown; at: string }[];
  }[];
}
