/**
 * A Kysely plugin that records every statement a repository sends, as the
 * operation tree (before compilation), so tests can tell "refused before any
 * query" from "the server refused it" and list the identifiers a statement uses.
 */
import type {
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';

export class CaptureQueries implements KyselyPlugin {
  readonly statements: RootOperationNode[] = [];

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.statements.push(args.node);
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }

  clear(): void {
    this.statements.length = 0;
  }
}

/**
 * Every identifier (table, column, alias) in a statement, and the raw SQL
 * fragments (`sql\`...\`` pieces) that are not identifiers but could hide one.
 */
export function identifiersOf(node: OperationNode): { identifiers: string[]; raw: string[] } {
  const identifiers: string[] = [];
  const raw: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v);
      return;
    }
    if (typeof value !== 'object' || value === null) return;
    const n = value as { kind?: unknown; name?: unknown; sqlFragments?: unknown };
    // Bound values never become SQL text; their content (JSON objects with `kind` keys...) is data.
    if (n.kind === 'ValueNode' || n.kind === 'PrimitiveValueListNode') return;
    if (n.kind === 'IdentifierNode' && typeof n.name === 'string') identifiers.push(n.name);
    if (n.kind === 'RawNode' && Array.isArray(n.sqlFragments)) raw.push(...(n.sqlFragments as string[]));
    for (const v of Object.values(value)) walk(v);
  };
  walk(node);
  return { identifiers, raw };
}
