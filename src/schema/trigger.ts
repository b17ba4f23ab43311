/**
 * `trigger('que_job_notify', queJobs, { timing: 'after', events: ['insert'], forEach: 'row', fn: queJobNotify })`:
 * a trigger on a table, calling a function of the schema (`fn()`) or a
 * built-in one such as `tsvector_update_trigger` (see `tsvectorTrigger`).
 * Triggers are created after their table and function, and dropped before
 * either; a changed trigger is dropped and created again.
 */
import { E_SCHEMA, FerryError } from '../errors.js';
import type { Fn } from './function.js';
import { assertIdentifier, quoteIdent as q } from './identifiers.js';
import type { TriggerEvent, TriggerIR } from './ir.js';
import { literal, SqlExpr } from './sql.js';

export const TRIGGER_EVENTS: readonly TriggerEvent[] = ['insert', 'update', 'delete', 'truncate'];

export interface TriggerOptions {
  timing: 'before' | 'after' | 'instead of';
  /** `'insert'`, `'update'`, `'delete'`, `'truncate'`, or `{ update: ['title', 'body'] }` for `UPDATE OF title, body`. */
  events: readonly (TriggerEvent | { update: readonly string[] })[];
  /** Default `statement`, as in Postgres. */
  forEach?: 'row' | 'statement';
  /** `WHEN (...)` condition, e.g. `'old.* IS DISTINCT FROM new.*'`. */
  when?: string | SqlExpr;
  /** A function of the schema, or the name of one that exists already (`'tsvector_update_trigger'`). */
  fn: Fn | string;
  /** Literal arguments for the function (`TG_ARGV`). */
  args?: readonly string[];
  comment?: string;
}

export interface Trigger {
  readonly kind: 'trigger';
  readonly name: string;
  readonly table: string;
  toIR(): TriggerIR;
}

/**
 * Declares a trigger on `table` (a table of the schema, or its name).
 *
 * ```ts
 * export const notify = trigger('que_job_notify', queJobs, {
 *   timing: 'after', events: ['insert'], forEach: 'row', fn: queJobNotify,
 * });
 * ```
 * creates
 * ```sql
 * CREATE TRIGGER que_job_notify AFTER INSERT ON que_jobs FOR EACH ROW EXECUTE FUNCTION que_job_notify()
 * ```
 */
export function trigger(name: string, table: string | { readonly name: string }, options: TriggerOptions): Trigger {
  assertIdentifier(name, 'Trigger');
  const tableName = typeof table === 'string' ? table : table.name;
  assertIdentifier(tableName, `Table of trigger ${name}`);
  if (!['before', 'after', 'instead of'].includes(options.timing)) {
    throw new FerryError(E_SCHEMA, `Trigger ${name}: timing must be 'before', 'after' or 'instead of'.`);
  }
  const events = new Set<TriggerEvent>();
  const updateOf: string[] = [];
  for (const e of options.events) {
    if (typeof e === 'string') {
      if (!TRIGGER_EVENTS.includes(e)) throw new FerryError(E_SCHEMA, `Trigger ${name}: unknown event '${String(e)}'.`);
      events.add(e);
    } else {
      events.add('update');
      updateOf.push(...e.update);
    }
  }
  if (events.size === 0) throw new FerryError(E_SCHEMA, `Trigger ${name} needs at least one event.`);
  const fn = typeof options.fn === 'string' ? options.fn : q(options.fn.name);
  const when = options.when === undefined ? null : options.when instanceof SqlExpr ? options.when.text : options.when;
  const ir: TriggerIR = {
    name,
    table: tableName,
    timing: options.timing,
    events: TRIGGER_EVENTS.filter((e) => events.has(e)),
    updateOf,
    forEach: options.forEach ?? 'statement',
    when,
    function: fn,
    args: [...(options.args ?? [])],
    comment: options.comment ?? null,
  };
  return Object.freeze({ kind: 'trigger' as const, name, table: tableName, toIR: () => structuredClone(ir) });
}

export interface TsvectorTriggerOptions {
  /** The `tsvector` column kept up to date. */
  column: string;
  /** Text search configuration, e.g. `'pg_catalog.english'`. */
  config: string;
  /** The text columns it is computed from. */
  from: readonly string[];
  comment?: string;
}

/**
 * A `BEFORE INSERT OR UPDATE ... FOR EACH ROW` trigger calling the built-in
 * `tsvector_update_trigger(column, config, from...)`.
 *
 * ```ts
 * tsvectorTrigger('posts_search', posts, { column: 'search', config: 'pg_catalog.english', from: ['title', 'body'] })
 * ```
 * ```sql
 * CREATE TRIGGER posts_search BEFORE INSERT OR UPDATE ON posts FOR EACH ROW
 *   EXECUTE FUNCTION tsvector_update_trigger('search', 'pg_catalog.english', 'title', 'body')
 * ```
 */
export function tsvectorTrigger(
  name: string,
  table: string | { readonly name: string },
  options: TsvectorTriggerOptions,
): Trigger {
  return trigger(name, table, {
    timing: 'before',
    events: ['insert', 'update'],
    forEach: 'row',
    fn: 'tsvector_update_trigger',
    args: [options.column, options.config, ...options.from],
    ...(options.comment !== undefined ? { comment: options.comment } : {}),
  });
}

export function isTrigger(value: unknown): value is Trigger {
  return typeof value === 'object' && value !== null && (value as Partial<Trigger>).kind === 'trigger';
}

/** Code-unit order of table, then name, as introspection sorts them. */
export function sortTriggers(list: readonly TriggerIR[]): TriggerIR[] {
  const key = (t: TriggerIR) => `${t.table}\u0000${t.name}`;
  return [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

export const triggerKey = (t: Pick<TriggerIR, 'table' | 'name'>) => `${t.table}.${t.name}`;

export function createTrigger(t: TriggerIR): string {
  const events = t.events.map((e) =>
    e === 'update' && t.updateOf.length > 0 ? `UPDATE OF ${t.updateOf.map(q).join(', ')}` : e.toUpperCase(),
  );
  let sql = `CREATE TRIGGER ${q(t.name)} ${t.timing.toUpperCase()} ${events.join(' OR ')} ON ${q(t.table)}`;
  sql += ` FOR EACH ${t.forEach.toUpperCase()}`;
  if (t.when !== null) sql += ` WHEN (${t.when})`;
  sql += ` EXECUTE FUNCTION ${t.function}(${t.args.map(literal).join(', ')})`;
  return sql;
}

export function dropTrigger(t: TriggerIR): string {
  return `DROP TRIGGER ${q(t.name)} ON ${q(t.table)}`;
}

export function commentTrigger(t: TriggerIR, comment: string | null): string {
  return `COMMENT ON TRIGGER ${q(t.name)} ON ${q(t.table)} IS ${comment === null ? 'NULL' : literal(comment)}`;
}

export function createTriggerStatements(t: TriggerIR): string[] {
  return [createTrigger(t), ...(t.comment !== null ? [commentTrigger(t, t.comment)] : [])];
}
