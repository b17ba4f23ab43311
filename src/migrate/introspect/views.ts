/**
 * Views and materialized views of a live database, for introspect.ts: one
 * whole-schema query (definition, output columns, options, comment, and what
 * each reads from `pg_depend` through its `pg_rewrite` rule). Their indexes
 * come from the index query, which reads materialized views' too.
 */
import { type Kysely, sql } from 'kysely';
import type { IndexIR, ViewIR } from '../../schema/ir.js';
import { columnCommentsIR } from '../../schema/view.js';

export interface ViewRow {
  name: string;
  materialized: boolean;
  definition: string | null;
  columns: [string, string][] | null;
  options: string[] | null;
  populated: boolean;
  comment: string | null;
  column_comments: Record<string, string> | null;
  /** `[relation, column or null]` pairs the view's rule depends on. */
  depends: [string, string | null][] | null;
}

export async function readViews(db: Kysely<any>, schemaName: string | null): Promise<ViewRow[]> {
  const schema = sql`coalesce(${schemaName}::text, current_schema())`;
  const { rows } = await sql<ViewRow>`
    select v.relname::text as name,
           v.relkind = 'm' as materialized,
           pg_get_viewdef(v.oid) as definition,
           (select json_agg(json_build_array(a.attname::text, format_type(a.atttypid, a.atttypmod)) order by a.attnum)
              from pg_attribute a
             where a.attrelid = v.oid and a.attnum > 0 and not a.attisdropped) as columns,
           v.reloptions::text[] as options,
           v.relispopulated as populated,
           d.description as comment,
           (select json_object_agg(ca.attname::text, cd.description)
              from pg_description cd
              join pg_attribute ca on ca.attrelid = cd.objoid and ca.attnum = cd.objsubid
             where cd.classoid = 'pg_class'::regclass and cd.objoid = v.oid and cd.objsubid > 0) as column_comments,
           (select json_agg(distinct jsonb_build_array(rc.relname::text, ra.attname::text))
              from pg_rewrite r
              join pg_depend dep on dep.classid = 'pg_rewrite'::regclass and dep.objid = r.oid
                                and dep.refclassid = 'pg_class'::regclass and dep.refobjid <> v.oid
              join pg_class rc on rc.oid = dep.refobjid and rc.relnamespace = v.relnamespace
              left join pg_attribute ra on ra.attrelid = dep.refobjid and ra.attnum = dep.refobjsubid
                                       and dep.refobjsubid > 0
             where r.ev_class = v.oid) as depends
      from pg_class v
      join pg_namespace n on n.oid = v.relnamespace
      left join pg_description d on d.classoid = 'pg_class'::regclass and d.objoid = v.oid and d.objsubid = 0
     where n.nspname = ${schema} and v.relkind in ('v', 'm')`.execute(db);
  return rows;
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The rows as ViewIR, by name; `indexes` holds the materialized views' indexes by view name. */
export function assembleViews(rows: readonly ViewRow[], indexes: ReadonlyMap<string, IndexIR[]>): ViewIR[] {
  return rows
    .map((r): ViewIR => {
      const option = (key: string) =>
        (r.options ?? []).find((o) => o.startsWith(`${key}=`))?.slice(key.length + 1) ?? null;
      const on = (key: string) => ['true', 'on', 'yes', '1'].includes((option(key) ?? '').toLowerCase());
      const check = option('check_option');
      const deps = new Map<string, Set<string>>();
      for (const [relation, column] of r.depends ?? []) {
        if (relation === r.name) continue;
        const cols = deps.get(relation) ?? new Set<string>();
        if (column !== null) cols.add(column);
        deps.set(relation, cols);
      }
      return {
        name: r.name,
        materialized: r.materialized,
        definition: (r.definition ?? '').trim().replace(/;$/, '').trimEnd(),
        columns: (r.columns ?? []).map(([name, type]) => ({ name, type })),
        securityInvoker: on('security_invoker'),
        securityBarrier: on('security_barrier'),
        checkOption: check === 'local' || check === 'cascaded' ? check : null,
        withData: r.materialized ? r.populated : true,
        indexes: [...(indexes.get(r.name) ?? [])].sort(byName),
        comment: r.comment,
        ...columnCommentsIR(r.column_comments ?? undefined),
        dependsOn: [...deps].map(([name, cols]) => ({ name, columns: [...cols].sort() })).sort(byName),
      };
    })
    .sort(byName);
}
