/**
 * `view('active_users', sql, options)`: a view or materialized view in the
 * schema module, beside the tables it reads. Its DDL (`createView`, created
 * after the tables, views ordered by what they read), the differ's helpers,
 * and `refreshMaterializedView` for applications.
 *
 * The query is kept as the SQL text given; Postgres spells it its own way
 * (`pg_get_viewdef`), so a DSL's view is compared with a live one only after
 * the shadow database normalised it (see migrate/shadow.ts), like checks.
 */
import { type Kysely, sql as kyselySql } from 'kysely';
import { E_BAD_ARGUMENT, E_SCHEMA, FerryError } from '../errors.js';
import { Column, type ColumnDef } from './column.js';
import { assertIdentifier, quoteIdent as q } from './identifiers.js';
import type { IndexIR, ViewDependencyIR, ViewIR } from './ir.js';
import { literal, SqlExpr } from './sql.js';
import type { IndexExtra } from './table.js';

/** A Kysely query builder (or anything else with `compile()`): compiled once, its parameters inlined as literals. */
export interface CompilableQuery {
  compile(): { readonly sql: string; readonly parameters: readonly unknown[] };
}

export type ViewQuery = string | SqlExpr | CompilableQuery;

/**
 * A view's output columns for its index DSL: `c.total` or, where
 * `noUncheckedIndexedAccess` makes that `Column | undefined`, `c('total')`.
 */
export type ViewColumns = ((name: string) => Column) & { readonly [name: string]: Column };

export interface ViewOptions {
  /** `CREATE MATERIALIZED VIEW`: the result is stored; `refreshMaterializedView` recomputes it. */
  materialized?: boolean;
  /** Materialized views: fill it on creation (`WITH DATA`, the default) or leave it empty until refreshed (`WITH NO DATA`). */
  withData?: boolean;
  /** Plain views (Postgres 15+): run with the caller's permissions and row-level security, not the owner's. */
  securityInvoker?: boolean;
  /** Plain views: `security_barrier`, so user functions in outer WHERE clauses cannot see rows the view filters out. */
  securityBarrier?: boolean;
  /** Plain (updatable) views: `WITH LOCAL | CASCADED CHECK OPTION`. */
  checkOption?: 'local' | 'cascaded';
  comment?: string;
  /** Comments on output columns: `{ total: 'sum of amounts' }`. */
  columnComments?: Record<string, string>;
  /**
   * Materialized views: indexes, with the table index DSL; `c.day` (or
   * `c('day')`) is the view's output column `day`.
   *
   *   view('daily_totals', query, { materialized: true, indexes: (c) => [uniqueIndex().on(c.day)] })
   */
  indexes?: (columns: ViewColumns) => IndexExtra[];
}

export interface View {
  readonly kind: 'view';
  readonly name: string;
  readonly materialized: boolean;
  /** The query's SQL text, as given (parameters inlined). */
  readonly query: string;
  toIR(): ViewIR;
}

/**
 * A view (`CREATE VIEW`) or, with `materialized`, a materialized view. Export
 * it from the schema module like a table; `migrate new` creates it after the
 * tables (and after the views it reads), and when a column it reads changes
 * type or goes away, drops it before and recreates it after.
 *
 * ```ts
 * export const activeUsers = view('active_users', 'SELECT id, email FROM users WHERE deleted_at IS NULL', {
 *   securityInvoker: true,
 * });
 * // CREATE VIEW active_users WITH (security_invoker = true) AS SELECT id, email FROM users WHERE deleted_at IS NULL
 *
 * export const dailyTotals = view(
 *   'daily_totals',
 *   db.selectFrom('orders').select((eb) => [sql`date_trunc('day', placed_at)`.as('day'), eb.fn.sum('total').as('total')]).groupBy('day'),
 *   { materialized: true, indexes: (c) => [uniqueIndex().on(c.day)] },
 * );
 * // CREATE MATERIALIZED VIEW daily_totals AS select date_trunc('day', placed_at) as "day", sum("total") ...
 * // CREATE UNIQUE INDEX daily_totals_day_idx ON daily_totals (day)
 * ```
 */
export function view(name: string, query: ViewQuery, options: ViewOptions = {}): View {
  assertIdentifier(name, 'View');
  const text = queryText(query, name);
  const materialized = options.materialized ?? false;
  const plainOnly = ['securityInvoker', 'securityBarrier', 'checkOption'] as const;
  if (materialized) {
    for (const o of plainOnly) {
      if (options[o] !== undefined) {
        throw new FerryError(E_SCHEMA, `View ${name}: ${o} applies to plain views, not materialized ones.`);
      }
    }
  } else {
    if (options.withData !== undefined) {
      throw new FerryError(E_SCHEMA, `View ${name}: withData applies to materialized views only.`);
    }
    if (options.indexes !== undefined) {
      throw new FerryError(E_SCHEMA, `View ${name}: only materialized views can have indexes.`);
    }
  }
  if (options.checkOption !== undefined && !['local', 'cascaded'].includes(options.checkOption)) {
    throw new FerryError(E_SCHEMA, `View ${name}: checkOption must be 'local' or 'cascaded'.`);
  }
  const indexes = options.indexes ? viewIndexes(name, options.indexes) : [];
  const ir: ViewIR = {
    name,
    materialized,
    definition: text,
    columns: [],
    securityInvoker: options.securityInvoker ?? false,
    securityBarrier: options.securityBarrier ?? false,
    checkOption: options.checkOption ?? null,
    withData: materialized ? (options.withData ?? true) : true,
    indexes,
    comment: options.comment ?? null,
    ...columnCommentsIR(options.columnComments),
    dependsOn: [],
  };
  return Object.freeze({
    kind: 'view' as const,
    name,
    materialized,
    query: text,
    toIR: () => structuredClone(ir),
  });
}

/** Sorted by column name, absent when none, as introspection reports them. */
export function columnCommentsIR(comments: Record<string, string> | undefined): Pick<ViewIR, 'columnComments'> {
  const entries = Object.entries(comments ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length > 0 ? { columnComments: Object.fromEntries(entries) } : {};
}

export function isView(value: unknown): value is View {
  return typeof value === 'object' && value !== null && (value as Partial<View>).kind === 'view';
}

function queryText(query: ViewQuery, name: string): string {
  let text: string;
  if (typeof query === 'string') text = query;
  else if (query instanceof SqlExpr) text = query.text;
  else if (typeof (query as CompilableQuery)?.compile === 'function') {
    const compiled = query.compile();
    text = inlineParameters(compiled.sql, compiled.parameters);
  } else throw new FerryError(E_SCHEMA, `View ${name}: the query must be SQL text, sql\`...\` or a Kysely query.`);
  text = text.trim().replace(/;\s*$/, '').trim();
  if (text === '') throw new FerryError(E_SCHEMA, `View ${name} has an empty query.`);
  return text;
}

/**
 * `$1`, `$2`... of a compiled query replaced by literals: DDL takes no
 * parameters. Quoted strings, identifiers and dollar-quoted bodies are
 * skipped, so a `$1` inside them stays.
 */
export function inlineParameters(text: string, parameters: readonly unknown[]): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < text.length) {
        if (text[j] === ch && text[j + 1] === ch) j += 2;
        else if (text[j] === ch) break;
        else j++;
      }
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const param = /^\$(\d+)/.exec(text.slice(i, i + 12));
    if (param && !/[A-Za-z0-9_]/.test(text[i - 1] ?? '')) {
      const n = Number(param[1]);
      if (n < 1 || n > parameters.length) {
        throw new FerryError(E_SCHEMA, `A view query names parameter $${n}, but it has ${parameters.length}.`);
      }
      out += literal(parameters[n - 1]);
      i += param[0].length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/** The table index DSL over a view's output columns, compiled like a table's (default names `<view>_<cols>_idx`). */
function viewIndexes(viewName: string, make: NonNullable<ViewOptions['indexes']>): IndexIR[] {
  const column = (name: string) => new Column(viewName, name, {} as ColumnDef);
  // An arrow function has no non-configurable own properties, so every name can be a column.
  const columns = new Proxy(() => undefined, {
    get: (_, prop) => (typeof prop === 'string' ? column(prop) : undefined),
    apply: (_, __, [name]) => column(String(name)),
  }) as unknown as ViewColumns;
  const used = new Set<string>();
  return make(columns).map((e) => {
    if (e.spec.keys.length === 0)
      throw new FerryError(E_SCHEMA, `${viewName}: index(${e.indexName ?? ''}) needs .on(keys).`);
    const keys = e.spec.keys.map((k) => ({
      column: k.key.column ? k.key.column.name : null,
      expression: k.key.expression,
      order: k.key.order,
      nulls: k.key.nulls,
      opclass: k.key.opclass,
    }));
    const base = [viewName, ...keys.map((k) => k.column ?? 'expr'), 'idx'].join('_');
    let name = e.indexName ?? base;
    if (!e.indexName) for (let n = 1; used.has(name); n++) name = `${base}${n}`;
    if (used.has(name)) throw new FerryError(E_SCHEMA, `${viewName}: two indexes are named "${name}".`);
    assertIdentifier(name, `Index on ${viewName}`);
    used.add(name);
    return {
      name,
      unique: e.spec.unique,
      method: e.spec.method,
      keys,
      include: e.spec.include.map((c) => c.name),
      where: e.spec.where,
      ...(e.spec.nullsNotDistinct ? { nullsNotDistinct: true as const } : {}),
    };
  });
}

// ---------------------------------------------------------------- ordering

/**
 * What a DSL view reads, as far as its SQL text tells: every table or view
 * of the schema its text names as an identifier. Only used to order views
 * until the shadow database reports the real dependencies (`pg_depend`); a
 * name that is only a column or an alias there merely orders more strictly.
 */
export function guessDependencies(v: ViewIR, relations: readonly string[]): ViewDependencyIR[] {
  const words = identifiersIn(v.definition);
  return relations.filter((r) => r !== v.name && words.has(r)).map((name) => ({ name, columns: [] }));
}

/** The identifiers SQL text names (quoted ones unquoted, bare ones folded to lower case); string literals included. */
export function identifiersIn(text: string): Set<string> {
  const words = new Set<string>();
  for (const m of text.matchAll(/"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)/g)) {
    words.add(m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2]!.toLowerCase());
  }
  return words;
}

/**
 * Views ordered so each comes after the views it reads (by name otherwise);
 * a cycle, which Postgres cannot have, keeps the rest in name order.
 */
export function sortViews(views: readonly ViewIR[]): ViewIR[] {
  const byName = new Map(views.map((v) => [v.name, v]));
  const sorted = [...views].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: ViewIR[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (v: ViewIR) => {
    if (state.get(v.name)) return;
    state.set(v.name, 'visiting');
    for (const d of v.dependsOn) {
      const dep = byName.get(d.name);
      if (dep && dep !== v) visit(dep);
    }
    state.set(v.name, 'done');
    out.push(v);
  };
  for (const v of sorted) visit(v);
  return out;
}

// ---------------------------------------------------------------- DDL

const kindOf = (v: Pick<ViewIR, 'materialized'>) => (v.materialized ? 'MATERIALIZED VIEW' : 'VIEW');

function withOptions(v: ViewIR): string {
  const opts = [
    ...(v.securityBarrier ? ['security_barrier = true'] : []),
    ...(v.securityInvoker ? ['security_invoker = true'] : []),
  ];
  return opts.length > 0 ? ` WITH (${opts.join(', ')})` : '';
}

function viewSql(v: ViewIR, orReplace: boolean): string {
  let out = `CREATE ${orReplace ? 'OR REPLACE ' : ''}${kindOf(v)} ${q(v.name)}${withOptions(v)} AS\n${v.definition}`;
  if (v.materialized && !v.withData) out += '\nWITH NO DATA';
  if (v.checkOption !== null) out += `\nWITH ${v.checkOption.toUpperCase()} CHECK OPTION`;
  return out;
}

/** `CREATE [MATERIALIZED] VIEW`, without its indexes and comment (see `viewExtras`). */
export function createView(v: ViewIR): string {
  return viewSql(v, false);
}

/** `CREATE OR REPLACE VIEW` (plain views): every option is restated, since the statement resets those it omits. */
export function replaceView(v: ViewIR): string {
  return viewSql(v, true);
}

export function dropView(v: Pick<ViewIR, 'name' | 'materialized'>): string {
  return `DROP ${kindOf(v)} ${q(v.name)}`;
}

export function commentOnView(v: Pick<ViewIR, 'name' | 'materialized'>, comment: string | null): string {
  return `COMMENT ON ${kindOf(v)} ${q(v.name)} IS ${comment === null ? 'NULL' : literal(comment)}`;
}

export function commentOnViewColumn(view: string, column: string, comment: string | null): string {
  return `COMMENT ON COLUMN ${q(view)}.${q(column)} IS ${comment === null ? 'NULL' : literal(comment)}`;
}

// ---------------------------------------------------------------- refresh

/**
 * `REFRESH MATERIALIZED VIEW [CONCURRENTLY] name`: recompute a materialized
 * view. `concurrently` lets reads go on meanwhile; Postgres allows it only
 * when the view is populated and has a unique index over plain columns
 * without a WHERE clause, and the error says which is missing.
 *
 * ```ts
 * await refreshMaterializedView(db, 'daily_totals', { concurrently: true });
 * // REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals
 * ```
 */
export async function refreshMaterializedView(
  db: Kysely<any>,
  name: string,
  options: { concurrently?: boolean } = {},
): Promise<void> {
  assertIdentifier(name, 'Materialized view');
  const statement = `REFRESH MATERIALIZED VIEW ${options.concurrently ? 'CONCURRENTLY ' : ''}${q(name)}`;
  try {
    await kyselySql.raw(statement).execute(db);
  } catch (err) {
    const message = (err as Error)?.message ?? String(err);
    if (options.concurrently && /concurrently/i.test(message)) {
      const why = /not populated/i.test(message)
        ? 'it is not populated yet (created WITH NO DATA): refresh it once without concurrently first'
        : 'it has no unique index on plain columns without a WHERE clause: add one, e.g. indexes: (c) => [uniqueIndex().on(c.id)]';
      throw new FerryError(E_BAD_ARGUMENT, `Cannot refresh materialized view ${name} concurrently: ${why}.`, {
        cause: err,
        details: { view: name, statement },
      });
    }
    throw err;
  }
}
