/**
 * What Studio knows of the database's tables, read from pg_catalog: the list
 * (estimates from `pg_class.reltuples`, never a COUNT), and per table its
 * columns with their cell kinds, primary key and foreign keys both ways.
 * Tables are whatever the database holds, schema module or not: Studio
 * shows imported and hand-made tables too.
 *
 * Its own queries rather than `introspect()` (migrate/introspect.ts), which
 * reads one schema whole into the IR for diffing: the grid needs one table
 * at a time, in any schema, with its oid, estimates, sizes and cell kinds,
 * none of which the IR holds. The DDL and the diagram do use introspect().
 *
 * A table's detail is cached for a few seconds: the grid asks for it on
 * every page, and the catalog changes only with DDL (a name not found is
 * looked up again at once; GET api/tables always reads afresh).
 */
import { sql } from 'kysely';
import type { DbHandle } from '../db/open.js';
import { FerryError } from '../errors.js';
import type { CellKind, ColumnInfo, ForeignKeyInfo, TableKind, TableSummary } from './api.js';
import { E_STUDIO_NOT_FOUND } from './errors.js';

/** A column as the routes need it: the API's view plus the SQL type to cast parameters to. */
export interface CatalogColumn extends ColumnInfo {
  /** `format_type()` of the column: what parameters are cast to (`$1::timestamp with time zone`). */
  castType: string;
  /** Identity ALWAYS or GENERATED: not writable. */
  generated: boolean;
  /** Orderable with `<`/`>` (json and a few others are not). */
  sortable: boolean;
}

export interface CatalogTable extends TableSummary {
  oid: number;
  columns: CatalogColumn[];
  primaryKey: string[];
  foreignKeys: ForeignKeyInfo[];
  referencedBy: ForeignKeyInfo[];
}

const TTL_MS = 5_000;

const KIND: Record<string, TableKind> = { r: 'table', p: 'partitioned', v: 'view', m: 'materialized-view' };

/** Cell kinds by builtin type oid (see src/db/types.ts for how each is parsed). */
const KIND_BY_OID: Record<number, CellKind> = {
  16: 'boolean',
  17: 'bytea',
  20: 'bigint',
  21: 'number',
  23: 'number',
  26: 'number',
  700: 'number',
  701: 'number',
  1700: 'number',
  114: 'json',
  3802: 'json',
  1082: 'date',
  1114: 'timestamp',
  1184: 'timestamp',
  2950: 'uuid',
};

/** The display name of a table: bare in `public`, else `schema.name`. */
export function displayName(schema: string, name: string): string {
  return schema === 'public' ? name : `${schema}.${name}`;
}

export class Catalog {
  readonly #handle: DbHandle;
  #tables: { at: number; list: Promise<Map<string, TableSummary & { oid: number }>> } | null = null;
  readonly #details = new Map<string, { at: number; table: Promise<CatalogTable> }>();

  constructor(handle: DbHandle) {
    this.#handle = handle;
  }

  /** Forget what was read (after a write through the SQL runner, which may have run DDL). */
  invalidate(): void {
    this.#tables = null;
    this.#details.clear();
  }

  /** Every table, read afresh (one cheap catalog query): the list page shows tables created a moment ago. */
  async list(): Promise<TableSummary[]> {
    this.#tables = null;
    return [...(await this.#list()).values()].map(({ oid: _oid, ...t }) => t);
  }

  /** The table of this display name (`users`, `audit.events`), or E_STUDIO_NOT_FOUND. */
  async table(name: string): Promise<CatalogTable> {
    const cached = this.#details.get(name);
    if (cached && performance.now() - cached.at < TTL_MS) return cached.table;
    const table = this.#read(name);
    this.#details.set(name, { at: performance.now(), table });
    table.catch(() => this.#details.delete(name));
    return table;
  }

  #list(): Promise<Map<string, TableSummary & { oid: number }>> {
    if (this.#tables && performance.now() - this.#tables.at < TTL_MS) return this.#tables.list;
    const list = this.#readList();
    this.#tables = { at: performance.now(), list };
    list.catch(() => {
      this.#tables = null;
    });
    return list;
  }

  async #readList(): Promise<Map<string, TableSummary & { oid: number }>> {
    const { rows } = await sql<{
      oid: number;
      schema: string;
      name: string;
      relkind: string;
      estimated: number | null;
      bytes: number | string | null;
      comment: string | null;
    }>`
      select c.oid::int8 as oid, n.nspname as schema, c.relname as name, c.relkind::text as relkind,
             case when c.reltuples < 0 then null else c.reltuples::float8 end as estimated,
             case when c.relkind in ('r', 'p', 'm') then pg_total_relation_size(c.oid) end as bytes,
             obj_description(c.oid, 'pg_class') as comment
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm')
        and n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'
        and n.nspname not like 'ferry\\_shadow\\_%'
      order by n.nspname = 'public' desc, n.nspname, c.relname`.execute(this.#handle.db);
    const out = new Map<string, TableSummary & { oid: number }>();
    for (const r of rows) {
      const name = displayName(r.schema, r.name);
      out.set(name, {
        oid: Number(r.oid),
        name,
        schema: r.schema,
        kind: KIND[r.relkind] ?? 'table',
        estimatedRows: r.estimated === null ? null : Math.round(r.estimated),
        bytes: r.bytes === null ? null : Number(r.bytes),
        comment: r.comment,
      });
    }
    return out;
  }

  async #read(name: string): Promise<CatalogTable> {
    let list = await this.#list();
    if (!list.has(name)) {
      // Created since the list was read (it is kept a few seconds): look again before saying it is not there.
      this.#tables = null;
      list = await this.#list();
    }
    const summary = list.get(name);
    if (!summary) {
      throw new FerryError(
        E_STUDIO_NOT_FOUND,
        `There is no table or view "${name}" (a schema other than public is written schema.name).`,
        {
          details: { table: name },
        },
      );
    }
    const db = this.#handle.db;
    const oid = summary.oid;
    const columns = await sql<{
      name: string;
      type: string;
      typid: number;
      typtype: string;
      typcategory: string;
      nullable: boolean;
      default: string | null;
      comment: string | null;
      identity: string;
      generated: string;
      enum_values: string[] | null;
      sortable: boolean;
    }>`
      select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type, a.atttypid::int8 as typid,
             t.typtype::text as typtype, t.typcategory::text as typcategory, not a.attnotnull as nullable,
             pg_get_expr(d.adbin, d.adrelid) as default, col_description(a.attrelid, a.attnum) as comment,
             a.attidentity::text as identity, a.attgenerated::text as generated,
             (select array_agg(e.enumlabel::text order by e.enumsortorder) from pg_enum e where e.enumtypid = a.atttypid) as enum_values,
             -- json, xml and geometric types have no ordering; anything else odd is Postgres's to refuse (a 400).
             (a.atttypid not in (114, 142) and t.typcategory <> 'G') as sortable
      from pg_attribute a
      join pg_type t on t.oid = a.atttypid
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where a.attrelid = ${oid}::oid and a.attnum > 0 and not a.attisdropped
      order by a.attnum`.execute(db);
    const pk = await sql<{ name: string }>`
      select a.attname::text as name
      from pg_constraint con
      cross join lateral unnest(con.conkey) with ordinality k(attnum, ord)
      join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum
      where con.conrelid = ${oid}::oid and con.contype = 'p'
      order by k.ord`.execute(db);
    const fks = await sql<{
      name: string;
      conrelid: number;
      confrelid: number;
      columns: string[];
      ref_columns: string[];
    }>`
      select con.conname::text as name, con.conrelid::int8 as conrelid, con.confrelid::int8 as confrelid,
             (select array_agg(a.attname::text order by k.ord) from unnest(con.conkey) with ordinality k(n, ord)
                join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n) as columns,
             (select array_agg(a.attname::text order by k.ord) from unnest(con.confkey) with ordinality k(n, ord)
                join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n) as ref_columns
      from pg_constraint con
      where con.contype = 'f' and con.conparentid = 0 and (con.conrelid = ${oid}::oid or con.confrelid = ${oid}::oid)
      order by con.conname`.execute(db);
    const byOid = new Map([...list.values()].map((t) => [t.oid, t.name]));
    const primaryKey = pk.rows.map((r) => r.name);
    const fkInfo = (r: (typeof fks.rows)[number]): ForeignKeyInfo => ({
      name: r.name,
      table: byOid.get(Number(r.conrelid)) ?? String(r.conrelid),
      columns: r.columns,
      refTable: byOid.get(Number(r.confrelid)) ?? String(r.confrelid),
      refColumns: r.ref_columns,
    });
    return {
      ...summary,
      columns: columns.rows.map((c): CatalogColumn => {
        const kind = cellKind(Number(c.typid), c.typtype, c.typcategory);
        return {
          name: c.name,
          type: c.type,
          kind,
          nullable: c.nullable,
          default: c.default,
          sensitive: false,
          primaryKey: primaryKey.includes(c.name),
          searchable: c.typcategory === 'S',
          ...(c.enum_values ? { enumValues: c.enum_values } : {}),
          comment: c.comment,
          castType: c.type,
          generated: c.identity === 'a' || c.generated !== '',
          sortable: c.sortable,
        };
      }),
      primaryKey,
      foreignKeys: fks.rows.filter((r) => Number(r.conrelid) === oid).map(fkInfo),
      referencedBy: fks.rows.filter((r) => Number(r.confrelid) === oid).map(fkInfo),
    };
  }
}

function cellKind(oid: number, typtype: string, category: string): CellKind {
  const known = KIND_BY_OID[oid];
  if (known) return known;
  if (category === 'A') return 'array';
  if (typtype === 'e') return 'enum';
  if (category === 'S') return 'text';
  if (category === 'N') return 'number';
  return 'other';
}
