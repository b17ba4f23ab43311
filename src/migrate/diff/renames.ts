/** Renames (hinted or inferred) applied to the old schema before diffing. See applyRenames. */
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { EnumIR, SchemaIR, TableIR } from '../../schema/ir.js';
import { literal } from '../../schema/sql.js';
import { renameColumnRefs, renameEnumLabels } from '../expressions.js';
import type { RenameHints } from '../hints.js';
import { alter, type Change, change, sameIgnoringName, sameList } from './change.js';

/**
 * Rename tables, columns and enum values the DSL hints at, and constraints or
 * indexes whose definition is unchanged but whose name is not (as happens
 * after renaming a table or column). Returns `from` as it will look after
 * those renames (`renamed`), so the rest of the diff compares like with like,
 * and `from` with only its enum labels renamed (`labelsRenamed`): the state
 * an `expand` migration's down script finds (see enumValueChanges).
 *
 * Postgres keeps expressions (checks, index expressions and predicates,
 * generated columns, defaults) as trees that refer to columns by number and
 * to enum labels by OID, so a rename changes how they print, not what they
 * are. The old state's expressions are rewritten the same way here
 * (expressions.ts), and an untouched check or index stays untouched.
 */
export function applyRenames(
  from: SchemaIR,
  to: SchemaIR,
  hints: RenameHints,
): { renamed: SchemaIR; renames: Change[]; labelsRenamed: SchemaIR } {
  const renames: Change[] = [];
  const fromNames = new Set(from.tables.map((t) => t.name));
  const toNames = new Set(to.tables.map((t) => t.name));
  const tableMap = new Map<string, string>(); // old → new
  for (const [newName, oldName] of hints.tables) {
    if (fromNames.has(oldName) && !fromNames.has(newName) && toNames.has(newName)) {
      tableMap.set(oldName, newName);
      renames.push(
        change(
          'main',
          `rename table ${oldName} to ${newName}`,
          [`${alter(oldName)} RENAME TO ${q(newName)}`],
          [`${alter(newName)} RENAME TO ${q(oldName)}`],
        ),
      );
    }
  }
  const tableName = (n: string) => tableMap.get(n) ?? n;

  // Enum values renamed in place (ALTER TYPE ... RENAME VALUE keeps the data).
  // Their changes go last, after the table renames; in the `expand` phase when
  // values are also added to that enum, since those are placed relative to
  // the new names and run first.
  const labelMaps = new Map<string, Map<string, string>>(); // enum → old label → new label
  const enumRenames: Change[] = [];
  const enums = from.enums.map((e): EnumIR => {
    const valueHints = hints.enumValues.get(e.name);
    const target = to.enums.find((x) => x.name === e.name);
    if (!valueHints || !target) return e;
    const values = [...e.values];
    const labels = new Map<string, string>();
    for (const [newValue, oldValue] of valueHints) {
      const i = values.indexOf(oldValue);
      if (i >= 0 && !values.includes(newValue) && target.values.includes(newValue)) {
        values[i] = newValue;
        labels.set(oldValue, newValue);
      }
    }
    if (labels.size === 0) return e;
    labelMaps.set(e.name, labels);
    const kept = target.values.filter((v) => values.includes(v));
    const adds = values.length > 0 && sameList(kept, values) && !sameList(values, target.values);
    for (const [oldValue, newValue] of labels) {
      enumRenames.push(
        change(
          adds ? 'expand' : 'main',
          `rename value ${oldValue} of enum ${e.name} to ${newValue}`,
          [`ALTER TYPE ${q(e.name)} RENAME VALUE ${literal(oldValue)} TO ${literal(newValue)}`],
          [`ALTER TYPE ${q(e.name)} RENAME VALUE ${literal(newValue)} TO ${literal(oldValue)}`],
        ),
      );
    }
    return { ...e, values };
  });
  const relabel = (expr: string): string => {
    let out = expr;
    for (const [name, labels] of labelMaps) out = renameEnumLabels(out, name, labels);
    return out;
  };
  const relabelTable = (t: TableIR): TableIR =>
    labelMaps.size === 0 ? t : rewriteExpressions(t, relabel, { defaults: true });

  const colMaps = new Map<string, Map<string, string>>(); // new table name → old column → new
  const toByName = new Map(to.tables.map((t) => [t.name, t]));
  const tables = from.tables.map((t): TableIR => {
    const name = tableName(t.name);
    const target = toByName.get(name);
    const colMap = new Map<string, string>();
    colMaps.set(name, colMap);
    for (const [newCol, oldCol] of hints.columns.get(name) ?? []) {
      const hasOld = t.columns.some((c) => c.name === oldCol);
      const hasNew = t.columns.some((c) => c.name === newCol);
      if (target && hasOld && !hasNew && target.columns.some((c) => c.name === newCol)) {
        colMap.set(oldCol, newCol);
        renames.push(
          change(
            'main',
            `rename column ${name}.${oldCol} to ${newCol}`,
            [`${alter(name)} RENAME COLUMN ${q(oldCol)} TO ${q(newCol)}`],
            [`${alter(name)} RENAME COLUMN ${q(newCol)} TO ${q(oldCol)}`],
          ),
        );
      }
    }
    // Nothing renamed (the common case): a shallow copy, which the steps below replace parts of, never mutate.
    if (colMap.size === 0 && tableMap.size === 0) return relabelTable({ ...t });
    const col = (c: string) => colMap.get(c) ?? c;
    const cols = (cs: string[]) => cs.map(col);
    const renamedTable: TableIR = {
      ...t,
      name,
      columns: t.columns.map((c) => ({ ...c, name: col(c.name) })),
      primaryKey: t.primaryKey ? { ...t.primaryKey, columns: cols(t.primaryKey.columns) } : null,
      uniques: t.uniques.map((u) => ({ ...u, columns: cols(u.columns) })),
      foreignKeys: t.foreignKeys.map((fk) => ({
        ...fk,
        columns: cols(fk.columns),
        references: { table: tableName(fk.references.table), columns: fk.references.columns },
      })),
      indexes: t.indexes.map((ix) => ({
        ...ix,
        keys: ix.keys.map((k) => ({ ...k, column: k.column === null ? null : col(k.column) })),
        include: cols(ix.include),
      })),
    };
    const withColumns =
      colMap.size === 0
        ? renamedTable
        : rewriteExpressions(renamedTable, (e) => renameColumnRefs(e, colMap), { defaults: false });
    return relabelTable(withColumns);
  });
  // Referenced columns renamed in the target table.
  for (const t of tables) {
    if (!t.foreignKeys.some((fk) => hints.columns.has(fk.references.table))) continue;
    t.foreignKeys = t.foreignKeys.map((fk) => {
      const colHints = hints.columns.get(fk.references.table);
      if (!colHints) return fk;
      const reverse = new Map([...colHints].map(([n, o]) => [o, n]));
      return {
        ...fk,
        references: { ...fk.references, columns: fk.references.columns.map((c) => reverse.get(c) ?? c) },
      };
    });
  }

  // Same definition, new name: rename rather than drop and recreate.
  for (const t of tables) {
    const target = toByName.get(t.name);
    if (!target) continue;
    const renameObjects = <T extends { name: string }>(olds: T[], news: T[], kind: 'constraint' | 'index'): T[] =>
      olds.map((o) => {
        if (news.some((n) => n.name === o.name)) return o;
        const match = news.find((n) => !olds.some((x) => x.name === n.name) && sameIgnoringName(o, n));
        if (!match) return o;
        const up =
          kind === 'index'
            ? `ALTER INDEX ${q(o.name)} RENAME TO ${q(match.name)}`
            : `${alter(t.name)} RENAME CONSTRAINT ${q(o.name)} TO ${q(match.name)}`;
        const down =
          kind === 'index'
            ? `ALTER INDEX ${q(match.name)} RENAME TO ${q(o.name)}`
            : `${alter(t.name)} RENAME CONSTRAINT ${q(match.name)} TO ${q(o.name)}`;
        renames.push(change('main', `rename ${kind} ${o.name} to ${match.name}`, [up], [down]));
        return { ...o, name: match.name };
      });
    if (t.primaryKey && target.primaryKey) {
      const [pk] = renameObjects([t.primaryKey], [target.primaryKey], 'constraint');
      t.primaryKey = pk!;
    }
    t.uniques = renameObjects(t.uniques, target.uniques, 'constraint');
    t.checks = renameObjects(t.checks, target.checks, 'constraint');
    t.foreignKeys = renameObjects(t.foreignKeys, target.foreignKeys, 'constraint');
    t.indexes = renameObjects(t.indexes, target.indexes, 'index');
  }
  renames.push(...enumRenames);

  // A sequence's owner follows its table and column (Postgres keeps OWNED BY across renames).
  const sequences = from.sequences?.map((sq) => {
    if (sq.ownedBy === null) return sq;
    const table = tableName(sq.ownedBy.table);
    return { ...sq, ownedBy: { table, column: colMaps.get(table)?.get(sq.ownedBy.column) ?? sq.ownedBy.column } };
  });
  // Triggers follow their table (Postgres keeps them across renames); functions are not renamed.
  const triggers = from.triggers?.map((tg) => ({ ...tg, table: tableName(tg.table) }));
  return {
    renamed: {
      ...(sequences ? { sequences } : {}),
      enums,
      tables,
      ...(from.functions ? { functions: from.functions } : {}),
      ...(triggers ? { triggers } : {}),
      // A partition follows its renamed parent (Postgres keeps the link across renames).
      ...(from.partitions ? { partitions: from.partitions.map((p) => ({ ...p, parent: tableName(p.parent) })) } : {}),
    },
    renames,
    labelsRenamed: { enums, tables: from.tables.map(relabelTable) },
  };
}

/**
 * `t` with `rewrite` applied to every expression that can name its columns
 * or enum labels: checks, index expressions and predicates, generated
 * columns, and (with `defaults`) column defaults.
 */
function rewriteExpressions(t: TableIR, rewrite: (expr: string) => string, options: { defaults: boolean }): TableIR {
  return {
    ...t,
    columns: t.columns.map((c) => ({
      ...c,
      default: options.defaults && c.default !== null ? rewrite(c.default) : c.default,
      generated: c.generated !== null ? rewrite(c.generated) : null,
    })),
    checks: t.checks.map((c) => ({ ...c, expression: rewrite(c.expression) })),
    indexes: t.indexes.map((ix) => ({
      ...ix,
      keys: ix.keys.map((k) => (k.expression === null ? k : { ...k, expression: rewrite(k.expression) })),
      where: ix.where === null ? null : rewrite(ix.where),
    })),
  };
}
