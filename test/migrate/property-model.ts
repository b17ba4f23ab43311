/**
 * The model behind the property-based migration round trips
 * (property.test.ts): a small, data-aware description of a schema that
 * random "operations" mutate, and that renders to the schema IR, to rename
 * hints and to the rows the database should hold.
 *
 * Operations are interpreted, not generated structurally: fast-check produces
 * `{ kind, picks }` records, and `applyOp` turns the numbers in `picks` into
 * choices against the current model (which table, which column, ...). That
 * keeps every generated schema internally consistent (FKs reference existing
 * primary keys of the same type, index and constraint columns exist, names
 * follow `<table>_<cols>_key/_fkey/_idx/_check` and `<table>_pkey` and are
 * unique), and it still shrinks well: smaller numbers mean earlier choices.
 *
 * The model also tracks every row it seeded (as Postgres's `::text` output),
 * so that operations are only generated when the existing data allows them
 * (a unique over duplicates, SET NOT NULL over NULLs, an FK over dangling
 * values would fail for reasons that have nothing to do with the differ), and
 * so that the test can check the data survived renames and type changes.
 *
 * Over 600 lines: one model whose operations all read and update the same
 * state (tables, rows, names in use); split by operation, each part would
 * need all of it.
 */
import type { RenameHints } from '../../src/migrate/hints.js';
import { quoteIdent as q } from '../../src/schema/identifiers.js';
import type { IndexIR, SchemaIR, TableIR } from '../../src/schema/ir.js';
import { literal } from '../../src/schema/sql.js';
import { type MFunction, type MTrigger, ROUTINE_FALLBACK, ROUTINE_OPS, routinesIR } from './property-routines.js';

/**
 * Shapes the generator leaves out because the generated migration mishandles
 * them. Each is `true` while the gap is open: the generator then avoids the
 * shape so the suite stays green. Set one to `false`, or run with
 * `FERRY_PROPERTY_GAPS=name,name` (or `all`), to generate it again and see
 * the failure; `FERRY_PROPERTY_OPS` narrows the operations to find it fast.
 * Each comment gives the shrunk counterexample fast-check found.
 *
 * Closed differ bugs, generated again since: renameAndAddEnumValues,
 * renameEnumValueUsedAsDefault (enum labels in defaults and expressions are
 * renamed with the value; the rename runs in the expand migration when values
 * are added too), renameColumnInCheck, renameColumnInIndexPredicate
 * (expressions are rewritten like Postgres does, see src/migrate/expressions.ts).
 * Limits of destructive downs (the data is gone; the down script should
 * still run): dropColumnWithRows, dropReferencedTableWithRows.
 */
export const KNOWN_GAPS = {
  /**
   * LIMIT. Dropping a column from a table with rows: the down re-adds it, so
   * every row gets its default (or NULL), then re-adds the constraints
   * dropped with it. That fails when the column was NOT NULL without a
   * default, or when a unique (NULLS NOT DISTINCT, or over the default),
   * check or FK that covered it does not hold for those values.
   *   from: t1 (id integer PK, c3 integer NOT NULL), 1 row; to: t1 (id integer PK)
   *   down: ALTER TABLE t1 ADD COLUMN c3 integer NOT NULL → column "c3" of relation "t1" contains null values
   *   from: t1 (id integer PK, c2 integer DEFAULT 1, UNIQUE NULLS NOT DISTINCT (c2)), 2 rows; to: t1 (id integer PK)
   *   down: ADD COLUMN c2 integer DEFAULT 1; ADD CONSTRAINT t1_c2_key ... → could not create unique index "t1_c2_key"
   */
  dropColumnWithRows: true,
  /**
   * LIMIT. Dropping a table that other tables' rows still reference: the
   * down recreates it empty and re-adds the referencing foreign keys
   * validated, which fails on the dangling rows (NOT VALID would let it run).
   *   from: t1 (id integer PK, r3 integer REFERENCES t2 ON DELETE SET NULL), t2 (id integer PK), rows in both
   *   to:   t1 (id integer PK, r3 integer)
   *   down: CREATE TABLE t2 (...); ALTER TABLE t1 ADD CONSTRAINT t1_r3_fkey FOREIGN KEY (r3) REFERENCES t2 (id) ...
   *     → insert or update on table "t1" violates foreign key constraint "t1_r3_fkey"
   */
  dropReferencedTableWithRows: true,
} satisfies Record<string, boolean>;

export type KnownGap = keyof typeof KNOWN_GAPS;

/** Gaps to generate anyway, from FERRY_PROPERTY_GAPS (`all` or a comma list of KNOWN_GAPS names). */
export function gapsFromEnv(raw: string | undefined): Set<KnownGap> {
  const names = Object.keys(KNOWN_GAPS) as KnownGap[];
  if (!raw || raw.trim() === '') return new Set();
  if (raw.trim() === 'all') return new Set(names);
  const out = new Set<KnownGap>();
  for (const n of raw.split(',').map((s) => s.trim())) {
    if (!names.includes(n as KnownGap)) throw new Error(`FERRY_PROPERTY_GAPS: unknown gap "${n}" (known: ${names})`);
    out.add(n as KnownGap);
  }
  return out;
}

// ------------------------------------------------------------------ model

/** A cell as Postgres prints it with `::text`, or null. */
export type Cell = string | null;
export type Row = Record<string, Cell>;

export interface MColumn {
  name: string;
  /** Name at the start of the current step; null when created in this step. */
  origin: string | null;
  /** Canonical type (format_type spelling), or an enum's name. */
  type: string;
  nullable: boolean;
  /** A seed number (rendered per type), an enum label, or null. */
  default: number | string | null;
  serial: boolean;
  /** `SET STATISTICS n` (setStatistics). */
  statistics?: number;
  /** `SET STORAGE` on a text or varchar column, when not the type's own (setStorage). */
  storage?: 'external' | 'main';
}

export interface MUnique {
  cols: string[];
  nnd: boolean;
}

export interface MPredicate {
  col: string;
  kind: 'notnull' | 'positive';
}

export interface MIndex {
  keys: { col: string; desc: boolean }[];
  unique: boolean;
  where: MPredicate | null;
  /** `COMMENT ON INDEX` (setComment). */
  comment?: string;
}

export interface MForeignKey {
  col: string;
  /** Referenced table (its primary key column is the referenced column). */
  table: string;
  onDelete: 'cascade' | 'set null';
  /** Added NOT VALID (toggleNotValid). */
  notValid?: boolean;
  /** `DEFERRABLE INITIALLY ...` (toggleDeferrable). */
  deferrable?: 'immediate' | 'deferred';
}

/** A standalone sequence (addSequence, alterSequence, dropSequence); options null when Postgres's default. */
export interface MSequence {
  name: string;
  type: 'integer' | 'bigint';
  increment: string | null;
  cache: string | null;
  cycle: boolean;
}

export interface MTable {
  name: string;
  origin: string | null;
  columns: MColumn[];
  /** Primary key column, or null for a table without one. */
  pk: string | null;
  uniques: MUnique[];
  indexes: MIndex[];
  /** `col > 0` checks. */
  checks: { col: string; notValid?: boolean }[];
  fks: MForeignKey[];
  rows: Row[];
  /** Row-level security enabled (toggleRls). */
  rls?: boolean;
  /** Policies `USING (true)` / `WITH CHECK (true)` for every role, by name (addPolicy, dropPolicy). */
  policies?: { name: string; command: 'all' | 'select' | 'insert' | 'update' | 'delete'; permissive: boolean }[];
  /** `WITH (fillfactor = n)` (setFillfactor). */
  fillfactor?: number;
  /** `UNLOGGED` (toggleUnlogged; only while no foreign key joins it to another table). */
  unlogged?: boolean;
}

export interface MEnum {
  name: string;
  /** Existed at the start of the current step. */
  old: boolean;
  values: { label: string; origin: string | null }[];
}

/** `SELECT cols FROM source`: a view over a table or another view (`onView`). */
export interface MView {
  name: string;
  source: string;
  onView: boolean;
  cols: string[];
  materialized: boolean;
}

export interface Model {
  tables: MTable[];
  /** Views over the tables and over each other; they follow renames and lose dropped columns. */
  views: MView[];
  enums: MEnum[];
  /** Extensions declared (names from EXTENSION_POOL); nothing in the model uses them. */
  extensions: string[];
  /** Functions and triggers (property-routines.ts). */
  functions: MFunction[];
  triggers: MTrigger[];
  sequences: MSequence[];
  /** For fresh names. */
  nameSeq: number;
  /** For seeded and default values. */
  valueSeq: number;
  /** Odd (quoted) names already used in this history. */
  usedOdd: string[];
  /** KNOWN_GAPS the generator may produce anyway. */
  allow: KnownGap[];
  /** The model as the step started (after seeding): what `from` and the downs see. */
  base: Model | null;
}

export function emptyModel(allow: Iterable<KnownGap> = []): Model {
  return {
    tables: [],
    views: [],
    enums: [],
    extensions: [],
    functions: [],
    triggers: [],
    sequences: [],
    nameSeq: 1,
    valueSeq: 1,
    usedOdd: [],
    allow: [...allow],
    base: null,
  };
}

/** The model for the next step: a copy of `m` that remembers `m` as its start. */
export function beginStep(m: Model): Model {
  const base = structuredClone({ ...m, base: null });
  return { ...structuredClone(base), base };
}

/** After a step: every name is now its own origin. */
export function settle(m: Model): void {
  m.base = null;
  for (const t of m.tables) {
    t.origin = t.name;
    for (const c of t.columns) c.origin = c.name;
  }
  for (const e of m.enums) {
    e.old = true;
    for (const v of e.values) v.origin = v.label;
  }
}

// ------------------------------------------------------------------ types and values

const VARCHAR = /^character varying\((\d+)\)$/;
const NUMERIC = /^numeric\((\d+),(\d+)\)$/;
const TS = 'timestamp with time zone';

type Kind = 'int' | 'numeric' | 'text' | 'bool' | 'ts' | 'date' | 'jsonb' | 'uuid' | 'textarr' | 'enum';

function kindOf(m: Model, type: string): Kind {
  if (type === 'integer' || type === 'bigint') return 'int';
  if (NUMERIC.test(type)) return 'numeric';
  if (type === 'text' || VARCHAR.test(type)) return 'text';
  if (type === 'boolean') return 'bool';
  if (type === TS) return 'ts';
  if (type === 'date') return 'date';
  if (type === 'jsonb') return 'jsonb';
  if (type === 'uuid') return 'uuid';
  if (type === 'text[]') return 'textarr';
  if (m.enums.some((e) => e.name === type)) return 'enum';
  throw new Error(`property model: unknown type ${type}`);
}

const isNumeric = (m: Model, type: string) => ['int', 'numeric'].includes(kindOf(m, type));

function dateText(n: number): string {
  return new Date(Date.UTC(2000, 0, 1) + n * 86_400_000).toISOString().slice(0, 10);
}

/** What `value::text` prints for seed `n` in a column of `type` (enums: pass the label as `n`). */
export function valueText(m: Model, type: string, n: number | string): string {
  if (typeof n === 'string') return n; // enum label
  switch (kindOf(m, type)) {
    case 'int':
      return `${n}`;
    case 'numeric': {
      const scale = Number(NUMERIC.exec(type)![2]);
      return scale > 0 ? `${n}.${'0'.repeat(scale)}` : `${n}`;
    }
    case 'text':
      return `v${n}`;
    case 'bool':
      return n % 2 === 1 ? 'true' : 'false';
    case 'ts':
      return `${dateText(n)} 00:00:00+00`;
    case 'date':
      return dateText(n);
    case 'jsonb':
      return `{"k": ${n}}`;
    case 'uuid':
      return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
    case 'textarr':
      return `{v${n}}`;
    case 'enum':
      throw new Error('property model: enum values are labels');
  }
}

function defaultSql(m: Model, type: string, d: number | string): string {
  if (typeof d === 'string') return literal(d);
  const kind = kindOf(m, type);
  if (kind === 'int' || kind === 'numeric' || kind === 'bool') return valueText(m, type, d);
  return literal(valueText(m, type, d));
}

/** A seed for a new value of `type`: a number, or for an enum one of its labels. */
function seedFor(m: Model, type: string): number | string {
  const n = m.valueSeq++;
  const e = m.enums.find((x) => x.name === type);
  if (e) return e.values[n % e.values.length]!.label;
  return n;
}

// ------------------------------------------------------------------ rendering

const uniqueName = (t: string, cols: string[]) => `${t}_${cols.join('_')}_key`;
const indexName = (t: string, ix: MIndex) => `${t}_${ix.keys.map((k) => k.col).join('_')}_idx`;
const fkName = (t: string, col: string) => `${t}_${col}_fkey`;
const checkName = (t: string, col: string) => `${t}_${col}_check`;
const predicateSql = (p: MPredicate) => (p.kind === 'notnull' ? `${q(p.col)} IS NOT NULL` : `${q(p.col)} > 0`);

/** Every constraint and index name of `t`. */
function namesOf(t: MTable): string[] {
  return [
    ...(t.pk ? [`${t.name}_pkey`] : []),
    ...t.uniques.map((u) => uniqueName(t.name, u.cols)),
    ...t.indexes.map((ix) => indexName(t.name, ix)),
    ...t.fks.map((f) => fkName(t.name, f.col)),
    ...t.checks.map((c) => checkName(t.name, c.col)),
  ];
}

const nameOk = (t: MTable, name: string) => Buffer.byteLength(name) <= 63 && !namesOf(t).includes(name);

/**
 * Extensions the property test may declare: shipped by PGlite and in
 * PostgreSQL's contrib alike. The test's PGlite database loads their bundles.
 */
export const EXTENSION_POOL = ['btree_gist', 'citext', 'hstore', 'pg_trgm', 'uuid-ossp'] as const;

export function toIR(m: Model): SchemaIR {
  const extensions = [...m.extensions].sort().map((name) => ({ name, schema: null, version: null }));
  const sequences = [...m.sequences]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((s) => ({
      name: s.name,
      type: s.type,
      start: null,
      increment: s.increment,
      min: null,
      max: null,
      cache: s.cache,
      cycle: s.cycle,
      ownedBy: null,
    }));
  return {
    ...(extensions.length > 0 ? { extensions } : {}),
    ...(sequences.length > 0 ? { sequences } : {}),
    enums: m.enums.map((e) => ({ name: e.name, values: e.values.map((v) => v.label) })),
    tables: m.tables.map((t): TableIR => {
      const pkType = (name: string) => {
        const ref = tableOf(m, name);
        return ref.columns.find((c) => c.name === ref.pk)!;
      };
      return {
        name: t.name,
        columns: t.columns.map((c) => ({
          name: c.name,
          type: c.type,
          nullable: c.name === t.pk ? false : c.nullable,
          default: c.default === null ? null : defaultSql(m, c.type, c.default),
          serial: c.serial,
          identity: null,
          generated: null,
          comment: null,
          ...(c.statistics !== undefined ? { statistics: c.statistics } : {}),
          ...(c.storage !== undefined ? { storage: c.storage } : {}),
        })),
        primaryKey: t.pk ? { name: `${t.name}_pkey`, columns: [t.pk] } : null,
        uniques: t.uniques.map((u) => ({ name: uniqueName(t.name, u.cols), columns: u.cols, nullsNotDistinct: u.nnd })),
        foreignKeys: t.fks.map((f) => ({
          name: fkName(t.name, f.col),
          columns: [f.col],
          references: { table: f.table, columns: [pkType(f.table).name] },
          onDelete: f.onDelete,
          onUpdate: 'no action',
          ...(f.notValid ? { notValid: true as const } : {}),
          ...(f.deferrable ? { deferrable: f.deferrable } : {}),
        })),
        checks: t.checks.map((c) => ({
          name: checkName(t.name, c.col),
          expression: `${q(c.col)} > 0`,
          ...(c.notValid ? { notValid: true as const } : {}),
        })),
        indexes: t.indexes.map(
          (ix): IndexIR => ({
            name: indexName(t.name, ix),
            unique: ix.unique,
            method: 'btree',
            keys: ix.keys.map((k) => ({
              column: k.col,
              expression: null,
              order: k.desc ? 'desc' : 'asc',
              nulls: null,
              opclass: null,
            })),
            include: [],
            where: ix.where ? predicateSql(ix.where) : null,
            ...(ix.comment !== undefined ? { comment: ix.comment } : {}),
          }),
        ),
        comment: null,
        ...(t.fillfactor !== undefined ? { with: { fillfactor: String(t.fillfactor) } } : {}),
        ...(t.unlogged ? { unlogged: true as const } : {}),
        ...(t.rls ? { rowLevelSecurity: { enabled: true, force: false } } : {}),
        ...(t.policies && t.policies.length > 0
          ? {
              policies: [...t.policies]
                .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
                .map((p) => ({
                  name: p.name,
                  command: p.command,
                  permissive: p.permissive,
                  roles: ['public'],
                  using: p.command === 'insert' ? null : 'true',
                  withCheck: p.command === 'select' || p.command === 'delete' ? null : 'true',
                })),
            }
          : {}),
      };
    }),
    ...(m.views.length > 0
      ? {
          views: [...m.views]
            .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
            .map((v) => ({
              name: v.name,
              materialized: v.materialized,
              definition: `SELECT ${v.cols.map(q).join(', ')} FROM ${q(v.source)}`,
              columns: [],
              securityInvoker: false,
              securityBarrier: false,
              checkOption: null,
              withData: true,
              indexes: [],
              comment: null,
              dependsOn: [{ name: v.source, columns: [] }],
            })),
        }
      : {}),
    ...routinesIR(m),
  };
}

/** Views reading `source` (a table or view), and so on down: what dropping it takes along. */
function viewsOver(m: Model, source: string): MView[] {
  const direct = m.views.filter((v) => v.source === source);
  return [...direct, ...direct.flatMap((v) => viewsOver(m, v.name))];
}

function dropViews(m: Model, gone: MView[]): void {
  m.views = m.views.filter((v) => !gone.includes(v));
}

/** Column `old` of `source` is now `name` (null: dropped), in every view reading it and the views over those. */
function renameViewColumn(m: Model, source: string, old: string, name: string | null): void {
  for (const v of m.views.filter((x) => x.source === source && x.cols.includes(old))) {
    if (name !== null) v.cols = v.cols.map((c) => (c === old ? name : c));
    else v.cols = v.cols.filter((c) => c !== old);
    renameViewColumn(m, v.name, old, name);
    if (v.cols.length === 0) dropViews(m, [v, ...viewsOver(m, v.name)]);
  }
}

/** Rename hints for what was renamed during the current step (new → old). */
export function hintsOf(m: Model): RenameHints {
  const hints: RenameHints = { tables: new Map(), columns: new Map(), enumValues: new Map() };
  for (const t of m.tables) {
    if (t.origin === null) continue;
    if (t.origin !== t.name) hints.tables.set(t.name, t.origin);
    const cols = new Map<string, string>();
    for (const c of t.columns) if (c.origin !== null && c.origin !== c.name) cols.set(c.name, c.origin);
    if (cols.size > 0) hints.columns.set(t.name, cols);
  }
  for (const e of m.enums) {
    if (!e.old) continue;
    const values = new Map<string, string>();
    for (const v of e.values) if (v.origin !== null && v.origin !== v.label) values.set(v.label, v.origin);
    if (values.size > 0) hints.enumValues.set(e.name, values);
  }
  return hints;
}

export function describeHints(h: RenameHints): string {
  const parts = [
    ...[...h.tables].map(([n, o]) => `table ${o} -> ${n}`),
    ...[...h.columns].flatMap(([t, cs]) => [...cs].map(([n, o]) => `column ${t}.${o} -> ${n}`)),
    ...[...h.enumValues].flatMap(([e, vs]) => [...vs].map(([n, o]) => `enum ${e} value ${o} -> ${n}`)),
  ];
  return parts.length === 0 ? '(none)' : parts.join('; ');
}

// ------------------------------------------------------------------ data

function tableOf(m: Model, name: string): MTable {
  const t = m.tables.find((x) => x.name === name);
  if (!t) throw new Error(`property model: no table ${name}`);
  return t;
}

const pkValues = (t: MTable): Cell[] => (t.pk ? t.rows.map((r) => r[t.pk!] ?? null) : []);

function predicateHolds(p: MPredicate | null, row: Row): boolean {
  if (p === null) return true;
  const v = row[p.col] ?? null;
  return p.kind === 'notnull' ? v !== null : v !== null && Number.parseFloat(v) > 0;
}

/** Would `rows` satisfy a unique over `cols` (NULLS NOT DISTINCT if `nnd`), counting only rows matching `where`? */
function uniqueHolds(rows: Row[], cols: string[], nnd: boolean, where: MPredicate | null): boolean {
  const seen = new Set<string>();
  for (const r of rows) {
    if (!predicateHolds(where, r)) continue;
    const key = cols.map((c) => r[c] ?? null);
    if (!nnd && key.some((v) => v === null)) continue;
    const k = JSON.stringify(key);
    if (seen.has(k)) return false;
    seen.add(k);
  }
  return true;
}

/** Would `t` with `rows` satisfy all its constraints and unique indexes? */
function rowsValid(m: Model, t: MTable, rows: Row[]): boolean {
  for (const c of t.columns) {
    if ((!c.nullable || c.name === t.pk) && rows.some((r) => (r[c.name] ?? null) === null)) return false;
  }
  if (t.pk && !uniqueHolds(rows, [t.pk], false, null)) return false;
  for (const u of t.uniques) if (!uniqueHolds(rows, u.cols, u.nnd, null)) return false;
  for (const ix of t.indexes) {
    if (
      ix.unique &&
      !uniqueHolds(
        rows,
        ix.keys.map((k) => k.col),
        false,
        ix.where,
      )
    )
      return false;
  }
  for (const ch of t.checks) {
    if (rows.some((r) => r[ch.col] != null && !(Number.parseFloat(r[ch.col]!) > 0))) return false;
  }
  for (const f of t.fks) {
    const targets = new Set(pkValues(tableOf(m, f.table)));
    if (rows.some((r) => r[f.col] != null && !targets.has(r[f.col]!))) return false;
  }
  return true;
}

/** Tables in an order where every referenced table comes before the tables referencing it. */
function topological(m: Model): MTable[] {
  const out: MTable[] = [];
  const visit = (t: MTable, path: Set<string>) => {
    if (out.includes(t) || path.has(t.name)) return;
    path.add(t.name);
    for (const f of t.fks) if (f.table !== t.name) visit(tableOf(m, f.table), path);
    out.push(t);
  };
  for (const t of m.tables) visit(t, new Set());
  return out;
}

/**
 * One new row per table, where one fits: every value fresh, non-null and
 * positive; foreign keys point at the referenced table's latest row. Updates
 * the model's rows and returns the INSERTs to run.
 */
export function seedRows(m: Model): string[] {
  const out: string[] = [];
  for (const t of topological(m)) {
    const row: Row = {};
    let ok = true;
    for (const c of t.columns) {
      const fk = t.fks.find((f) => f.col === c.name);
      if (fk) {
        const ref = tableOf(m, fk.table);
        row[c.name] = ref.rows.length > 0 ? (ref.rows.at(-1)![ref.pk!] ?? null) : null;
        if (row[c.name] === null && !c.nullable) ok = false;
        continue;
      }
      row[c.name] = valueText(m, c.type, seedFor(m, c.type));
    }
    if (!ok || !rowsValid(m, t, [...t.rows, row])) continue;
    t.rows.push(row);
    const cols = t.columns.map((c) => c.name);
    out.push(
      cols.length === 0
        ? `INSERT INTO ${q(t.name)} DEFAULT VALUES`
        : `INSERT INTO ${q(t.name)} (${cols.map(q).join(', ')}) VALUES (${cols.map((c) => literal(row[c])).join(', ')})`,
    );
  }
  return out;
}

/** SELECT that reads `t` the way the model stores it: each column `::text`, in model column order. */
export function selectRowsSql(t: MTable): string {
  if (t.columns.length === 0) return `SELECT 1 AS x FROM ${q(t.name)}`;
  return `SELECT ${t.columns.map((c, i) => `${q(c.name)}::text AS v${i}`).join(', ')} FROM ${q(t.name)}`;
}

/** The model's rows of `t`, as the sorted JSON lines `selectRowsSql` should produce. */
export function expectedRows(t: MTable): string[] {
  if (t.columns.length === 0) return t.rows.map(() => JSON.stringify({ x: 1 })).sort();
  return t.rows
    .map((r) => JSON.stringify(Object.fromEntries(t.columns.map((c, i) => [`v${i}`, r[c.name] ?? null]))))
    .sort();
}

// ------------------------------------------------------------------ choices

/** Turns fast-check's numbers into choices; shrinking a number towards 0 picks an earlier option. */
export class Picks {
  #i = 0;
  readonly #picks: readonly number[];
  constructor(picks: readonly number[]) {
    this.#picks = picks.length > 0 ? picks : [0];
  }
  int(n: number): number {
    const v = this.#picks[this.#i++ % this.#picks.length]!;
    return n <= 1 ? 0 : v % n;
  }
  pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[this.int(xs.length)];
  }
  chance(oneIn: number): boolean {
    return this.int(oneIn) === 0;
  }
}

const ODD_TABLE_NAMES = ['order', 'user', 'Group'];
const ODD_COLUMN_NAMES = ['select', 'Camel', 'two words', 'desc'];

function freshName(m: Model, prefix: string, r: Picks, odd: readonly string[] = []): string {
  // Odd names on the last of eight outcomes, so shrunk cases use plain ones.
  if (odd.length > 0 && r.int(8) === 7) {
    const name = odd.find((n) => !m.usedOdd.includes(n));
    if (name) {
      m.usedOdd.push(name);
      return name;
    }
  }
  return `${prefix}${m.nameSeq++}`;
}

function freshEnum(m: Model, r: Picks): MEnum {
  const e: MEnum = { name: `e${m.nameSeq++}`, old: false, values: [] };
  const count = 1 + r.int(3);
  for (let i = 0; i < count; i++) e.values.push({ label: `l${m.nameSeq++}`, origin: null });
  m.enums.push(e);
  return e;
}

const BASE_TYPES = [
  'integer',
  'text',
  'bigint',
  'character varying(20)',
  'boolean',
  'numeric(10,2)',
  TS,
  'date',
  'jsonb',
  'uuid',
  'text[]',
  'character varying(64)',
  'numeric(12,0)',
];

function randomType(m: Model, r: Picks): string {
  const i = r.int(BASE_TYPES.length + 1);
  if (i < BASE_TYPES.length) return BASE_TYPES[i]!;
  const e = m.enums.length > 0 && !r.chance(3) ? r.pick(m.enums)! : freshEnum(m, r);
  return e.name;
}

/**
 * A column added to an existing table in this step is added in its final
 * form, so existing rows hold its final default (or NULL), whatever order
 * the step's operations gave it its default and type in.
 */
function refreshAddedColumn(m: Model, t: MTable, c: MColumn): void {
  if (c.origin !== null || t.origin === null) return;
  for (const row of t.rows) row[c.name] = c.default === null ? null : valueText(m, c.type, c.default);
}

function describeColumn(c: MColumn, m: Model): string {
  let s = `${c.name} ${c.serial ? 'serial' : c.type}`;
  if (!c.nullable) s += ' NOT NULL';
  if (c.default !== null) s += ` DEFAULT ${defaultSql(m, c.type, c.default)}`;
  return s;
}

// ------------------------------------------------------------------ operations

export const OP_KINDS = [
  'addTable',
  'addColumn',
  'addIndex',
  'renameColumn',
  'renameTable',
  'changeType',
  'toggleNull',
  'setDefault',
  'addUnique',
  'addCheck',
  'addFk',
  'addEnumValue',
  'renameEnumValue',
  'dropColumn',
  'dropIndex',
  'dropUnique',
  'dropCheck',
  'dropFk',
  'dropTable',
  'dropEnum',
  'addExtension',
  'dropExtension',
  'addView',
  'dropView',
  'addFunction',
  'changeFunction',
  'overloadFunction',
  'dropFunction',
  'addTrigger',
  'changeTrigger',
  'dropTrigger',
  'toggleRls',
  'addPolicy',
  'dropPolicy',
  'setFillfactor',
  'toggleNotValid',
  'setComment',
  'toggleDeferrable',
  'setStatistics',
  'addSequence',
  'alterSequence',
  'dropSequence',
  'setStorage',
  'toggleUnlogged',
] as const;

export type OpKind = (typeof OP_KINDS)[number];

export interface Op {
  kind: OpKind;
  picks: number[];
}

type OpFn = (m: Model, r: Picks) => string | null;

const allows = (m: Model, gap: KnownGap) => !KNOWN_GAPS[gap] || m.allow.includes(gap);

/**
 * Apply `op` to `m` in place. Returns what was done, or null when the op does
 * not apply to this model (nothing changed). An op that does not apply tries
 * its FALLBACK, and while there are fewer than three tables adds a table
 * instead, so that histories starting from an empty schema get somewhere.
 */
export function applyOp(m: Model, op: Op): { kind: OpKind; label: string } | null {
  for (const kind of [op.kind, ...(FALLBACK[op.kind] ? [FALLBACK[op.kind]!] : [])]) {
    const label = attempt(m, () => OPS[kind](m, new Picks(op.picks)));
    if (label !== null) return { kind, label };
  }
  if (m.tables.length >= 3) return null;
  return { kind: 'addTable', label: OPS.addTable(m, new Picks(op.picks))! };
}

/** Nothing to drop: add one instead, so a later step of the history can drop it. */
const FALLBACK: Partial<Record<OpKind, OpKind>> = {
  dropIndex: 'addIndex',
  dropUnique: 'addUnique',
  dropCheck: 'addCheck',
  dropFk: 'addFk',
  dropEnum: 'addEnumValue',
  renameEnumValue: 'addColumn',
  dropExtension: 'addExtension',
  dropView: 'addView',
  ...ROUTINE_FALLBACK,
  dropPolicy: 'addPolicy',
  toggleNotValid: 'addCheck',
  setComment: 'addIndex',
  toggleDeferrable: 'addFk',
  alterSequence: 'addSequence',
  dropSequence: 'addSequence',
};

/**
 * Run `fn`; undo it when it leaves rows that break the model's constraints
 * (e.g. a default given to a column added in this step fills existing rows
 * with a value an FK or unique rejects). Such a migration would fail because
 * of the data, which says nothing about the differ.
 */
function attempt(m: Model, fn: () => string | null): string | null {
  const before = structuredClone({ ...m, base: null });
  const label = fn();
  if (label === null || m.tables.every((t) => rowsValid(m, t, t.rows))) return label;
  Object.assign(m, before, { base: m.base });
  return null;
}

const nonPkColumns = (t: MTable) => t.columns.filter((c) => c.name !== t.pk);
const tablesWith = (m: Model, f: (t: MTable) => boolean) => m.tables.filter(f);

/** Does `from` reach `to` through foreign keys? */
function reaches(m: Model, from: string, to: string, seen = new Set<string>()): boolean {
  if (from === to) return true;
  if (seen.has(from)) return false;
  seen.add(from);
  return tableOf(m, from).fks.some((f) => reaches(m, f.table, to, seen));
}

/** Is `col` of `t` used where only a numeric type makes sense (a `> 0` check or predicate)? */
const numericUse = (t: MTable, col: string) =>
  t.checks.some((c) => c.col === col) || t.indexes.some((ix) => ix.where?.kind === 'positive' && ix.where.col === col);

/** Type changes Postgres can do with a plain `USING col::type`, and what they do to `::text` values. */
function widenings(t: MTable, c: MColumn): { type: string; convert: (v: string) => string }[] {
  const same = (v: string) => v;
  if (t.fks.some((f) => f.col === c.name)) return [];
  if (c.name === t.pk) return c.type === 'integer' ? [{ type: 'bigint', convert: same }] : [];
  const numericOnly = numericUse(t, c.name);
  const values = t.rows.map((row) => row[c.name]).filter((v): v is string => v != null);
  const varchar = VARCHAR.exec(c.type);
  const numeric = NUMERIC.exec(c.type);
  const out: { type: string; convert: (v: string) => string }[] = [];
  if (c.type === 'integer') {
    out.push({ type: 'bigint', convert: same }, { type: 'numeric(12,2)', convert: (v) => `${v}.00` });
    if (!numericOnly) out.push({ type: 'text', convert: same });
  } else if (c.type === 'bigint') {
    out.push({ type: 'numeric(20,0)', convert: same });
  } else if (varchar) {
    out.push({ type: `character varying(${Number(varchar[1]) + 10})`, convert: same }, { type: 'text', convert: same });
  } else if (c.type === 'text') {
    if (values.every((v) => v.length <= 255)) out.push({ type: 'character varying(255)', convert: same });
  } else if (numeric) {
    out.push({ type: `numeric(${Number(numeric[1]) + 2},${numeric[2]})`, convert: same });
  } else if (c.type === 'date') {
    out.push({ type: TS, convert: (v) => `${v} 00:00:00+00` });
  } else if (c.type === 'boolean' && !numericOnly) {
    out.push({ type: 'text', convert: same });
  }
  return out;
}

const OPS: Record<OpKind, OpFn> = {
  addTable(m, r) {
    const name = freshName(m, 't', r, ODD_TABLE_NAMES);
    const pkKind = r.pick(['integer', 'serial', 'bigint', 'uuid', 'none'] as const)!;
    const columns: MColumn[] = [];
    if (pkKind !== 'none') {
      columns.push({
        name: 'id',
        origin: null,
        type: pkKind === 'serial' ? 'integer' : pkKind,
        nullable: false,
        default: null,
        serial: pkKind === 'serial',
      });
    }
    // 1–4 columns in all, the primary key included.
    const count = pkKind === 'none' ? 1 + r.int(4) : r.int(4);
    for (let i = 0; i < count; i++) {
      const type = randomType(m, r);
      const nullable = !r.chance(3);
      const def = r.chance(3) ? seedFor(m, type) : null;
      columns.push({
        name: freshName(m, 'c', r, ODD_COLUMN_NAMES),
        origin: null,
        type,
        nullable,
        default: def,
        serial: false,
      });
    }
    const t: MTable = {
      name,
      origin: null,
      columns,
      pk: pkKind === 'none' ? null : 'id',
      uniques: [],
      indexes: [],
      checks: [],
      fks: [],
      rows: [],
    };
    m.tables.push(t);
    return `add table ${name} (${columns.map((c) => describeColumn(c, m)).join(', ')}${t.pk ? ', PRIMARY KEY (id)' : ''})`;
  },

  dropTable(m, r) {
    const t = r.pick(m.tables);
    if (!t) return null;
    // What the down recreates is the table as the step started, with the FKs that then pointed at it.
    const start = m.base?.tables ?? [];
    const referenced =
      t.origin !== null &&
      start.some((x) => x.fks.some((f) => f.table === t.origin && x.rows.some((row) => row[f.col] != null)));
    if (referenced && !allows(m, 'dropReferencedTableWithRows')) return null;
    const referencing = m.tables.filter((x) => x !== t && x.fks.some((f) => f.table === t.name));
    for (const x of referencing) x.fks = x.fks.filter((f) => f.table !== t.name);
    m.tables = m.tables.filter((x) => x !== t);
    dropViews(m, viewsOver(m, t.name));
    return `drop table ${t.name} (${t.rows.length} rows)`;
  },

  addColumn(m, r) {
    const t = r.pick(m.tables);
    if (!t) return null;
    const type = randomType(m, r);
    const mode = r.pick(['nullable', 'not null + default', 'nullable + default'] as const)!;
    const c: MColumn = {
      name: freshName(m, 'c', r, ODD_COLUMN_NAMES),
      origin: null,
      type,
      nullable: mode !== 'not null + default',
      default: mode === 'nullable' ? null : seedFor(m, type),
      serial: false,
    };
    t.columns.push(c);
    for (const row of t.rows) row[c.name] = c.default === null ? null : valueText(m, type, c.default);
    return `add column ${t.name}.${describeColumn(c, m)}`;
  },

  dropColumn(m, r) {
    const t = r.pick(tablesWith(m, (x) => nonPkColumns(x).length > 0));
    if (!t) return null;
    const c = r.pick(nonPkColumns(t))!;
    // The down re-adds the column as it was when the step started: every row gets its default.
    const base = m.base;
    const baseTable = base?.tables.find((x) => x.name === t.origin);
    const was = baseTable?.columns.find((x) => x.name === c.origin);
    if (base && baseTable && was && baseTable.rows.length > 0 && !allows(m, 'dropColumnWithRows')) {
      const refill = was.default === null ? null : valueText(base, was.type, was.default);
      if (
        !rowsValid(
          base,
          baseTable,
          baseTable.rows.map((row) => ({ ...row, [was.name]: refill })),
        )
      )
        return null;
    }
    t.columns = t.columns.filter((x) => x !== c);
    t.uniques = t.uniques.filter((u) => !u.cols.includes(c.name));
    t.indexes = t.indexes.filter((ix) => !ix.keys.some((k) => k.col === c.name) && ix.where?.col !== c.name);
    t.checks = t.checks.filter((x) => x.col !== c.name);
    t.fks = t.fks.filter((f) => f.col !== c.name);
    for (const row of t.rows) delete row[c.name];
    renameViewColumn(m, t.name, c.name, null);
    return `drop column ${t.name}.${c.name} (${describeColumn(c, m)}; ${t.rows.length} rows)`;
  },

  changeType(m, r) {
    const candidates = m.tables.flatMap((t) =>
      t.columns.filter((c) => widenings(t, c).length > 0).map((c) => ({ t, c })),
    );
    const chosen = r.pick(candidates);
    if (!chosen) return null;
    const { t, c } = chosen;
    const w = r.pick(widenings(t, c))!;
    const before = c.type;
    c.type = w.type;
    for (const row of t.rows) if (row[c.name] != null) row[c.name] = w.convert(row[c.name]!);
    refreshAddedColumn(m, t, c);
    const extra: string[] = [];
    if (c.name === t.pk) {
      // The referencing columns follow the primary key, so the types still match.
      for (const x of m.tables) {
        for (const f of x.fks) {
          if (f.table !== t.name) continue;
          const col = x.columns.find((y) => y.name === f.col)!;
          col.type = w.type;
          extra.push(`${x.name}.${col.name}`);
        }
      }
    }
    return `change type of ${t.name}.${c.name} from ${before} to ${w.type}${extra.length ? ` (with ${extra.join(', ')})` : ''}`;
  },

  toggleNull(m, r) {
    const candidates = m.tables.flatMap((t) =>
      nonPkColumns(t)
        .filter((c) => !c.nullable || t.rows.every((row) => row[c.name] != null))
        .map((c) => ({ t, c })),
    );
    const chosen = r.pick(candidates);
    if (!chosen) return null;
    chosen.c.nullable = !chosen.c.nullable;
    return `make ${chosen.t.name}.${chosen.c.name} ${chosen.c.nullable ? 'nullable' : 'NOT NULL'}`;
  },

  setDefault(m, r) {
    const candidates = m.tables.flatMap((t) => nonPkColumns(t).map((c) => ({ t, c })));
    const chosen = r.pick(candidates);
    if (!chosen) return null;
    const { t, c } = chosen;
    if (c.default !== null && r.chance(2)) {
      c.default = null;
      refreshAddedColumn(m, t, c);
      return `drop default of ${t.name}.${c.name}`;
    }
    c.default = seedFor(m, c.type);
    refreshAddedColumn(m, t, c);
    return `set default of ${t.name}.${c.name} to ${defaultSql(m, c.type, c.default)}`;
  },

  addIndex(m, r) {
    const t = r.pick(tablesWith(m, (x) => x.columns.length > 0));
    if (!t) return null;
    const pool = [...t.columns];
    const keys: MIndex['keys'] = [];
    const count = 1 + r.int(Math.min(3, pool.length));
    for (let i = 0; i < count; i++) {
      const c = pool.splice(r.int(pool.length), 1)[0]!;
      keys.push({ col: c.name, desc: r.chance(3) });
    }
    let where: MPredicate | null = null;
    if (r.chance(3)) {
      const c = r.pick(t.columns)!;
      where = { col: c.name, kind: isNumeric(m, c.type) && r.chance(2) ? 'positive' : 'notnull' };
    }
    const ix: MIndex = { keys, unique: r.chance(3), where };
    if (!nameOk(t, indexName(t.name, ix))) return null;
    if (
      ix.unique &&
      !uniqueHolds(
        t.rows,
        ix.keys.map((k) => k.col),
        false,
        ix.where,
      )
    )
      ix.unique = false;
    t.indexes.push(ix);
    const cols = keys.map((k) => `${k.col}${k.desc ? ' DESC' : ''}`).join(', ');
    return `add ${ix.unique ? 'unique ' : ''}index ${indexName(t.name, ix)} on ${t.name} (${cols})${where ? ` WHERE ${predicateSql(where)}` : ''}`;
  },

  dropIndex(m, r) {
    const t = r.pick(tablesWith(m, (x) => x.indexes.length > 0));
    if (!t) return null;
    const ix = r.pick(t.indexes)!;
    t.indexes = t.indexes.filter((x) => x !== ix);
    return `drop index ${indexName(t.name, ix)}`;
  },

  addUnique(m, r) {
    const t = r.pick(tablesWith(m, (x) => x.columns.length > 0));
    if (!t) return null;
    const pool = [...t.columns];
    const cols: string[] = [];
    const count = 1 + r.int(Math.min(2, pool.length));
    for (let i = 0; i < count; i++) cols.push(pool.splice(r.int(pool.length), 1)[0]!.name);
    const u: MUnique = { cols, nnd: r.chance(4) };
    if (!nameOk(t, uniqueName(t.name, cols)) || !uniqueHolds(t.rows, cols, u.nnd, null)) return null;
    t.uniques.push(u);
    return `add unique ${uniqueName(t.name, cols)}${u.nnd ? ' NULLS NOT DISTINCT' : ''} (${cols.join(', ')})`;
  },

  dropUnique(m, r) {
    const t = r.pick(tablesWith(m, (x) => x.uniques.length > 0));
    if (!t) return null;
    const u = r.pick(t.uniques)!;
    t.uniques = t.uniques.filter((x) => x !== u);
    return `drop unique ${uniqueName(t.name, u.cols)}`;
  },

  addCheck(m, r) {
    const candidates = m.tables.flatMap((t) =>
      t.columns.filter((c) => isNumeric(m, c.type) && nameOk(t, checkName(t.name, c.name))).map((c) => ({ t, c })),
    );
    const chosen = r.pick(candidates);
    if (!chosen) return null;
    const { t, c } = chosen;
    t.checks.push({ col: c.name });
    if (!rowsValid(m, t, t.rows)) {
      t.checks.pop();
      return null;
    }
    return `add check ${checkName(t.name, c.name)} (${q(c.name)} > 0)`;
  },

  dropCheck(m, r) {
    const t = r.pick(tablesWith(m, (x) => x.checks.length > 0));
    if (!t) return null;
    const c = r.pick(t.checks)!;
    t.checks = t.checks.filter((x) => x !== c);
    return `drop check ${checkName(t.name, c.col)}`;
  },

  addFk(m, r) {
    const x = r.pick(m.tables);
    if (!x) return null;
    // Postgres: a logged table may not reference an unlogged one (and toggleUnlogged leaves joined tables alone).
    const y = r.pick(
      m.tables.filter(
        (t) =>
          t !== x && t.pk !== null && !reaches(m, t.name, x.name) && (t.unlogged ?? false) === (x.unlogged ?? false),
      ),
    );
    if (!y) return null;
    const pkCol = y.columns.find((c) => c.name === y.pk)!;
    const targets = new Set(pkValues(y));
    const existing = nonPkColumns(x).filter(
      (c) =>
        c.type === pkCol.type &&
        !x.fks.some((f) => f.col === c.name) &&
        x.rows.every((row) => row[c.name] == null || targets.has(row[c.name]!)),
    );
    let col = existing.length > 0 && r.chance(2) ? r.pick(existing)! : null;
    if (col && !nameOk(x, fkName(x.name, col.name))) return null;
    let added = '';
    if (!col) {
      col = {
        name: freshName(m, 'r', r),
        origin: null,
        type: pkCol.type,
        nullable: true,
        default: null,
        serial: false,
      };
      x.columns.push(col);
      for (const row of x.rows) row[col.name] = null;
      added = `new column ${describeColumn(col, m)}, `;
    }
    const onDelete = col.nullable && r.chance(2) ? 'set null' : 'cascade';
    x.fks.push({ col: col.name, table: y.name, onDelete });
    return `add foreign key ${fkName(x.name, col.name)} (${added}${col.name} -> ${y.name}.${y.pk} ON DELETE ${onDelete})`;
  },

  dropFk(m, r) {
    const t = r.pick(tablesWith(m, (x) => x.fks.length > 0));
    if (!t) return null;
    const f = r.pick(t.fks)!;
    t.fks = t.fks.filter((x) => x !== f);
    return `drop foreign key ${fkName(t.name, f.col)}`;
  },

  renameColumn(m, r) {
    const t = r.pick(tablesWith(m, (x) => x.columns.length > 0));
    if (!t) return null;
    const c = r.pick(t.columns)!;
    const old = c.name;
    const name = freshName(m, 'c', r, ODD_COLUMN_NAMES);
    const ren = (n: string) => (n === old ? name : n);
    c.name = name;
    if (t.pk === old) t.pk = name;
    for (const u of t.uniques) u.cols = u.cols.map(ren);
    for (const ix of t.indexes) {
      for (const k of ix.keys) k.col = ren(k.col);
      if (ix.where) ix.where.col = ren(ix.where.col);
    }
    for (const ch of t.checks) ch.col = ren(ch.col);
    for (const f of t.fks) f.col = ren(f.col);
    for (const row of t.rows) {
      row[name] = row[old] ?? null;
      delete row[old];
    }
    renameViewColumn(m, t.name, old, name);
    if (!namesOf(t).every((n) => Buffer.byteLength(n) <= 63)) throw new Error('property model: name too long');
    return `rename column ${t.name}.${old} to ${name}`;
  },

  renameTable(m, r) {
    const t = r.pick(m.tables);
    if (!t) return null;
    const old = t.name;
    t.name = freshName(m, 't', r, ODD_TABLE_NAMES);
    for (const x of m.tables) for (const f of x.fks) if (f.table === old) f.table = t.name;
    for (const v of m.views) if (v.source === old && !v.onView) v.source = t.name;
    for (const tg of m.triggers) if (tg.table === old) tg.table = t.name;
    return `rename table ${old} to ${t.name}`;
  },

  addEnumValue(m, r) {
    const e = r.pick(m.enums);
    if (!e) return null;
    const label = `l${m.nameSeq++}`;
    const at = r.int(e.values.length + 1);
    e.values.splice(at, 0, { label, origin: null });
    return `add value ${label} to enum ${e.name} at position ${at} (now ${e.values.map((v) => v.label).join(', ')})`;
  },

  renameEnumValue(m, r) {
    const e = r.pick(m.enums.filter((x) => x.values.length > 0));
    if (!e) return null;
    const v = r.pick(e.values)!;
    const old = v.label;
    v.label = `l${m.nameSeq++}`;
    for (const t of m.tables) {
      for (const c of t.columns) {
        if (c.type !== e.name) continue;
        if (c.default === old) c.default = v.label;
        for (const row of t.rows) if (row[c.name] === old) row[c.name] = v.label;
      }
    }
    return `rename value ${old} of enum ${e.name} to ${v.label}`;
  },

  addExtension(m, r) {
    const name = r.pick(EXTENSION_POOL.filter((x) => !m.extensions.includes(x)));
    if (!name) return null;
    m.extensions.push(name);
    return `add extension ${name}`;
  },

  dropExtension(m, r) {
    const name = r.pick(m.extensions);
    if (!name) return null;
    m.extensions = m.extensions.filter((x) => x !== name);
    return `drop extension ${name}`;
  },

  addView(m, r) {
    const sources = [
      ...m.tables
        .filter((t) => t.columns.length > 0)
        .map((t) => ({ name: t.name, onView: false, cols: t.columns.map((c) => c.name) })),
      ...m.views.map((v) => ({ name: v.name, onView: true, cols: v.cols })),
    ];
    const source = r.pick(sources);
    if (!source) return null;
    const cols = source.cols.filter((_, i) => i === 0 || r.chance(2));
    const v: MView = {
      name: freshName(m, 'v', r),
      source: source.name,
      onView: source.onView,
      cols,
      materialized: r.chance(3),
    };
    m.views.push(v);
    return `add ${v.materialized ? 'materialized ' : ''}view ${v.name} over ${source.name} (${cols.join(', ')})`;
  },

  dropView(m, r) {
    const v = r.pick(m.views);
    if (!v) return null;
    const gone = [v, ...viewsOver(m, v.name)];
    dropViews(m, gone);
    return `drop view ${gone.map((x) => x.name).join(', ')}`;
  },
  ...ROUTINE_OPS,
  toggleRls(m, r) {
    const t = r.pick(m.tables);
    if (!t) return null;
    t.rls = !t.rls;
    return `${t.rls ? 'enable' : 'disable'} row-level security on ${t.name}`;
  },

  addPolicy(m, r) {
    const t = r.pick(m.tables);
    if (!t) return null;
    const name = `${t.name}_p${m.nameSeq++}`;
    if (Buffer.byteLength(name) > 63) return null;
    const command = r.pick(['all', 'select', 'insert', 'update', 'delete'] as const)!;
    const permissive = !r.chance(3);
    t.policies = [...(t.policies ?? []), { name, command, permissive }];
    return `add policy ${name} (${command}${permissive ? '' : ', restrictive'}) on ${t.name}`;
  },

  dropPolicy(m, r) {
    const t = r.pick(tablesWith(m, (x) => (x.policies?.length ?? 0) > 0));
    if (!t) return null;
    const p = r.pick(t.policies!)!;
    t.policies = t.policies!.filter((x) => x !== p);
    return `drop policy ${p.name} on ${t.name}`;
  },

  setFillfactor(m, r) {
    const t = r.pick(m.tables);
    if (!t) return null;
    const next = r.pick([undefined, 70, 90] as const);
    if (next === t.fillfactor) return null;
    if (next === undefined) delete t.fillfactor;
    else t.fillfactor = next;
    return `fillfactor of ${t.name}: ${next ?? 'default'}`;
  },

  toggleNotValid(m, r) {
    const options = m.tables.flatMap((t) => [
      ...t.fks.map((f) => ({ t, c: f as { notValid?: boolean }, name: fkName(t.name, f.col) })),
      ...t.checks.map((c) => ({ t, c: c as { notValid?: boolean }, name: checkName(t.name, c.col) })),
    ]);
    const chosen = r.pick(options);
    if (!chosen) return null;
    chosen.c.notValid = !chosen.c.notValid;
    return `${chosen.c.notValid ? 'make' : 'validate'} ${chosen.name}${chosen.c.notValid ? ' NOT VALID' : ''}`;
  },

  setComment(m, r) {
    const options = m.tables.flatMap((t) => t.indexes.map((ix) => ({ t, ix })));
    const chosen = r.pick(options);
    if (!chosen) return null;
    const next = r.pick([undefined, 'hot path', "it's used"] as const);
    if (next === chosen.ix.comment) return null;
    if (next === undefined) delete chosen.ix.comment;
    else chosen.ix.comment = next;
    return `comment on index ${indexName(chosen.t.name, chosen.ix)}: ${next ?? 'none'}`;
  },

  toggleDeferrable(m, r) {
    const chosen = r.pick(m.tables.flatMap((t) => t.fks.map((f) => ({ t, f }))));
    if (!chosen) return null;
    const next = r.pick([undefined, 'immediate', 'deferred'] as const);
    if (next === chosen.f.deferrable) return null;
    if (next === undefined) delete chosen.f.deferrable;
    else chosen.f.deferrable = next;
    return `${fkName(chosen.t.name, chosen.f.col)}: ${next ? `deferrable initially ${next}` : 'not deferrable'}`;
  },

  setStatistics(m, r) {
    const chosen = r.pick(m.tables.flatMap((t) => t.columns.map((c) => ({ t, c }))));
    if (!chosen) return null;
    const next = r.pick([undefined, 0, 500] as const);
    if (next === chosen.c.statistics) return null;
    if (next === undefined) delete chosen.c.statistics;
    else chosen.c.statistics = next;
    return `statistics target of ${chosen.t.name}.${chosen.c.name}: ${next ?? 'default'}`;
  },

  setStorage(m, r) {
    const chosen = r.pick(
      m.tables.flatMap((t) =>
        t.columns.filter((c) => c.type === 'text' || VARCHAR.test(c.type)).map((c) => ({ t, c })),
      ),
    );
    if (!chosen) return null;
    const next = r.pick([undefined, 'external', 'main'] as const);
    if (next === chosen.c.storage) return null;
    if (next === undefined) delete chosen.c.storage;
    else chosen.c.storage = next;
    return `storage of ${chosen.t.name}.${chosen.c.name}: ${next ?? "the type's"}`;
  },

  toggleUnlogged(m, r) {
    const t = r.pick(
      m.tables.filter((x) => x.fks.length === 0 && !m.tables.some((y) => y.fks.some((f) => f.table === x.name))),
    );
    if (!t) return null;
    t.unlogged = !t.unlogged;
    return `make ${t.name} ${t.unlogged ? 'unlogged' : 'logged'}`;
  },

  addSequence(m, r) {
    const s: MSequence = {
      name: freshName(m, 's', r),
      type: r.pick(['bigint', 'integer'] as const)!,
      increment: r.pick([null, '5'] as const)!,
      cache: r.pick([null, '20'] as const)!,
      cycle: r.chance(3),
    };
    m.sequences.push(s);
    return `add sequence ${s.name} (${s.type}, increment ${s.increment ?? 1}, cache ${s.cache ?? 1}${s.cycle ? ', cycle' : ''})`;
  },

  alterSequence(m, r) {
    const s = r.pick(m.sequences);
    if (!s) return null;
    const what = r.pick(['type', 'increment', 'cache', 'cycle'] as const)!;
    if (what === 'type') s.type = s.type === 'bigint' ? 'integer' : 'bigint';
    else if (what === 'increment') s.increment = s.increment === null ? '3' : null;
    else if (what === 'cache') s.cache = s.cache === null ? '10' : null;
    else s.cycle = !s.cycle;
    return `alter sequence ${s.name}: ${what}`;
  },

  dropSequence(m, r) {
    const s = r.pick(m.sequences);
    if (!s) return null;
    m.sequences = m.sequences.filter((x) => x !== s);
    return `drop sequence ${s.name}`;
  },

  dropEnum(m, r) {
    const e = r.pick(m.enums.filter((x) => !m.tables.some((t) => t.columns.some((c) => c.type === x.name))));
    if (!e) return null;
    m.enums = m.enums.filter((x) => x !== e);
    return `drop enum ${e.name}`;
  },
};
