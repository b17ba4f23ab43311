/**
 * GET api/tables and api/tables/:table: the catalog's view, with the
 * schema module's knowledge added (which columns are `.sensitive()`, hence
 * masked and left out of search, filters and sorting) and each table's DDL.
 */
import { sql } from 'kysely';
import { introspect } from '../migrate/introspect.js';
import { createStatements } from '../schema/ddl.js';
import type { SchemaIR } from '../schema/ir.js';
import { sensitiveColumns } from '../schema/sensitive.js';
import type { TableResponse, TablesResponse } from './api.js';
import type { CatalogTable } from './catalog.js';
import type { StudioContext } from './context.js';

/** The catalog's table with `sensitive` set from the schema module. */
export async function studioTable(ctx: StudioContext, name: string): Promise<CatalogTable> {
  const table = await ctx.catalog.table(name);
  const schemaTable = ctx.schemaTable(table.schema, table.name.slice(table.name.indexOf('.') + 1));
  const sensitive = schemaTable ? sensitiveColumns(schemaTable) : new Set<string>();
  if (sensitive.size === 0) return table;
  return {
    ...table,
    columns: table.columns.map((c) =>
      sensitive.has(c.name) ? { ...c, sensitive: true, searchable: false, sortable: false } : c,
    ),
  };
}

export async function listTables(ctx: StudioContext): Promise<TablesResponse> {
  return { tables: await ctx.catalog.list() };
}

export async function describeTable(ctx: StudioContext, name: string): Promise<TableResponse> {
  const t = await studioTable(ctx, name);
  return {
    name: t.name,
    schema: t.schema,
    kind: t.kind,
    estimatedRows: t.estimatedRows,
    bytes: t.bytes,
    comment: t.comment,
    columns: t.columns.map(({ castType: _c, generated: _g, sortable: _s, ...c }) => c),
    primaryKey: t.primaryKey,
    foreignKeys: t.foreignKeys,
    referencedBy: t.referencedBy,
    ddl: await tableDdl(ctx, t),
  };
}

/**
 * The table's CREATE statements as `ferry schema sql` would print them, from
 * introspection of its schema (the IR is per schema, unqualified): the table,
 * its sequences, indexes, foreign keys, comments and triggers; a view's
 * definition as Postgres prints it.
 */
async function tableDdl(ctx: StudioContext, t: CatalogTable): Promise<string> {
  const bare = t.schema === 'public' ? t.name : t.name.slice(t.schema.length + 1);
  let ir = await schemaIr(ctx, t.schema);
  const known = (x: SchemaIR) => x.tables.some((y) => y.name === bare) || (x.views ?? []).some((y) => y.name === bare);
  if (!known(ir)) ir = await schemaIr(ctx, t.schema, true); // created since the cached introspection
  const table = ir.tables.find((x) => x.name === bare);
  const view = ir.views?.find((x) => x.name === bare);
  const one: SchemaIR = {
    enums: [],
    tables: table ? [table] : [],
    views: view ? [view] : [],
    triggers: (ir.triggers ?? []).filter((x) => x.table === bare),
    partitions: (ir.partitions ?? []).filter((p) => p.name === bare),
  };
  const statements = createStatements(one);
  if (statements.length > 0) return statements.map((s) => `${s};\n`).join('\n');
  // Not in the IR (a partition child, an object introspection does not model): Postgres's own view of it.
  const { rows } = await sql<{ def: string | null }>`select pg_get_viewdef(${t.oid}::oid, true) as def`.execute(
    ctx.handle.db,
  );
  return rows[0]?.def ? `CREATE VIEW ${t.name} AS\n${rows[0].def}\n` : `-- ${t.name}: no DDL available\n`;
}

const irCache = new WeakMap<StudioContext, Map<string, { at: number; ir: Promise<SchemaIR> }>>();

/** A schema's introspection, kept a few seconds: opening one table after another should not re-read the catalog each time. */
function schemaIr(ctx: StudioContext, schema: string, fresh = false): Promise<SchemaIR> {
  let bySchema = irCache.get(ctx);
  if (!bySchema) {
    bySchema = new Map();
    irCache.set(ctx, bySchema);
  }
  const hit = bySchema.get(schema);
  if (hit && !fresh && performance.now() - hit.at < 5_000) return hit.ir;
  const ir = introspect(ctx.handle.db, { schema, exclude: () => false });
  bySchema.set(schema, { at: performance.now(), ir });
  ir.catch(() => bySchema.delete(schema));
  return ir;
}
