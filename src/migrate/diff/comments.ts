/**
 * Comments on constraints, indexes, policies, sequences, enums and
 * extensions (tables and columns: diff/tables.ts). A comment that changes on
 * an object that stays is one `COMMENT ON`, whose down puts the previous one
 * back. An object created (or re-created, its definition having changed) in
 * this migration gets its comment here, after everything is created; its
 * undo drops the object, comment and all, so the down has nothing to do
 * (the drop of a re-created object's old self restores the old comment:
 * diff/constraints.ts).
 */
import {
  type CommentTarget,
  commentSql,
  describeTarget,
  schemaCommentTargets,
  tableCommentTargets,
} from '../../schema/comments.js';
import type { SchemaIR, TableIR } from '../../schema/ir.js';
import { type Change, change, definition } from './change.js';

const keyOf = (t: CommentTarget) => `${t.kind}\u0000${'table' in t ? t.table : ''}\u0000${t.name}`;

/**
 * Every commentable object with its comment, and how to get a key for what
 * it is (so a re-created one can be told apart): computed only for the few
 * objects with a comment on either side, since serialising every key and
 * index of a 500-table schema was most of a diff's time.
 */
interface Commentable {
  target: CommentTarget;
  comment: string | undefined;
  body: () => string;
  /**
   * For an index or a unique or primary key: its table. On a table that
   * stays, such an object is built concurrently and attached after `main`
   * (diff/constraints.ts), so its comment waits for the `attach` phase.
   */
  lateOn: () => string | null;
}

/** Names of the tables with a comment on one of their constraints, indexes or policies. */
function commentedTables(s: SchemaIR): string[] {
  const has = (xs: readonly { comment?: string }[] | undefined) => xs?.some((x) => x.comment !== undefined) === true;
  return s.tables
    .filter(
      (t) =>
        t.primaryKey?.comment !== undefined ||
        has(t.uniques) ||
        has(t.foreignKeys) ||
        has(t.checks) ||
        has(t.indexes) ||
        has(t.policies),
    )
    .map((t) => t.name);
}

/**
 * The commentable objects of `s` on the tables named `tables` (those with a
 * comment on either side: the others' objects need nothing) and of the
 * schema itself.
 */
function objects(s: SchemaIR, tables: ReadonlySet<string>): Map<string, Commentable> {
  const out = new Map<string, Commentable>();
  const add = (list: [CommentTarget, string | undefined][], t: TableIR | null) => {
    let bodies: Map<string, unknown> | undefined;
    let late: Set<string> | undefined;
    for (const [target, comment] of list) {
      const key = keyOf(target);
      out.set(key, {
        target,
        comment,
        body: () => {
          bodies ??= t ? bodiesOf(t) : new Map<string, unknown>();
          return JSON.stringify(definition(bodies.get(key) ?? null));
        },
        lateOn: () => {
          if (!t) return null;
          late ??= lateOf(t);
          return late.has(key) ? t.name : null;
        },
      });
    }
  };
  for (const t of s.tables) if (tables.has(t.name)) add(tableCommentTargets(t), t);
  add(schemaCommentTargets(s), null);
  return out;
}

function lateOf(t: TableIR): Set<string> {
  return new Set([
    ...t.indexes.map((ix) => keyOf({ kind: 'index', name: ix.name })),
    ...[...(t.primaryKey ? [t.primaryKey] : []), ...t.uniques].map((c) =>
      keyOf({ kind: 'constraint', table: t.name, name: c.name }),
    ),
  ]);
}

/** The definitions of a table's constraints, indexes and policies, to notice one re-created under the same name. */
function bodiesOf(t: TableIR): Map<string, unknown> {
  const m = new Map<string, unknown>();
  const constraint = (name: string) => keyOf({ kind: 'constraint', table: t.name, name });
  if (t.primaryKey) m.set(constraint(t.primaryKey.name), t.primaryKey);
  for (const c of [...t.uniques, ...t.foreignKeys, ...t.checks]) m.set(constraint(c.name), c);
  for (const ix of t.indexes) m.set(keyOf({ kind: 'index', name: ix.name }), ix);
  for (const p of t.policies ?? []) m.set(keyOf({ kind: 'policy', table: t.name, name: p.name }), p);
  return m;
}

export function commentChanges(from: SchemaIR, to: SchemaIR): Change[] {
  // An index is keyed by its name alone: one moved to another table is re-created there, which the
  // lookup below sees (its old table is looked at too when either has a comment).
  const tables = new Set([...commentedTables(from), ...commentedTables(to)]);
  const before = objects(from, tables);
  const existed = new Set(from.tables.map((t) => t.name));
  const out: Change[] = [];
  for (const [key, next] of objects(to, tables)) {
    const prev = before.get(key);
    if (next.comment === undefined && prev?.comment === undefined) continue;
    const recreated = prev === undefined || prev.body() !== next.body();
    if (recreated) {
      // Sequences, enums and extensions are never re-created in place; a new one starts without a comment.
      if (next.comment !== undefined) {
        const lateOn = next.lateOn();
        const phase = lateOn !== null && existed.has(lateOn) ? 'attach' : 'main';
        out.push(
          change(phase, `comment on ${describeTarget(next.target)}`, [commentSql(next.target, next.comment)], []),
        );
      }
    } else if (prev.comment !== next.comment) {
      out.push(
        change(
          'main',
          `comment on ${describeTarget(next.target)}`,
          [commentSql(next.target, next.comment)],
          [commentSql(next.target, prev.comment)],
        ),
      );
    }
  }
  return out;
}
