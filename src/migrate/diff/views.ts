/**
 * Changes to views and materialized views, ordered by what they read
 * (`ViewIR.dependsOn`, from `pg_depend`).
 *
 * `before` runs first in a migration, ahead of renames and table changes:
 * it drops the views that go away, the views that must be rebuilt (their new
 * definition cannot replace the old one in place, or a table or column they
 * read is renamed, dropped or changes type, which Postgres refuses or
 * reprints under a view) and, transitively, every view reading one of those.
 * Dependents are dropped first; each drop's undo recreates the previous
 * definition exactly, with its indexes and comment, so the down migration
 * (undone last-first) rebuilds them in dependency order after the table
 * changes are undone.
 *
 * `after` runs once the tables are in their new shape: new and rebuilt views
 * are created, each after the views it reads, and a plain view whose output
 * columns stay the same (names and types) is changed in place with `CREATE OR
 * REPLACE VIEW`, as is one that only appends columns when nothing reads it
 * (its undo must then drop and recreate it, which a dependent would block).
 * Materialized views cannot be replaced: any change but their indexes and
 * comment rebuilds them (and refills them, `WITH DATA` unless declared
 * otherwise).
 */
import { createIndex, createViewStatements } from '../../schema/ddl.js';
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { SchemaIR, TableIR, ViewIR } from '../../schema/ir.js';
import { commentOnView, dropView, replaceView, sortViews } from '../../schema/view.js';
import { byName, type Change, change, hasSame } from './change.js';
import { createIndexChange } from './constraints.js';

/** Per relation of the old schema: the columns that change under a view (renamed, dropped, retyped), or all of it. */
type Affected = Map<string, Set<string> | 'all'>;

export interface ViewChanges {
  before: Change[];
  after: Change[];
}

/**
 * `from` is the old schema as it is (views never rename), `renamed` the same
 * after the table and column renames of applyRenames (same order), `to` the
 * target.
 */
export function diffViews(from: SchemaIR, renamed: SchemaIR, to: SchemaIR): ViewChanges {
  const oldViews = from.views ?? [];
  const newViews = to.views ?? [];
  if (oldViews.length === 0 && newViews.length === 0) return { before: [], after: [] };
  const toByName = byName(newViews);
  const affected = affectedRelations(from, renamed, to);

  const rebuilt = new Set<string>();
  for (const old of oldViews) {
    const next = toByName.get(old.name);
    if (!next || readsAffected(old, affected) || needsRebuild(old, next, newViews)) rebuilt.add(old.name);
  }
  // Whatever reads a view that is dropped must go first, and come back after.
  for (let grew = true; grew; ) {
    grew = false;
    for (const v of oldViews) {
      if (!rebuilt.has(v.name) && v.dependsOn.some((d) => rebuilt.has(d.name))) {
        rebuilt.add(v.name);
        grew = true;
      }
    }
  }

  const before = sortViews(oldViews.filter((v) => rebuilt.has(v.name)))
    .reverse()
    .map((v) => change('main', `drop ${kind(v)} ${v.name}`, [dropView(v)], createViewStatements(v)));

  const oldByName = byName(oldViews);
  const after: Change[] = [];
  for (const v of sortViews(newViews)) {
    const old = oldByName.get(v.name);
    if (!old || rebuilt.has(v.name)) {
      after.push(change('main', `create ${kind(v)} ${v.name}`, createViewStatements(v), [dropView(v)]));
      continue;
    }
    if (!sameQuery(old, v)) after.push(replaceChange(old, v));
    for (const ix of old.indexes) {
      if (!hasSame(v.indexes, ix)) {
        after.push(change('main', `drop index ${ix.name}`, [`DROP INDEX ${q(ix.name)}`], [createIndex(v.name, ix)]));
      }
    }
    for (const ix of v.indexes) if (!hasSame(old.indexes, ix)) after.push(createIndexChange(v.name, ix, true));
    if (old.comment !== v.comment) {
      after.push(
        change('main', `comment on ${v.name}`, [commentOnView(v, v.comment)], [commentOnView(old, old.comment)]),
      );
    }
  }
  return { before, after };
}

const kind = (v: ViewIR) => (v.materialized ? 'materialized view' : 'view');

/** Definition and options (not indexes, comment, dependencies, nor whether a materialized view is populated). */
function sameQuery(a: ViewIR, b: ViewIR): boolean {
  const key = (v: ViewIR) =>
    JSON.stringify([v.materialized, v.definition, v.columns, v.securityInvoker, v.securityBarrier, v.checkOption]);
  return key(a) === key(b);
}

const sameColumns = (a: ViewIR['columns'], b: ViewIR['columns']) => JSON.stringify(a) === JSON.stringify(b);

/** Whether `old` cannot become `next` in place (see the header). */
function needsRebuild(old: ViewIR, next: ViewIR, newViews: readonly ViewIR[]): boolean {
  if (sameQuery(old, next)) return false;
  if (old.materialized || next.materialized) return true;
  // Unknown columns (a DSL's IR not normalised): no in-place change can be proven safe.
  if (old.columns.length === 0 || next.columns.length === 0) return true;
  if (sameColumns(old.columns, next.columns)) return false;
  const appended = sameColumns(old.columns, next.columns.slice(0, old.columns.length));
  const read = newViews.some((v) => v.dependsOn.some((d) => d.name === old.name));
  return !appended || read;
}

function replaceChange(old: ViewIR, next: ViewIR): Change {
  // Columns appended: Postgres will not drop them again in place.
  const down = sameColumns(old.columns, next.columns)
    ? [replaceView(old)]
    : [dropView(next), ...createViewStatements(old)];
  return change('main', `replace view ${next.name}`, [replaceView(next)], down);
}

function readsAffected(v: ViewIR, affected: Affected): boolean {
  return v.dependsOn.some((d) => {
    const hit = affected.get(d.name);
    if (hit === undefined) return false;
    // No columns known (a DSL's guess, or `count(*)`): any change to the relation counts.
    return hit === 'all' || d.columns.length === 0 || d.columns.some((c) => hit.has(c));
  });
}

/** The old relations (by old name) that change under the views: see `Affected`. */
function affectedRelations(from: SchemaIR, renamed: SchemaIR, to: SchemaIR): Affected {
  const out: Affected = new Map();
  const toTables = byName(to.tables);
  const recreatedEnums = new Set(
    renamed.enums
      .filter((e) => {
        const next = to.enums.find((n) => n.name === e.name);
        return next !== undefined && !isSubsequence(e.values, next.values);
      })
      .map((e) => e.name),
  );
  from.tables.forEach((oldTable: TableIR, i) => {
    const table = renamed.tables[i] ?? oldTable;
    const next = toTables.get(table.name);
    if (!next || table.name !== oldTable.name) {
      out.set(oldTable.name, 'all');
      return;
    }
    const columns = new Set<string>();
    oldTable.columns.forEach((c, j) => {
      const now = table.columns[j]!;
      const target = next.columns.find((n) => n.name === now.name);
      const retyped = target !== undefined && (target.type !== now.type || recreatedEnums.has(unquote(now.type)));
      if (now.name !== c.name || !target || retyped) columns.add(c.name);
    });
    if (columns.size > 0) out.set(oldTable.name, columns);
  });
  return out;
}

function isSubsequence(a: readonly string[], b: readonly string[]): boolean {
  let i = 0;
  for (const x of b) if (i < a.length && a[i] === x) i++;
  return i === a.length;
}

function unquote(type: string): string {
  const base = type.replace(/\[\]$/, '');
  return base.startsWith('"') ? base.slice(1, -1).replaceAll('""', '"') : base;
}
