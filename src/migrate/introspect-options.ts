/**
 * The parts of introspection for table options, policies and comments on
 * objects beside tables and columns (see introspect.ts, whose queries
 * return these rows): kept apart so introspect.ts stays about the catalog
 * queries themselves.
 */
import type {
  ColumnCompression,
  ColumnIR,
  ColumnStorage,
  EnumIR,
  ExtensionIR,
  PolicyCommand,
  PolicyIR,
  SequenceIR,
  TableIR,
} from '../schema/ir.js';

const STORAGE: Record<string, ColumnStorage> = { p: 'plain', e: 'external', x: 'extended', m: 'main' };
const COMPRESSION: Record<string, ColumnCompression> = { p: 'pglz', l: 'lz4' };
const COMMANDS: Record<string, PolicyCommand> = { '*': 'all', r: 'select', a: 'insert', w: 'update', d: 'delete' };

/** `['fillfactor=90', ...]` as `{ with: { fillfactor: '90' } }`, keys in code-unit order; nothing when none. */
export function reloptionsIR(reloptions: readonly string[] | null | undefined): { with?: Record<string, string> } {
  if (!reloptions || reloptions.length === 0) return {};
  const pairs = reloptions.map((o) => {
    const eq = o.indexOf('=');
    return [o.slice(0, eq), o.slice(eq + 1)] as const;
  });
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { with: Object.fromEntries(pairs) };
}

export function tableOptions(row: {
  persistence: string;
  reloptions: string[] | null;
  rls_enabled: boolean;
  rls_forced: boolean;
}): Pick<TableIR, 'unlogged' | 'with' | 'rowLevelSecurity'> {
  return {
    ...(row.persistence === 'u' ? { unlogged: true as const } : {}),
    ...reloptionsIR(row.reloptions),
    ...(row.rls_enabled || row.rls_forced
      ? { rowLevelSecurity: { enabled: row.rls_enabled, force: row.rls_forced } }
      : {}),
  };
}

export function columnOptions(row: {
  storage: string | null;
  compression: string | null;
  statistics: number | null;
}): Pick<ColumnIR, 'storage' | 'compression' | 'statistics'> {
  const storage = row.storage ? STORAGE[row.storage] : undefined;
  const compression = row.compression ? COMPRESSION[row.compression] : undefined;
  return {
    ...(storage ? { storage } : {}),
    ...(compression ? { compression } : {}),
    ...(row.statistics !== null ? { statistics: row.statistics } : {}),
  };
}

/** A policy from its row of the enums query: `[table, command, permissive, using, with check, ...roles]`. */
export function toPolicy(name: string, values: readonly (string | null)[]): PolicyIR {
  const [, command, permissive, using, withCheck, ...roles] = values;
  return {
    name,
    command: COMMANDS[command ?? '*'] ?? 'all',
    permissive: permissive === 'true',
    roles: roles.map((r) => r ?? '').sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    using: using ?? null,
    withCheck: withCheck ?? null,
  };
}

interface CommentRow {
  kind: string;
  table_name: string | null;
  object_name: string | null;
  description: string;
}

/** Comments on constraints, indexes, policies, sequences, enums and extensions, onto their IR. */
export function attachComments(
  rows: readonly CommentRow[],
  tables: Map<string, TableIR>,
  schema: { extensions: ExtensionIR[]; sequences: SequenceIR[]; enums: EnumIR[] },
): void {
  for (const row of rows) {
    const name = row.object_name ?? '';
    const table = row.table_name === null ? undefined : tables.get(row.table_name);
    let target: { comment?: string } | null | undefined;
    switch (row.kind) {
      case 'constraint':
        target =
          table?.primaryKey?.name === name
            ? table.primaryKey
            : [...(table?.uniques ?? []), ...(table?.foreignKeys ?? []), ...(table?.checks ?? [])].find(
                (c) => c.name === name,
              );
        break;
      case 'index':
        target = table?.indexes.find((i) => i.name === name);
        break;
      case 'policy':
        target = table?.policies?.find((p) => p.name === name);
        break;
      case 'sequence':
        target = schema.sequences.find((s) => s.name === name);
        break;
      case 'type':
        target = schema.enums.find((e) => e.name === name);
        break;
      case 'extension':
        target = schema.extensions.find((e) => e.name === name);
        break;
    }
    if (target) target.comment = row.description;
  }
}
