/**
 * Functions and triggers of the schema read by introspect.ts, in one
 * whole-schema query (functions and triggers `union all`, each row's fields
 * as JSON), so the number of queries per snapshot stays constant.
 *
 * Functions are read from `pg_proc` field by field rather than as
 * `pg_get_functiondef` text: that text always qualifies the name with the
 * schema, which differs between the shadow's scratch schema and `public`.
 * Types are printed by `format_type` (through `pg_get_function_arguments` /
 * `_result`), qualified only when not on the search path, as columns' are.
 * Functions that belong to an extension (`pg_depend` deptype 'e') are the
 * extension's and are skipped, as are aggregates, procedures, window
 * functions and C-language functions (not modelled: their library is not in
 * the IR). Triggers are user triggers (not the internal ones behind foreign
 * keys, nor a partition's clones of its parent's); constraint triggers and
 * triggers with transition tables (`REFERENCING`) are not modelled.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { quoteIdent as q } from '../schema/identifiers.js';
import type { FunctionIR, RawIR, TriggerEvent, TriggerIR } from '../schema/ir.js';
import { literal } from '../schema/sql.js';
import { TRIGGER_EVENTS } from '../schema/trigger.js';

export interface RoutineRow {
  kind: 'function' | 'trigger' | 'raw';
  name: string;
  data: FunctionData | TriggerData | RawData;
}

/** What is reported as raw SQL (RawIR): unmodelled functions and triggers Postgres can print. */
interface RawData {
  kind: 'function' | 'procedure' | 'trigger';
  /** `quote_ident` of the function's schema, stripped from `pg_get_functiondef`'s qualified name. */
  schema: string | null;
  table: string | null;
  argument_types: string | null;
  definition: string;
  comment: string | null;
}

interface FunctionData {
  arguments: string;
  argument_types: string;
  returns: string;
  language: string;
  body: string;
  volatility: 'i' | 's' | 'v';
  strict: boolean;
  definer: boolean;
  parallel: 's' | 'r' | 'u';
  config: string[] | null;
  comment: string | null;
}

interface TriggerData {
  table: string;
  type: number;
  update_of: string[] | null;
  function: string;
  args_hex: string;
  nargs: number;
  definition: string;
  comment: string | null;
}

export async function readRoutines(db: Kysely<any>, schema: RawBuilder<unknown>): Promise<RoutineRow[]> {
  const { rows } = await sql<RoutineRow>`
    select 'function' as kind, p.proname::text as name,
           json_build_object(
             'arguments', pg_get_function_arguments(p.oid),
             'argument_types', oidvectortypes(p.proargtypes),
             'returns', pg_get_function_result(p.oid),
             'language', l.lanname::text,
             'body', p.prosrc,
             'volatility', p.provolatile::text,
             'strict', p.proisstrict,
             'definer', p.prosecdef,
             'parallel', p.proparallel::text,
             'config', p.proconfig,
             'comment', d.description) as data
      from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace
      join pg_language l on l.oid = p.prolang
      left join pg_description d on d.classoid = 'pg_proc'::regclass and d.objoid = p.oid and d.objsubid = 0
     where n.nspname = ${schema} and p.prokind = 'f' and l.lanname not in ('c', 'internal')
       and not exists (
         select 1 from pg_depend e
          where e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.deptype = 'e')
    union all
    select 'trigger', t.tgname::text,
           json_build_object(
             'table', c.relname::text,
             'type', t.tgtype::int,
             'update_of', (select json_agg(a.attname::text order by k.ord)
                             from unnest(t.tgattr::int2[]) with ordinality as k(attnum, ord)
                             join pg_attribute a on a.attrelid = t.tgrelid and a.attnum = k.attnum),
             'function', t.tgfoid::regproc::text,
             'args_hex', encode(t.tgargs, 'hex'),
             'nargs', t.tgnargs::int,
             'definition', pg_get_triggerdef(t.oid),
             'comment', d.description)
      from pg_trigger t
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_description d on d.classoid = 'pg_trigger'::regclass and d.objoid = t.oid and d.objsubid = 0
     where n.nspname = ${schema} and c.relkind in ('r', 'p', 'v') and not c.relispartition
       and not t.tgisinternal and t.tgparentid = 0
       and t.tgconstraint = 0 and t.tgoldtable is null and t.tgnewtable is null
    union all
    -- Not modelled, reported as raw SQL: C-language and internal functions, procedures, window functions.
    select 'raw', p.proname::text,
           json_build_object(
             'kind', case p.prokind when 'p' then 'procedure' else 'function' end,
             'schema', quote_ident(n.nspname),
             'table', null,
             'argument_types', oidvectortypes(p.proargtypes),
             'definition', pg_get_functiondef(p.oid),
             'comment', d.description)
      from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace
      join pg_language l on l.oid = p.prolang
      left join pg_description d on d.classoid = 'pg_proc'::regclass and d.objoid = p.oid and d.objsubid = 0
     where n.nspname = ${schema}
       and (p.prokind in ('p', 'w') or (p.prokind = 'f' and l.lanname in ('c', 'internal')))
       and not exists (
         select 1 from pg_depend e
          where e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.deptype = 'e')
    union all
    -- ... and constraint triggers and triggers with transition tables.
    select 'raw', t.tgname::text,
           json_build_object(
             'kind', 'trigger', 'schema', null, 'table', c.relname::text, 'argument_types', null,
             -- pretty: the table qualified only when not on the search path (else always)
             'definition', pg_get_triggerdef(t.oid, true),
             'comment', d.description)
      from pg_trigger t
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_description d on d.classoid = 'pg_trigger'::regclass and d.objoid = t.oid and d.objsubid = 0
     where n.nspname = ${schema} and c.relkind in ('r', 'p') and not c.relispartition
       and not t.tgisinternal and t.tgparentid = 0
       and (t.tgconstraint <> 0 or t.tgoldtable is not null or t.tgnewtable is not null)`.execute(db);
  return rows;
}

const VOLATILITY = { i: 'immutable', s: 'stable', v: 'volatile' } as const;
const PARALLEL = { s: 'safe', r: 'restricted', u: 'unsafe' } as const;

// pg_trigger.tgtype bits (catalog/pg_trigger.h).
const TRIGGER_TYPE_ROW = 1;
const TRIGGER_TYPE_BEFORE = 2;
const TRIGGER_TYPE_INSTEAD = 64;
const EVENT_BITS: Record<TriggerEvent, number> = { insert: 4, delete: 8, update: 16, truncate: 32 };

const byKey =
  <T>(key: (x: T) => string) =>
  (a: T, b: T): number =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

export function assembleRoutines(
  rows: readonly RoutineRow[],
  exclude: (table: string) => boolean,
): { functions: FunctionIR[]; triggers: TriggerIR[]; raw: RawIR[] } {
  const functions: FunctionIR[] = [];
  const triggers: TriggerIR[] = [];
  const raw: RawIR[] = [];
  for (const row of rows) {
    if (row.kind === 'function') functions.push(toFunction(row.name, row.data as FunctionData));
    else if (row.kind === 'raw') {
      const data = row.data as RawData;
      if (data.table === null || !exclude(data.table)) raw.push(toRaw(row.name, data));
    } else {
      const data = row.data as TriggerData;
      if (!exclude(data.table)) triggers.push(toTrigger(row.name, data));
    }
  }
  functions.sort(byKey((f) => `${f.name}\u0000${f.argumentTypes}`));
  triggers.sort(byKey((t) => `${t.table}\u0000${t.name}`));
  raw.sort(byKey((r) => r.name));
  return { functions, triggers, raw };
}

/**
 * An unmodelled object as raw SQL, named after it. `pg_get_functiondef`
 * always qualifies the name; the schema is stripped, as everywhere in the IR.
 */
function toRaw(name: string, d: RawData): RawIR {
  const comment = (target: string) => (d.comment !== null ? `;\nCOMMENT ON ${target} IS ${literal(d.comment)}` : '');
  if (d.kind === 'trigger') {
    const target = `TRIGGER ${q(name)} ON ${q(d.table!)}`;
    return {
      name: `trigger ${d.table}.${name}`,
      up: d.definition + comment(target),
      down: `DROP ${target}`,
      last: true,
    };
  }
  const keyword = d.kind === 'procedure' ? 'PROCEDURE' : 'FUNCTION';
  const definition = d.definition
    .replace(`CREATE OR REPLACE ${keyword} ${d.schema}.`, `CREATE OR REPLACE ${keyword} `)
    .replace(/\s+$/, '');
  const target = `${keyword} ${q(name)}(${d.argument_types})`;
  return { name: `${d.kind} ${name}(${d.argument_types})`, up: definition + comment(target), down: `DROP ${target}` };
}

function toFunction(name: string, d: FunctionData): FunctionIR {
  return {
    name,
    arguments: d.arguments,
    argumentTypes: d.argument_types,
    returns: d.returns,
    language: d.language,
    body: d.body,
    volatility: VOLATILITY[d.volatility],
    strict: d.strict,
    security: d.definer ? 'definer' : 'invoker',
    parallel: PARALLEL[d.parallel],
    setConfig: (d.config ?? []).map((c) => {
      const i = c.indexOf('=');
      return [c.slice(0, i), c.slice(i + 1)] as [string, string];
    }),
    comment: d.comment,
  };
}

function toTrigger(name: string, d: TriggerData): TriggerIR {
  const timing = d.type & TRIGGER_TYPE_INSTEAD ? 'instead of' : d.type & TRIGGER_TYPE_BEFORE ? 'before' : 'after';
  // tgargs: each argument NUL-terminated.
  const args = Buffer.from(d.args_hex, 'hex').toString('utf8').split('\u0000').slice(0, d.nargs);
  return {
    name,
    table: d.table,
    timing,
    events: TRIGGER_EVENTS.filter((e) => (d.type & EVENT_BITS[e]) !== 0),
    updateOf: d.update_of ?? [],
    forEach: d.type & TRIGGER_TYPE_ROW ? 'row' : 'statement',
    when: whenOf(d.definition),
    function: d.function,
    args,
    comment: d.comment,
  };
}

/**
 * The `WHEN (...)` condition out of `pg_get_triggerdef` (the only place
 * Postgres deparses it: `tgqual` refers to OLD and NEW, which `pg_get_expr`
 * cannot name). It sits between `FOR EACH ROW|STATEMENT WHEN (` and the last
 * `) EXECUTE FUNCTION`.
 */
function whenOf(definition: string): string | null {
  const m = / FOR EACH (?:ROW|STATEMENT) WHEN \(/.exec(definition);
  if (!m) return null;
  const end = definition.lastIndexOf(') EXECUTE FUNCTION ');
  return end > m.index ? definition.slice(m.index + m[0].length, end) : null;
}
