/**
 * Read a live database's schema into the IR (see ../schema/ir.ts).
 *
 * Everything comes from `pg_catalog` in seven whole-database queries (enums,
 * extensions, sequences, policies and partitions, columns, constraints,
 * indexes, comments, views, functions and triggers) run in one read-only snapshot, so
 * the cost does not grow with the number of tables. Every field is spelled as
 * Postgres prints it (`format_type`, `pg_get_expr`, `pg_get_indexdef`), which
 * is also how the DSL spells names, types and flags: `introspect()` of the DDL
 * from `createStatements(ir)` reports the same names, types and flags as `ir`.
 * Expressions (defaults, checks, index expressions and predicates) come back
 * deparsed by the server; to compare them with what a DSL wrote, run the DSL
 * through a shadow database first (see shadow.ts).
 *
 * Works the same on PostgreSQL 15+ and PGlite.
 *
 * Over 600 lines: the five catalog queries run in one read-only snapshot
 * and their rows are assembled together (the first query alone carries
 * enums, extensions, sequences, policies and partitions; columns, keys and
 * indexes meet in each table). The kinds that stand alone already live
 * beside it: introspect/views.ts, introspect-routines.ts, introspect-options.ts.
 */
import { type Kysely, sql } from 'kysely';
import { CITUS_EXTENSIONS } from '../schema/citus.js';
import type {
  CheckIR,
  ColumnIR,
  ColumnSequenceIR,
  EnumIR,
  ExtensionIR,
  ForeignKeyIR,
  IndexIR,
  IndexKeyIR,
  IndexMethod,
  ReferentialAction,
  SchemaIR,
  SequenceIR,
  SequenceOptionsIR,
  SequenceType,
  TableIR,
  UniqueIR,
} from '../schema/ir.js';
import { parsePartitionKey, sortPartitions } from '../schema/partition.js';
import { normaliseSequence } from '../schema/sequence.js';
import { literal } from '../schema/sql.js';
import { assembleViews, readViews, type ViewRow } from './introspect/views.js';
import { attachComments, columnOptions, reloptionsIR, tableOptions, toPolicy } from './introspect-options.js';
import { assembleRoutines, type RoutineRow, readRoutines } from './introspect-routines.js';
import { MARKER } from './partitions-ahead.js';

export interface IntrospectOptions {
  /** Schema to read; default `current_schema()` (the first existing schema on the `search_path`). */
  schema?: string;
  /**
   * Tables to leave out (with their constraints, indexes and comments).
   * Replaces the default, `isFerryTable`: Ferry's own bookkeeping tables.
   */
  exclude?: (table: string) => boolean;
}

/** The default exclusion: `ferry_migrations` and every other table whose name starts with `ferry_`. */
export function isFerryTable(table: string): boolean {
  return table === 'ferry_migrations' || table.startsWith('ferry_');
}

/**
 * The schema of the database behind `db` as IR: enums by name, tables by
 * name, columns by position, uniques/foreign keys/checks/indexes by name.
 *
 * Runs its queries in one `REPEATABLE READ READ ONLY` transaction (or in the
 * caller's, when `db` is already a transaction), so a concurrent migration
 * cannot produce a half-old, half-new picture.
 */
export async function introspect(db: Kysely<any>, options: IntrospectOptions = {}): Promise<SchemaIR> {
  // Plugins (CamelCasePlugin...) would rewrite the catalog rows' column names.
  const plain = db.withoutPlugins();
  const read = (trx: Kysely<any>) => withoutJit(trx, () => readCatalog(trx, options.schema ?? null));
  const rows = plain.isTransaction
    ? await read(plain)
    : await plain.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(read);
  return assemble(rows, options.exclude ?? isFerryTable);
}

/**
 * The index query's cost estimate (~140k on a 500-table schema, mostly the
 * default-opclass subquery the planner cannot size) crosses the server's JIT
 * thresholds, and compiling it (~160 ms here; over a second for the earlier
 * per-key version) costs several times what the query itself takes, ~35 ms
 * (bench/migrate-introspect.bench.ts). JIT is switched off for this
 * transaction only and put back afterwards, since it may be the caller's.
 */
async function withoutJit<R>(trx: Kysely<any>, fn: () => Promise<R>): Promise<R> {
  // TimeZone too: timestamptz partition bounds (and defaults) print in the
  // session's zone, and two servers in different zones must spell them alike.
  const { rows } = await sql<{
    jit: string | null;
    tz: string | null;
  }>`select current_setting('jit', true) as jit, current_setting('TimeZone', true) as tz`.execute(trx);
  const previous = rows[0]?.jit ?? null;
  const previousTz = rows[0]?.tz ?? null;
  await sql`select set_config('jit', 'off', true), set_config('TimeZone', 'UTC', true)`.execute(trx);
  try {
    return await fn();
  } finally {
    const restore = [
      ...(previous !== null ? [sql`set_config('jit', ${previous}, true)`] : []),
      ...(previousTz !== null ? [sql`set_config('TimeZone', ${previousTz}, true)`] : []),
    ];
    if (restore.length > 0) await sql`select ${sql.join(restore)}`.execute(trx);
  }
}

// ---------------------------------------------------------------- queries

interface EnumRow {
  kind: 'enum' | 'extension' | 'sequence' | 'policy' | 'partition';
  name: string;
  /**
   * An enum's labels; an extension's `[schema, version]`, each null when the
   * default; a sequence's `[type, start, increment, min, max, cache, cycle,
   * owner table, owner column]` as text; a policy's `[table, command,
   * permissive, using, with check, ...roles]` (see introspect-options.ts);
   * a partition's `[parent, bound, partition key or null]`.
   */
  values: (string | null)[];
}

interface ColumnRow {
  table_name: string;
  /** null for a table without columns (`CREATE TABLE t ()`). */
  name: string | null;
  type: string | null;
  not_null: boolean | null;
  identity: string | null;
  generated: string | null;
  default_expr: string | null;
  /** What the default reads when it is `nextval()` of a sequence owned by the column (a serial). */
  owned_sequence_default: string | null;
  /** The owned (serial) or identity sequence's `[type, start, increment, min, max, cache, cycle]` as text. */
  owned_sequence: (string | null)[] | null;
  /** The owned sequence's persistence when it is not the table's ('logged' | 'unlogged'), else null. */
  owned_sequence_persistence: 'logged' | 'unlogged' | null;
  /** The table's: `pg_class.relpersistence` ('u' unlogged), `reloptions`, row-level security flags. */
  persistence: string;
  reloptions: string[] | null;
  rls_enabled: boolean;
  rls_forced: boolean;
  /** `attstorage` when it is not the type's `typstorage`, else null. */
  storage: string | null;
  /** `attstattarget` when set (PG 15: -1 means unset; PG 17, PGlite: null). */
  statistics: number | null;
  /** `attcompression`: 'p' pglz, 'l' lz4, '' or null the default. */
  compression: string | null;
  /** A partitioned table's `pg_get_partkeydef()`, e.g. `RANGE (created_at)`. */
  partition_key: string | null;
}

interface ConstraintRow {
  table_name: string;
  name: string;
  type: 'p' | 'u' | 'f' | 'c';
  columns: string[] | null;
  ref_table: string | null;
  ref_columns: string[] | null;
  on_delete: string;
  on_update: string;
  expression: string | null;
  nulls_not_distinct: boolean;
  validated: boolean;
  deferrable: 'immediate' | 'deferred' | null;
}

interface IndexKeyRow {
  column: string | null;
  expression: string | null;
  option: number | null;
  opclass: string | null;
  is_default_opclass: boolean | null;
}

interface IndexRow {
  table_name: string;
  name: string;
  unique: boolean;
  method: string;
  key_count: number;
  nulls_not_distinct: boolean;
  keys: IndexKeyRow[];
  predicate: string | null;
  reloptions: string[] | null;
}

interface CommentRow {
  /** 'table' (a table's or column's), else the kind of object (constraint, index, policy, sequence, type, extension). */
  kind: string;
  /** The table, for a table's, column's, constraint's, index's and policy's comment. */
  table_name: string | null;
  column_name: string | null;
  /** The constraint's, index's, policy's, sequence's, type's or extension's name. */
  object_name: string | null;
  description: string;
}

interface CatalogRows {
  enums: EnumRow[];
  columns: ColumnRow[];
  constraints: ConstraintRow[];
  indexes: IndexRow[];
  comments: CommentRow[];
  views: ViewRow[];
  /** Functions and triggers (introspect-routines.ts). */
  routines: RoutineRow[];
}

/**
 * The five queries, and the views' (introspect/views.ts) and the functions' and triggers'
 * (introspect-routines.ts). Tables are ordinary and partitioned tables that are not
 * themselves partitions: a partition (the first query's `partition` rows)
 * has its parent's columns, keys and indexes, which would otherwise be
 * reported again; `relispartition` and `relkind` filters are repeated in
 * each query so each stands alone. The index query reads materialized views' indexes too.
 */
async function readCatalog(db: Kysely<any>, schemaName: string | null): Promise<CatalogRows> {
  const schema = sql`coalesce(${schemaName}::text, current_schema())`;
  const isTable = (c: string) => sql.raw(`${c}.relkind in ('r', 'p') and not ${c}.relispartition`);

  // Enums, and extensions in the same query: extensions belong to the whole
  // database; one in the schema read, or at the version the server installs
  // by default, reports null there. plpgsql is in every database; Citus's
  // extensions come with the cluster, not with the schema (schema/citus.ts).
  const enums = await sql<EnumRow>`
    select 'enum' as kind, t.typname::text as name,
           coalesce(json_agg(e.enumlabel::text order by e.enumsortorder) filter (where e.oid is not null), '[]') as values
      from pg_type t
      join pg_namespace n on n.oid = t.typnamespace
      left join pg_enum e on e.enumtypid = t.oid
     where t.typtype = 'e' and n.nspname = ${schema}
     group by t.typname
    union all
    select 'extension', x.extname::text,
           json_build_array(
             case when xn.nspname = ${schema} then null else xn.nspname::text end,
             case when x.extversion = av.default_version then null else x.extversion end)
      from pg_extension x
      join pg_namespace xn on xn.oid = x.extnamespace
      left join pg_available_extensions av on av.name = x.extname
     where x.extname not in ('plpgsql', ${sql.raw(CITUS_EXTENSIONS.map(literal).join(', '))})
    union all
    -- Standalone sequences: not an identity column's. A serial's (owned by a
    -- column whose default is nextval() of it) comes too, marked with what that
    -- default reads: it is standalone after all when other defaults use it
    -- (see sharedSequences).
    select 'sequence', s.relname::text,
           json_build_array(format_type(sq.seqtypid, null), sq.seqstart::text, sq.seqincrement::text,
             sq.seqmin::text, sq.seqmax::text, sq.seqcache::text, sq.seqcycle::text, ot.relname::text, oa.attname::text,
             case when pg_get_expr(oad.adbin, oad.adrelid) = 'nextval(' || quote_literal(s.oid::regclass::text) || '::regclass)'
                  then pg_get_expr(oad.adbin, oad.adrelid) end)
      from pg_class s
      join pg_namespace sn on sn.oid = s.relnamespace
      join pg_sequence sq on sq.seqrelid = s.oid
      left join pg_depend od on od.classid = 'pg_class'::regclass and od.objid = s.oid
            and od.refclassid = 'pg_class'::regclass and od.deptype in ('a', 'i') and od.refobjsubid > 0
      left join pg_class ot on ot.oid = od.refobjid
      left join pg_attribute oa on oa.attrelid = od.refobjid and oa.attnum = od.refobjsubid
      left join pg_attrdef oad on oad.adrelid = oa.attrelid and oad.adnum = oa.attnum
     where s.relkind = 'S' and sn.nspname = ${schema}
       and od.deptype is distinct from 'i'
    union all
    -- Row-level security policies (no query of their own): roles by name, 0 being PUBLIC.
    select 'policy', p.polname::text,
           (jsonb_build_array(pc.relname::text, p.polcmd::text, p.polpermissive::text,
              pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
            || coalesce((select jsonb_agg(case when r.oid = 0 then 'public' else pg_get_userbyid(r.oid)::text end)
                           from unnest(p.polroles) as r(oid)), '[]'::jsonb))::json
      from pg_policy p
      join pg_class pc on pc.oid = p.polrelid
      join pg_namespace pn on pn.oid = pc.relnamespace
     where pn.nspname = ${schema} and ${isTable('pc')}
    union all
    -- Partitions (their columns, keys and indexes are their parent's, so the
    -- other queries skip them): parent, bound, and a sub-partitioned one's key.
    select 'partition', pc.relname::text,
           json_build_array(pp.relname::text, pg_get_expr(pc.relpartbound, pc.oid),
             case when pc.relkind = 'p' then pg_get_partkeydef(pc.oid) end)
      from pg_class pc
      join pg_namespace pn on pn.oid = pc.relnamespace
      join pg_inherits pi on pi.inhrelid = pc.oid
      join pg_class pp on pp.oid = pi.inhparent
     where pc.relispartition and pc.relkind in ('r', 'p') and pn.nspname = ${schema}
       -- \`ferry partitions create\`'s are operational, not part of the schema (partitions-ahead.ts).
       and obj_description(pc.oid, 'pg_class') is distinct from ${MARKER}`.execute(db);

  const columns = await sql<ColumnRow>`
    select c.relname::text as table_name,
           a.attname::text as name,
           format_type(a.atttypid, a.atttypmod) as type,
           a.attnotnull as not_null,
           a.attidentity::text as identity,
           a.attgenerated::text as generated,
           pg_get_expr(d.adbin, d.adrelid) as default_expr,
           case when os.deptype = 'a' then os.owned_sequence_default end as owned_sequence_default,
           os.owned_sequence,
           case when os.persistence <> c.relpersistence
                then case os.persistence when 'u' then 'unlogged' else 'logged' end end as owned_sequence_persistence,
           c.relpersistence::text as persistence,
           c.reloptions::text[] as reloptions,
           c.relrowsecurity as rls_enabled,
           c.relforcerowsecurity as rls_forced,
           case when a.attstorage <> ty.typstorage then a.attstorage::text end as storage,
           nullif(a.attstattarget, -1)::int as statistics,
           a.attcompression::text as compression,
           case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as partition_key
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      left join pg_type ty on ty.oid = a.atttypid
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      left join (
        -- sequences owned by a column (one per column: an identity's, else the oldest), hash-joined
        select distinct on (dep.refobjid, dep.refobjsubid)
               dep.refobjid, dep.refobjsubid, dep.deptype,
               'nextval(' || quote_literal(s.oid::regclass::text) || '::regclass)' as owned_sequence_default,
               json_build_array(format_type(sq.seqtypid, null), sq.seqstart::text, sq.seqincrement::text,
                 sq.seqmin::text, sq.seqmax::text, sq.seqcache::text, sq.seqcycle::text) as owned_sequence,
               s.relpersistence as persistence
          from pg_depend dep
          join pg_class s on s.oid = dep.objid and s.relkind = 'S'
          join pg_sequence sq on sq.seqrelid = s.oid
         where dep.classid = 'pg_class'::regclass and dep.refclassid = 'pg_class'::regclass and dep.deptype in ('a', 'i')
         order by dep.refobjid, dep.refobjsubid, dep.deptype = 'i' desc, s.oid
      ) os on os.refobjid = c.oid and os.refobjsubid = a.attnum
     where n.nspname = ${schema} and ${isTable('c')}
     order by c.oid, a.attnum`.execute(db);

  const constraints = await sql<ConstraintRow>`
    select c.relname::text as table_name,
           con.conname::text as name,
           con.contype::text as type,
           (select json_agg(a.attname::text order by k.ord)
              from unnest(con.conkey) with ordinality as k(attnum, ord)
              join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum) as columns,
           f.relname::text as ref_table,
           (select json_agg(a.attname::text order by k.ord)
              from unnest(con.confkey) with ordinality as k(attnum, ord)
              join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum) as ref_columns,
           con.confdeltype::text as on_delete,
           con.confupdtype::text as on_update,
           case when con.contype = 'c' then pg_get_expr(con.conbin, con.conrelid) end as expression,
           coalesce(i.indnullsnotdistinct, false) as nulls_not_distinct,
           con.convalidated as validated,
           case when con.condeferrable then case when con.condeferred then 'deferred' else 'immediate' end end
             as deferrable
      from pg_constraint con
      join pg_class c on c.oid = con.conrelid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_class f on f.oid = con.confrelid
      left join pg_index i on i.indexrelid = con.conindid and con.contype = 'u'
     where n.nspname = ${schema} and ${isTable('c')}
       and con.contype in ('p', 'u', 'f', 'c')`.execute(db);

  // Index keys: indkey has every attribute (keys, then INCLUDE columns);
  // indclass/indoption only the keys, so unnest pads them with nulls.
  //
  // An opclass is reported only when pg_get_indexdef would print it, i.e.
  // when it is not what GetDefaultOpClass() picks for the key's type:
  // emulated below for column keys (exact opcintype match, else one
  // binary-coercible default, preferring the category's preferred type;
  // polymorphic opcintypes such as anyarray/anyenum match by type kind).
  // An expression's type is not visible from SQL, so an expression key
  // reports its opclass when that opclass is not a default one at all.
  //
  // Shape (each CTE materialised once, joined by hash, never re-run per
  // index): `idx` the schema's indexes that back no constraint; `keys`
  // one row per index attribute with its column's base type; `dflt` the
  // default opclass per distinct (access method, base type) pair, a handful
  // however many indexes there are (computing it per key cost ~240 ms of
  // the ~270 ms this query took on 500 tables); `agg` the keys as JSON.
  const indexes = await sql<IndexRow>`
    with idx as materialized (
      select i.indexrelid, i.indrelid, c.relname::text as table_name, ic.relname::text as name,
             i.indisunique, i.indnullsnotdistinct, ic.relam, i.indnkeyatts, i.indkey, i.indclass, i.indoption, i.indpred,
             ic.reloptions
        from pg_index i
        join pg_class ic on ic.oid = i.indexrelid
        join pg_class c on c.oid = i.indrelid
        join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = ${schema} and (${isTable('c')} or c.relkind = 'm')
         and not exists (
           select 1 from pg_constraint con
            where con.conindid = i.indexrelid and con.conrelid = i.indrelid and con.contype in ('p', 'u', 'x'))
    ), keys as materialized (
      select x.indexrelid, x.indrelid, x.relam, k.attnum, k.opclass, k.opt, k.ord, a.attname,
             case when t.typtype = 'd' then t.typbasetype else t.oid end as base_type
        from idx x
       cross join unnest(x.indkey::int2[], x.indclass::oid[], x.indoption::int2[]) with ordinality as k(attnum, opclass, opt, ord)
        left join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum and k.attnum > 0
        left join pg_type t on t.oid = a.atttypid
    ), dflt as materialized (
      select p.relam, p.base_type,
             (select case
                       when count(*) filter (where x.exact) = 1 then min(x.oid) filter (where x.exact)
                       when count(*) filter (where x.exact) > 0 then null
                       when count(*) filter (where x.preferred) = 1 then min(x.oid) filter (where x.preferred)
                       when count(*) filter (where x.preferred) > 0 then null
                       when count(*) filter (where x.compatible) = 1 then min(x.oid) filter (where x.compatible)
                     end
                from (
                  select o.oid,
                         o.opcintype = bt.oid as exact,
                         y.compatible,
                         y.compatible and it.typispreferred and it.typcategory = bt.typcategory as preferred
                    from pg_opclass o
                    join pg_type it on it.oid = o.opcintype
                    cross join lateral (
                      select o.opcintype <> bt.oid and (
                               case when it.typtype = 'p' then
                                 case it.typname::text
                                   when 'any' then true
                                   when 'anyelement' then true
                                   when 'anycompatible' then true
                                   when 'anyarray' then bt.typsubscript = 'array_subscript_handler'::regproc
                                   when 'anycompatiblearray' then bt.typsubscript = 'array_subscript_handler'::regproc
                                   when 'anynonarray' then bt.typsubscript <> 'array_subscript_handler'::regproc
                                   when 'anycompatiblenonarray' then bt.typsubscript <> 'array_subscript_handler'::regproc
                                   when 'anyenum' then bt.typtype = 'e'
                                   when 'anyrange' then bt.typtype = 'r'
                                   when 'anycompatiblerange' then bt.typtype = 'r'
                                   when 'anymultirange' then bt.typtype = 'm'
                                   when 'anycompatiblemultirange' then bt.typtype = 'm'
                                   when 'record' then bt.typtype = 'c'
                                   when '_record' then bt.typsubscript = 'array_subscript_handler'::regproc
                                                       and bte.typtype = 'c'
                                   else false
                                 end
                               else exists (
                                 select 1 from pg_cast pc
                                  where pc.castsource = bt.oid and pc.casttarget = o.opcintype
                                    and pc.castmethod = 'b' and pc.castcontext = 'i')
                               end) as compatible
                    ) y
                   where o.opcmethod = p.relam and o.opcdefault
                ) x) as oid
        from (select distinct relam, base_type from keys where base_type is not null) p
        join pg_type bt on bt.oid = p.base_type
        left join pg_type bte on bte.oid = bt.typelem
    ), agg as (
      select k.indexrelid,
             json_agg(json_build_object(
               'column', k.attname::text,
               'expression', case when k.attnum = 0 then pg_get_indexdef(k.indexrelid, k.ord::int, true) end,
               'option', k.opt,
               'opclass', case when pg_opclass_is_visible(opc.oid) then quote_ident(opc.opcname)
                               else quote_ident(opn.nspname) || '.' || quote_ident(opc.opcname) end,
               'is_default_opclass', case when k.attnum = 0 then opc.opcdefault else opc.oid = d.oid end
             ) order by k.ord) as keys
        from keys k
        left join pg_opclass opc on opc.oid = k.opclass
        left join pg_namespace opn on opn.oid = opc.opcnamespace
        left join dflt d on d.relam = k.relam and d.base_type = k.base_type
       group by k.indexrelid
    )
    select x.table_name, x.name, x.indisunique as unique, x.indnullsnotdistinct as nulls_not_distinct,
           am.amname::text as method, x.indnkeyatts::int as key_count, g.keys,
           pg_get_expr(x.indpred, x.indrelid) as predicate,
           x.reloptions::text[] as reloptions
      from idx x
      join pg_am am on am.oid = x.relam
      left join agg g on g.indexrelid = x.indexrelid`.execute(db);

  // Comments on tables and columns, then on the other objects the IR has:
  // constraints, indexes, policies, sequences, enums, and extensions whose
  // comment is not the one CREATE EXTENSION set from the control file.
  const comments = await sql<CommentRow>`
    select 'table' as kind, c.relname::text as table_name, a.attname::text as column_name,
           null::text as object_name, d.description
      from pg_description d
      join pg_class c on c.oid = d.objoid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid and d.objsubid > 0
     where d.classoid = 'pg_class'::regclass and n.nspname = ${schema} and ${isTable('c')}
       and (d.objsubid = 0 or a.attname is not null)
    union all
    select 'constraint', c.relname::text, null, con.conname::text, d.description
      from pg_description d
      join pg_constraint con on con.oid = d.objoid
      join pg_class c on c.oid = con.conrelid
      join pg_namespace n on n.oid = c.relnamespace
     where d.classoid = 'pg_constraint'::regclass and n.nspname = ${schema} and ${isTable('c')}
    union all
    select 'index', c.relname::text, null, ic.relname::text, d.description
      from pg_description d
      join pg_index i on i.indexrelid = d.objoid
      join pg_class ic on ic.oid = i.indexrelid
      join pg_class c on c.oid = i.indrelid
      join pg_namespace n on n.oid = c.relnamespace
     where d.classoid = 'pg_class'::regclass and d.objsubid = 0 and n.nspname = ${schema} and ${isTable('c')}
    union all
    select 'policy', c.relname::text, null, p.polname::text, d.description
      from pg_description d
      join pg_policy p on p.oid = d.objoid
      join pg_class c on c.oid = p.polrelid
      join pg_namespace n on n.oid = c.relnamespace
     where d.classoid = 'pg_policy'::regclass and n.nspname = ${schema} and ${isTable('c')}
    union all
    select 'sequence', null, null, s.relname::text, d.description
      from pg_description d
      join pg_class s on s.oid = d.objoid and s.relkind = 'S'
      join pg_namespace n on n.oid = s.relnamespace
     where d.classoid = 'pg_class'::regclass and d.objsubid = 0 and n.nspname = ${schema}
    union all
    select 'type', null, null, t.typname::text, d.description
      from pg_description d
      join pg_type t on t.oid = d.objoid and t.typtype = 'e'
      join pg_namespace n on n.oid = t.typnamespace
     where d.classoid = 'pg_type'::regclass and n.nspname = ${schema}
    union all
    select 'extension', null, null, x.extname::text, d.description
      from pg_description d
      join pg_extension x on x.oid = d.objoid
      left join pg_available_extensions av on av.name = x.extname
     where d.classoid = 'pg_extension'::regclass and d.description is distinct from av.comment`.execute(db);

  const routines = await readRoutines(db, schema);

  return {
    enums: enums.rows,
    columns: columns.rows,
    constraints: constraints.rows,
    indexes: indexes.rows,
    comments: comments.rows,
    views: await readViews(db, schemaName),
    routines,
  };
}

// ---------------------------------------------------------------- assembly

const ACTIONS: Record<string, ReferentialAction> = {
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
};

/** Code-unit order: the same on every server, whatever its collation. */
const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function assemble(rows: CatalogRows, exclude: (table: string) => boolean): SchemaIR {
  const tables = new Map<string, TableIR>();
  const shared = sharedSequences(rows.columns);
  // Rows arrive ordered by table, then attnum.
  for (const row of rows.columns) {
    if (exclude(row.table_name)) continue;
    let table = tables.get(row.table_name);
    if (!table) {
      table = {
        name: row.table_name,
        columns: [],
        primaryKey: null,
        uniques: [],
        foreignKeys: [],
        checks: [],
        indexes: [],
        comment: null,
        ...tableOptions(row),
      };
      const partitionBy = row.partition_key === null ? null : parsePartitionKey(row.partition_key);
      if (partitionBy) table.partitionBy = partitionBy;
      tables.set(row.table_name, table);
    }
    if (row.name !== null) table.columns.push(toColumn(row, shared));
  }

  for (const row of rows.constraints) {
    const table = tables.get(row.table_name);
    if (!table) continue;
    const columns = row.columns ?? [];
    switch (row.type) {
      case 'p':
        table.primaryKey = {
          name: row.name,
          columns,
          ...(row.deferrable !== null ? { deferrable: row.deferrable } : {}),
        };
        break;
      case 'u':
        table.uniques.push({
          name: row.name,
          columns,
          nullsNotDistinct: row.nulls_not_distinct,
          ...(row.deferrable !== null ? { deferrable: row.deferrable } : {}),
        } satisfies UniqueIR);
        break;
      case 'f':
        table.foreignKeys.push({
          name: row.name,
          columns,
          references: { table: row.ref_table ?? '', columns: row.ref_columns ?? [] },
          onDelete: ACTIONS[row.on_delete] ?? 'no action',
          onUpdate: ACTIONS[row.on_update] ?? 'no action',
          ...(row.validated === false ? { notValid: true as const } : {}),
          ...(row.deferrable !== null ? { deferrable: row.deferrable } : {}),
        } satisfies ForeignKeyIR);
        break;
      case 'c':
        table.checks.push({
          name: row.name,
          expression: row.expression ?? '',
          ...(row.validated === false ? { notValid: true as const } : {}),
        } satisfies CheckIR);
        break;
    }
  }

  const viewIndexes = new Map<string, IndexIR[]>();
  for (const row of rows.indexes) {
    const table = tables.get(row.table_name);
    if (!table) {
      // A materialized view's.
      viewIndexes.set(row.table_name, [...(viewIndexes.get(row.table_name) ?? []), toIndex(row)]);
      continue;
    }
    table.indexes.push(toIndex(row));
  }

  for (const row of rows.enums) {
    if (row.kind !== 'policy') continue;
    const table = tables.get(row.values[0] ?? '');
    if (table) table.policies = [...(table.policies ?? []), toPolicy(row.name, row.values)];
  }

  const other: CommentRow[] = [];
  for (const row of rows.comments) {
    if (row.kind !== 'table') {
      other.push(row);
      continue;
    }
    const table = tables.get(row.table_name ?? '');
    if (!table) continue;
    if (row.column_name === null) {
      table.comment = row.description;
    } else {
      const column = table.columns.find((c) => c.name === row.column_name);
      if (column) column.comment = row.description;
    }
  }

  const sorted = [...tables.values()].sort(byName);
  for (const t of sorted) {
    t.uniques.sort(byName);
    t.foreignKeys.sort(byName);
    t.checks.sort(byName);
    t.indexes.sort(byName);
    t.policies?.sort(byName);
  }
  const enums: EnumIR[] = rows.enums
    .filter((e) => e.kind === 'enum')
    .map((e) => ({ name: e.name, values: e.values as string[] }))
    .sort(byName);
  const extensions: ExtensionIR[] = rows.enums
    .filter((e) => e.kind === 'extension')
    .map((e) => ({ name: e.name, schema: e.values[0] ?? null, version: e.values[1] ?? null }))
    .sort(byName);
  const sequences: SequenceIR[] = rows.enums
    // A serial's sequence is the column's, unless other defaults use it too.
    .filter((e) => e.kind === 'sequence' && (e.values[9] == null || shared.has(e.values[9])))
    .map((e) => {
      const [type, start, increment, min, max, cache, cycle, table, column] = e.values;
      return {
        name: e.name,
        type: type as SequenceType,
        ...sequenceOptions(type as SequenceType, [start, increment, min, max, cache, cycle]),
        ownedBy: table && column ? { table, column } : null,
      };
    })
    .sort(byName);
  const views = assembleViews(
    rows.views.filter((v) => !exclude(v.name)),
    viewIndexes,
  );
  const { functions, triggers, raw } = assembleRoutines(rows.routines, exclude);
  attachComments(other, tables, { extensions, sequences, enums });
  const partitions = sortPartitions(
    rows.enums
      .filter((e) => e.kind === 'partition' && !exclude(e.values[0] ?? '') && !exclude(e.name))
      .map((e) => {
        const by = e.values[2] ? parsePartitionKey(e.values[2]) : null;
        return {
          name: e.name,
          parent: e.values[0] ?? '',
          bound: e.values[1] ?? '',
          ...(by ? { partitionBy: by } : {}),
        };
      }),
  );
  // Each present only when there are some, as in the DSL's IR (schema.ts).
  return {
    ...(extensions.length > 0 ? { extensions } : {}),
    ...(sequences.length > 0 ? { sequences } : {}),
    enums,
    tables: sorted,
    ...(views.length > 0 ? { views } : {}),
    ...(functions.length > 0 ? { functions } : {}),
    ...(triggers.length > 0 ? { triggers } : {}),
    ...(raw.length > 0 ? { raw } : {}),
    ...(partitions.length > 0 ? { partitions } : {}),
  };
}

/** `[start, increment, min, max, cache, cycle]` as text, normalised (defaults null). */
function sequenceOptions(type: SequenceType, v: (string | null | undefined)[]): SequenceOptionsIR {
  const [start, increment, min, max, cache, cycle] = v.map((x) => x ?? '0');
  return normaliseSequence(type, {
    start: BigInt(start!),
    increment: BigInt(increment!),
    min: BigInt(min!),
    max: BigInt(max!),
    cache: BigInt(cache!),
    cycle: cycle === 'true',
  });
}

/** A serial's or identity's sequence options, when some differs from the default. */
function columnSequence(row: ColumnRow): ColumnSequenceIR | null {
  if (!row.owned_sequence) return null;
  const [type, ...rest] = row.owned_sequence;
  const o = sequenceOptions(type as SequenceType, rest);
  const persistence = row.owned_sequence_persistence ? { persistence: row.owned_sequence_persistence } : {};
  // The sequence's type is named only when it is not the column's.
  if (type !== row.type) return { type: type as SequenceType, ...o, ...persistence };
  const isDefault = !o.cycle && [o.start, o.increment, o.min, o.max, o.cache].every((x) => x === null);
  return isDefault && row.owned_sequence_persistence === null ? null : { ...o, ...persistence };
}

/**
 * The `nextval('seq'::regclass)` defaults of serial-looking columns whose
 * sequence other columns' defaults call as well (a partitioned log whose
 * template and partitions share its id sequence, by hand). Such a column is
 * not a serial: a serial's sequence would be re-created under its own name
 * (`table_column_seq`), and the other defaults would call one that does not
 * exist. It keeps its default, and the sequence is a `sequence()` owned by it.
 */
function sharedSequences(columns: readonly ColumnRow[]): Set<string> {
  const owned = new Set<string>();
  for (const c of columns) if (c.owned_sequence_default !== null) owned.add(c.owned_sequence_default);
  const uses = new Map<string, number>();
  if (owned.size === 0) return new Set();
  for (const c of columns) {
    if (c.default_expr === null || !c.default_expr.includes('nextval(')) continue;
    for (const call of c.default_expr.match(/nextval\('(?:[^']|'')+'::regclass\)/g) ?? []) {
      if (owned.has(call)) uses.set(call, (uses.get(call) ?? 0) + 1);
    }
  }
  return new Set([...uses].filter(([, n]) => n > 1).map(([call]) => call));
}

function toColumn(row: ColumnRow, shared: ReadonlySet<string>): ColumnIR {
  const identity = row.identity === 'a' ? 'always' : row.identity === 'd' ? 'by default' : null;
  // 's' is STORED; 'v' (virtual, Postgres 18) has no IR spelling and is reported as generated too.
  const generated = row.generated === 's' || row.generated === 'v' ? row.default_expr : null;
  const serial =
    identity === null &&
    generated === null &&
    row.default_expr !== null &&
    row.default_expr === row.owned_sequence_default &&
    !shared.has(row.default_expr);
  const column: ColumnIR = {
    name: row.name!,
    type: row.type!,
    nullable: !row.not_null,
    default: serial || identity !== null || generated !== null ? null : row.default_expr,
    serial,
    identity,
    generated,
    comment: null,
  };
  const seq = serial || identity !== null ? columnSequence(row) : null;
  if (seq) column.sequence = seq;
  Object.assign(column, columnOptions(row));
  return column;
}

const INDOPTION_DESC = 1;
const INDOPTION_NULLS_FIRST = 2;

function toIndex(row: IndexRow): IndexIR {
  const all = row.keys ?? [];
  const keys: IndexKeyIR[] = all.slice(0, row.key_count).map((k) => {
    const option = k.option ?? 0;
    const order = option & INDOPTION_DESC ? 'desc' : 'asc';
    const nullsFirst = (option & INDOPTION_NULLS_FIRST) !== 0;
    // Postgres's defaults: NULLS LAST ascending, NULLS FIRST descending.
    const nulls = order === 'asc' ? (nullsFirst ? 'first' : null) : nullsFirst ? null : 'last';
    return {
      column: k.column,
      expression: k.column === null ? k.expression : null,
      order,
      nulls,
      opclass: k.is_default_opclass === false || k.is_default_opclass === null ? k.opclass : null,
    };
  });
  return {
    name: row.name,
    unique: row.unique,
    method: row.method as IndexMethod,
    keys,
    include: all.slice(row.key_count).map((k) => k.column ?? ''),
    where: row.predicate,
    ...(row.nulls_not_distinct ? { nullsNotDistinct: true as const } : {}),
    ...reloptionsIR(row.reloptions),
  };
}
