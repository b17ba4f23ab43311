import {
  ColumnNode,
  ColumnUpdateNode,
  type InsertQueryNode,
  type KyselyPlugin,
  type OperationNode,
  OperationNodeTransformer,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  sql,
  type UnknownRow,
  type UpdateQueryNode,
} from 'kysely';
import type { Schema } from '../schema/schema.js';

const NOW = sql`now()`.toOperationNode();

/**
 * Sets `$onUpdateNow()` columns (the `updated_at` of `timestamps()`) to
 * `now()` in every UPDATE and every `ON CONFLICT DO UPDATE` that goes through
 * Ferry's Kysely instance, unless the query sets the column itself. Doing it
 * in the query rather than in repository code means raw Kysely updates get it
 * too, and doing it in Ferry rather than in a trigger keeps the schema plain.
 */
export class TimestampsPlugin implements KyselyPlugin {
  readonly #transformer: Transformer;

  constructor(schema: Schema) {
    const columns = new Map<string, string[]>();
    for (const t of schema.tables) {
      const names = Object.values(t.columns)
        .filter((c) => c.def.onUpdateNow)
        .map((c) => c.name);
      if (names.length > 0) columns.set(t.name, names);
    }
    this.#transformer = new Transformer(columns);
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

class Transformer extends OperationNodeTransformer {
  readonly #columns: Map<string, string[]>;

  constructor(columns: Map<string, string[]>) {
    super();
    this.#columns = columns;
  }

  protected override transformUpdateQuery(node: UpdateQueryNode): UpdateQueryNode {
    const out = super.transformUpdateQuery(node);
    const columns = this.#columns.get(tableName(out.table) ?? '');
    if (!columns || !out.updates) return out;
    return { ...out, updates: withNow(out.updates, columns) };
  }

  protected override transformInsertQuery(node: InsertQueryNode): InsertQueryNode {
    const out = super.transformInsertQuery(node);
    const columns = this.#columns.get(tableName(out.into) ?? '');
    if (!columns || !out.onConflict?.updates) return out;
    return { ...out, onConflict: { ...out.onConflict, updates: withNow(out.onConflict.updates, columns) } };
  }
}

function withNow(updates: readonly ColumnUpdateNode[], columns: string[]): ColumnUpdateNode[] {
  const set = new Set(updates.map((u) => (ColumnNode.is(u.column) ? u.column.column.name : '')));
  const added = columns.filter((c) => !set.has(c)).map((c) => ColumnUpdateNode.create(ColumnNode.create(c), NOW));
  return [...updates, ...added];
}

function tableName(node: OperationNode | undefined): string | undefined {
  if (!node) return undefined;
  if (node.kind === 'TableNode') return (node as any).table.identifier.name;
  if (node.kind === 'AliasNode') return tableName((node as any).node);
  return undefined;
}
