/**
 * GET api/schema: the ER diagram and the DDL. From the schema module when
 * one is configured (what the app declares), else from introspection of
 * the database's `public` schema (what is there).
 */
import { introspect } from '../migrate/introspect.js';
import { renderCreateSql } from '../schema/ddl.js';
import type { SchemaIR } from '../schema/ir.js';
import type { SchemaResponse } from './api.js';
import type { StudioContext } from './context.js';
import { erDiagram } from './er-diagram.js';

export async function schemaPage(ctx: StudioContext): Promise<SchemaResponse> {
  const declared = ctx.schema?.toIR();
  const ir: SchemaIR =
    declared && (declared.tables.length > 0 || (declared.views ?? []).length > 0)
      ? declared
      : await introspect(ctx.handle.db);
  return {
    svg: erDiagram(ir),
    ddl: renderCreateSql(ir),
    tables: [
      ...ir.tables.map((t) => ({ name: t.name, kind: t.partitionBy ? ('partitioned' as const) : ('table' as const) })),
      ...(ir.views ?? []).map((v) => ({
        name: v.name,
        kind: v.materialized ? ('materialized-view' as const) : ('view' as const),
      })),
    ],
  };
}
