/**
 * `COMMENT ON ...` for the objects beside tables and columns: constraints,
 * indexes, policies, sequences, enums and extensions (tables and columns
 * have theirs in ddl.ts and diff/tables.ts). An IR comment field is present
 * only when set; an extension's is present only when it is not the one its
 * control file sets (`pg_available_extensions.comment`), which `CREATE
 * EXTENSION` puts there by itself.
 */
import { quoteIdent as q } from './identifiers.js';
import type { SchemaIR, TableIR } from './ir.js';
import { literal } from './sql.js';

/** Something a comment is on, as `COMMENT ON` names it. */
export type CommentTarget =
  | { kind: 'constraint' | 'policy'; table: string; name: string }
  | { kind: 'index' | 'sequence' | 'type' | 'extension'; name: string };

export function targetSql(t: CommentTarget): string {
  switch (t.kind) {
    case 'constraint':
      return `CONSTRAINT ${q(t.name)} ON ${q(t.table)}`;
    case 'policy':
      return `POLICY ${q(t.name)} ON ${q(t.table)}`;
    default:
      return `${t.kind.toUpperCase()} ${q(t.name)}`;
  }
}

export function describeTarget(t: CommentTarget): string {
  return 'table' in t ? `${t.kind} ${t.table}.${t.name}` : `${t.kind} ${t.name}`;
}

/** Sets (or, with null, removes) a comment. An extension's removed comment goes back to its control file's. */
export function commentSql(t: CommentTarget, text: string | null | undefined): string {
  if ((text === null || text === undefined) && t.kind === 'extension') {
    return (
      `DO $$ BEGIN EXECUTE format('COMMENT ON EXTENSION %I IS %L', ${literal(t.name)}, ` +
      `(select comment from pg_available_extensions where name = ${literal(t.name)})); END $$`
    );
  }
  return `COMMENT ON ${targetSql(t)} IS ${text === null || text === undefined ? 'NULL' : literal(text)}`;
}

/** Every commentable object of a table beside the table and its columns, with its comment (if any). */
export function tableCommentTargets(t: TableIR): [CommentTarget, string | undefined][] {
  const constraint = (name: string): CommentTarget => ({ kind: 'constraint', table: t.name, name });
  return [
    ...(t.primaryKey
      ? [[constraint(t.primaryKey.name), t.primaryKey.comment] as [CommentTarget, string | undefined]]
      : []),
    ...[...t.uniques, ...t.foreignKeys, ...t.checks].map(
      (c) => [constraint(c.name), c.comment] as [CommentTarget, string | undefined],
    ),
    ...t.indexes.map((ix) => [{ kind: 'index', name: ix.name }, ix.comment] as [CommentTarget, string | undefined]),
    ...(t.policies ?? []).map(
      (p) => [{ kind: 'policy', table: t.name, name: p.name }, p.comment] as [CommentTarget, string | undefined],
    ),
  ];
}

export function schemaCommentTargets(s: SchemaIR): [CommentTarget, string | undefined][] {
  return [
    ...(s.extensions ?? []).map(
      (x) => [{ kind: 'extension', name: x.name }, x.comment] as [CommentTarget, string | undefined],
    ),
    ...(s.sequences ?? []).map(
      (x) => [{ kind: 'sequence', name: x.name }, x.comment] as [CommentTarget, string | undefined],
    ),
    ...s.enums.map((x) => [{ kind: 'type', name: x.name }, x.comment] as [CommentTarget, string | undefined]),
  ];
}

export function tableObjectComments(t: TableIR): string[] {
  return tableCommentTargets(t)
    .filter(([, text]) => text !== undefined)
    .map(([target, text]) => commentSql(target, text));
}

export function schemaObjectComments(s: SchemaIR): string[] {
  return schemaCommentTargets(s)
    .filter(([, text]) => text !== undefined)
    .map(([target, text]) => commentSql(target, text));
}
