/**
 * Changes to views and materialized views, ordered by what they read
 * (`ViewIR.dependsOn`, from `pg_depend`).
 *
 * `before` runs first in a migration, ahead of renames and table changes:
 * it drops the views that go away, the views that must be rebuilt (their new
 * definition cannot replace the old one in place, or a table or column they
 * read is renamed, dropped or changes type, which Postgres refuses or
 * reprints under a view, or a function it calls is dropped and created
 * again) and, transitively, every view reading one of those.
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
import {
  commentOnView,
  commentOnViewColumn,
  dropView,
  identifiersIn,
  replaceView,
  sortViews,
} from '../../schema/view.js';
import { renameEnumLabels } from '../expressions.js';
import { byName, type Change, change, hasSame } from './change.js';
import { createIndexChange } from './constraints.js';
import { recreatedFunctionNames } from './functions.js';

/** Per relation of the old schema: the columns that change under a view (renamed, dropped, retyped), or all of it. */
type Affected = Map<string, Set<string> | 'all'>;

export interface ViewChanges {
  before: Change[];
  after: Change[];
  /** Views `before` drops (going away, or to be created again): their triggers go with them. */
  dropped: ReadonlySet<string>;
}

/**
 * `from` is the old schema as it is (views never rename), `renamed` the same
 * after the table and column renames of applyRenames (same order), `to` the
 * target.
 */
export function diffViews(from: SchemaIR, renamed: SchemaIR, to: SchemaIR): ViewChanges {
  const oldViews = relabel(from, renamed);
  const newViews = to.views ?? [];
  if (oldViews.length === 0 && newViews.length === 0) return { before: [], after: [], dropped: new Set() };
  const toByName = byName(newViews);
  const affected = affectedRelations(from, renamed, to);

  const recreated = recreatedEnums(renamed, to);
  const recreatedFunctions = recreatedFunctionNames(renamed.functions ?? [], to.functions ?? []);
  const rebuilt = withDependents(
    oldViews,
    oldViews
      .filter((old) => {
        const next = toByName.get(old.name);
        return (
          !next ||
          readsAffected(old, affected) ||
          [...recreated].some((e) => readsEnum(old, e, from)) ||
          callsAny(old, recreatedFunctions) ||
          needsRebuild(old, next, newViews)
        );
      })
      .map((v) => v.name),
  );

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
    const was = old.columnComments ?? {};
    const now = v.columnComments ?? {};
    for (const c of new Set([...Object.keys(was), ...Object.keys(now)])) {
      if (was[c] === now[c]) continue;
      after.push(
        change(
          'main',
          `comment on ${v.name}.${c}`,
          [commentOnViewColumn(v.name, c, now[c] ?? null)],
          [commentOnViewColumn(v.name, c, was[c] ?? null)],
        ),
      );
    }
  }
  return { before, after, dropped: rebuilt };
}

/**
 * The old views with enum labels renamed (`RENAME VALUE`) as Postgres will
 * print them afterwards: it keeps the label's OID, so the view itself does
 * not change, and must not be replaced (its undo would name a label the
 * expand migration's undo has not restored yet).
 */
function relabel(from: SchemaIR, renamed: SchemaIR): ViewIR[] {
  const views = from.views ?? [];
  const maps: [string, Map<string, string>][] = [];
  from.enums.forEach((e, i) => {
    const now = renamed.enums[i];
    if (!now || now.name !== e.name) return;
    const labels = new Map(e.values.flatMap((v, j) => (now.values[j] !== v ? [[v, now.values[j]!] as const] : [])));
    if (labels.size > 0) maps.push([e.name, labels]);
  });
  if (maps.length === 0) return views;
  return views.map((v) => {
    let definition = v.definition;
    for (const [name, labels] of maps) definition = renameEnumLabels(definition, name, labels);
    return definition === v.definition ? v : { ...v, definition };
  });
}

/** `names` and every view reading one of them, directly or not: what must be dropped with them. */
function withDependents(views: readonly ViewIR[], names: Iterable<string>): Set<string> {
  const out = new Set(names);
  for (let grew = true; grew; ) {
    grew = false;
    for (const v of views) {
      if (!out.has(v.name) && v.dependsOn.some((d) => out.has(d.name))) {
        out.add(v.name);
        grew = true;
      }
    }
  }
  return out;
}

/**
 * Whether `v` names one of the functions `names`, by its text (`dependsOn`
 * holds relations only; a name that is not a call costs no more than a view
 * rebuilt needlessly).
 */
function callsAny(v: ViewIR, names: ReadonlySet<string>): boolean {
  if (names.size === 0) return false;
  const words = identifiersIn(v.definition);
  return [...names].some((n) => words.has(n));
}

/** Enums whose values are removed or reordered: the type is rebuilt (diff/enums.ts), its columns converted. */
function recreatedEnums(renamed: SchemaIR, to: SchemaIR): Set<string> {
  return new Set(
    renamed.enums
      .filter((e) => {
        const next = to.enums.find((n) => n.name === e.name);
        return next !== undefined && !isSubsequence(e.values, next.values);
      })
      .map((e) => e.name),
  );
}

/**
 * Whether rebuilding enum `name` touches `v`: it reads a column of that type
 * (which is converted) or names the type (`'x'::name`, which would keep the
 * renamed old type alive).
 */
function readsEnum(v: ViewIR, name: string, from: SchemaIR): boolean {
  if (identifiersIn(v.definition).has(name)) return true;
  return v.dependsOn.some((d) => {
    const t = from.tables.find((x) => x.name === d.name);
    return t?.columns.some((c) => (d.columns.length === 0 || d.columns.includes(c.name)) && unquote(c.type) === name);
  });
}

/**
 * `changes` (of enum `name`) with the views the down's type rebuild touches
 * dropped before it and recreated after: added values are undone by
 * rebuilding the type (diff/enums.ts), in the expand migration's down, which
 * runs after the main migration's down has put the old views back.
 */
export function withViewsAroundEnumDown(changes: Change[], name: string, from: SchemaIR, renamed: SchemaIR): Change[] {
  const views = relabel(from, renamed);
  if (views.length === 0) return changes;
  const touched = withDependents(
    views,
    views.filter((v) => readsEnum(v, name, from)).map((v) => v.name),
  );
  if (touched.size === 0) return changes;
  const ordered = sortViews(views.filter((v) => touched.has(v.name)));
  return changes.map((c) =>
    c.phase !== 'expand' || c.down.length === 0
      ? c
      : {
          ...c,
          down: [
            ...[...ordered].reverse().map((v) => dropView(v)),
            ...c.down,
            ...ordered.flatMap((v) => createViewStatements(v)),
          ],
        },
  );
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
      const retyped = target !== undefined && target.type !== now.type;
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
