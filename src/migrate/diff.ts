import { addForeignKey, columnDefinition, createIndex, createTable } from '../schema/ddl.js';
import { quoteIdent as q } from '../schema/identifiers.js';
import type {
  CheckIR,
  ColumnIR,
  EnumIR,
  ForeignKeyIR,
  IndexIR,
  PrimaryKeyIR,
  SchemaIR,
  TableIR,
  UniqueIR,
} from '../schema/ir.js';
import { literal } from '../schema/sql.js';
import { renameColumnRefs, renameEnumLabels } from './expressions.js';
import { NO_HINTS, type RenameHints } from './hints.js';

/**
 * Where a change runs. Each phase becomes its own migration so that locks
 * stay short and Postgres's transaction rules hold:
 * - `expand`: new enum values, committed before anything uses them;
 * - `main`: ordinary transactional DDL;
 * - `validate`: `VALIDATE CONSTRAINT` (and `SET NOT NULL` backed by a
 *   validated check) in a later transaction, so the full-table scan runs
 *   under SHARE UPDATE EXCLUSIVE rather than the ACCESS EXCLUSIVE lock the
 *   constraint was added with;
 * - `concurrent`: one `CREATE INDEX CONCURRENTLY` per migration, outside any
 *   transaction (Postgres refuses it inside one);
 * - `attach`: unique constraints and primary keys on existing tables,
 *   attached to the index built concurrently before (`ADD CONSTRAINT ...
 *   UNIQUE | PRIMARY KEY USING INDEX`), so the table is never locked for a
 *   whole index build.
 */
export type Phase = 'expand' | 'main' | 'validate' | 'concurrent' | 'attach';
export const PHASES: readonly Phase[] = ['expand', 'main', 'validate', 'concurrent', 'attach'];

export interface Change {
  phase: Phase;
  description: string;
  /** Statements, in order. */
  up: string[];
  /** Statements that undo `up`, in order (changes are undone last-first). */
  down: string[];
  /** Loses data when applied (drops), or when undone (`downDestructive`). */
  destructive: boolean;
  /** Something Ferry could not generate; the user must finish the migration by hand. */
  warning?: string;
}

const alter = (table: string) => `ALTER TABLE ${q(table)}`;
const notNullCheck = (table: string, column: string) => `${table}_${column}_not_null`.slice(0, 63);

/**
 * The changes that turn `from` into `to`, in an order that applies. Both
 * sides should come from introspection (see shadow.ts), so that equal things
 * are spelled equally.
 */
export function diffSchemas(from: SchemaIR, to: SchemaIR, hints: RenameHints = NO_HINTS): Change[] {
  const changes: Change[] = [];
  const { renamed, renames, labelsRenamed } = applyRenames(from, to, hints);
  changes.push(...renames);

  const fromTables = byName(renamed.tables);
  const toTables = byName(to.tables);
  const fromEnums = byName(renamed.enums);

  // Enums: new types first (tables may use them), value changes next.
  for (const e of to.enums) {
    if (!fromEnums.has(e.name)) changes.push(createEnum(e));
  }
  for (const e of to.enums) {
    const old = fromEnums.get(e.name);
    if (old && !sameList(old.values, e.values)) changes.push(...enumValueChanges(old, e, renamed, labelsRenamed));
  }

  // Drop what goes away or changes definition, before anything that may collide with it.
  for (const t of to.tables) {
    const old = fromTables.get(t.name);
    if (!old) continue;
    for (const fk of old.foreignKeys) if (!hasSame(t.foreignKeys, fk)) changes.push(dropForeignKey(old.name, fk));
    for (const ix of old.indexes) if (!hasSame(t.indexes, ix)) changes.push(dropIndex(old.name, ix));
    for (const u of old.uniques) if (!hasSame(t.uniques, u)) changes.push(dropUnique(old.name, u));
    for (const c of old.checks) if (!hasSame(t.checks, c)) changes.push(dropCheck(old.name, c));
    if (old.primaryKey && !samePk(old.primaryKey, t.primaryKey)) changes.push(dropPrimaryKey(old.name, old.primaryKey));
  }
  // Foreign keys pointing at tables about to be dropped go first.
  for (const old of renamed.tables) {
    if (toTables.has(old.name)) continue;
    for (const fk of old.foreignKeys) changes.push(dropForeignKey(old.name, fk));
  }

  // New tables, complete with keys and checks; their FKs and indexes follow.
  const created: TableIR[] = to.tables.filter((t) => !fromTables.has(t.name));
  for (const t of created) changes.push(createTableChange(t));

  // Columns of tables that stay.
  for (const t of to.tables) {
    const old = fromTables.get(t.name);
    if (!old) continue;
    const oldCols = byName(old.columns);
    for (const c of t.columns) {
      const prev = oldCols.get(c.name);
      if (!prev) changes.push(...addColumn(t.name, c));
      else changes.push(...alterColumn(t.name, prev, c));
    }
    for (const c of old.columns) if (!t.columns.some((n) => n.name === c.name)) changes.push(dropColumn(t.name, c));
    if (old.comment !== t.comment) changes.push(commentTable(t.name, old.comment, t.comment));
  }

  // Keys, checks, foreign keys and indexes that are new or changed.
  for (const t of to.tables) {
    const old = fromTables.get(t.name);
    if (!old) continue;
    if (t.primaryKey && !samePk(old.primaryKey, t.primaryKey)) {
      // Built concurrently and attached, unless a foreign key added in this same
      // migration needs it: those are added in the main phase, before the attach.
      const neededByNewFk = to.tables.some((x) =>
        x.foreignKeys.some(
          (fk) =>
            fk.references.table === t.name &&
            sameList(fk.references.columns, t.primaryKey!.columns) &&
            !hasSame(fromTables.get(x.name)?.foreignKeys ?? [], fk),
        ),
      );
      changes.push(
        ...(neededByNewFk ? [addPrimaryKey(t.name, t.primaryKey)] : addPrimaryKeyConcurrently(t.name, t.primaryKey)),
      );
    }
    for (const u of t.uniques) if (!hasSame(old.uniques, u)) changes.push(...addUnique(t.name, u));
    for (const c of t.checks) if (!hasSame(old.checks, c)) changes.push(...addCheck(t.name, c));
  }
  // Indexes first: a foreign key may reference columns made unique only by a unique index.
  for (const t of to.tables) {
    const old = fromTables.get(t.name);
    for (const ix of t.indexes) {
      if (!old) changes.push(createIndexChange(t.name, ix, false));
      else if (!hasSame(old.indexes, ix)) changes.push(createIndexChange(t.name, ix, true));
    }
  }
  for (const t of to.tables) {
    const old = fromTables.get(t.name);
    for (const fk of t.foreignKeys) {
      if (!old || !hasSame(old.foreignKeys, fk)) changes.push(...addForeignKeyChanges(t.name, fk, old !== undefined));
    }
  }

  // Finally what goes away entirely.
  for (const old of renamed.tables) if (!toTables.has(old.name)) changes.push(dropTable(old));
  for (const e of renamed.enums) if (!to.enums.some((n) => n.name === e.name)) changes.push(dropEnum(e));
  return changes;
}

// ------------------------------------------------------------------ renames

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
function applyRenames(
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

  const tables = from.tables.map((t): TableIR => {
    const name = tableName(t.name);
    const target = to.tables.find((x) => x.name === name);
    const colMap = new Map<string, string>();
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
    for (const fk of t.foreignKeys) {
      const colHints = hints.columns.get(fk.references.table);
      if (!colHints) continue;
      const reverse = new Map([...colHints].map(([n, o]) => [o, n]));
      fk.references = { ...fk.references, columns: fk.references.columns.map((c) => reverse.get(c) ?? c) };
    }
  }

  // Same definition, new name: rename rather than drop and recreate.
  for (const t of tables) {
    const target = to.tables.find((x) => x.name === t.name);
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

  return {
    renamed: { enums, tables },
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

// ------------------------------------------------------------------ enums

function createEnum(e: EnumIR): Change {
  return change(
    'main',
    `create enum ${e.name}`,
    [`CREATE TYPE ${q(e.name)} AS ENUM (${e.values.map(literal).join(', ')})`],
    [`DROP TYPE ${q(e.name)}`],
  );
}

function dropEnum(e: EnumIR): Change {
  return {
    ...change(
      'main',
      `drop enum ${e.name}`,
      [`DROP TYPE ${q(e.name)}`],
      [`CREATE TYPE ${q(e.name)} AS ENUM (${e.values.map(literal).join(', ')})`],
    ),
  };
}

/**
 * Added values keep existing rows valid and need no rewrite: `ADD VALUE`
 * (in the `expand` phase, committed before any use). Removing or reordering
 * values rebuilds the type; rows holding a removed value make it fail, which
 * is the point: migrate that data first.
 */
function enumValueChanges(old: EnumIR, next: EnumIR, renamed: SchemaIR, labelsRenamed: SchemaIR): Change[] {
  const kept = next.values.filter((v) => old.values.includes(v));
  if (old.values.length > 0 && sameList(kept, old.values)) {
    // Values are added in order, so each new one can be placed after its predecessor.
    const up = next.values.flatMap((v, i) => {
      if (old.values.includes(v)) return [];
      const position = i > 0 ? `AFTER ${literal(next.values[i - 1])}` : `BEFORE ${literal(kept[0])}`;
      return [`ALTER TYPE ${q(next.name)} ADD VALUE IF NOT EXISTS ${literal(v)} ${position}`];
    });
    // Undone after the main migration is, so the columns are those of the original schema,
    // but with labels renamed in this (expand) migration still renamed.
    const down = rebuildEnum(next, old.values, labelsRenamed);
    return [change('expand', `add values to enum ${next.name}`, up, down)];
  }
  const description = `rebuild enum ${next.name} (${old.values.join(', ')} -> ${next.values.join(', ')})`;
  return [
    {
      ...change('main', description, rebuildEnum(old, next.values, renamed), rebuildEnum(next, old.values, renamed)),
      destructive: true,
    },
  ];
}

/** Statements that swap enum `e` for a new type with `values`, converting every column that uses it. */
function rebuildEnum(e: EnumIR, values: readonly string[], schema: SchemaIR): string[] {
  const tmp = q(`${e.name}__old`);
  const name = q(e.name);
  const out = [
    `ALTER TYPE ${name} RENAME TO ${tmp}`,
    `CREATE TYPE ${name} AS ENUM (${values.map(literal).join(', ')})`,
  ];
  for (const t of schema.tables) {
    for (const c of t.columns) {
      const isArray = c.type === `${name}[]`;
      if (c.type !== name && !isArray) continue;
      if (c.default !== null) out.push(`${alter(t.name)} ALTER COLUMN ${q(c.name)} DROP DEFAULT`);
      const cast = isArray ? `${q(c.name)}::text[]::${name}[]` : `${q(c.name)}::text::${name}`;
      out.push(`${alter(t.name)} ALTER COLUMN ${q(c.name)} TYPE ${c.type} USING ${cast}`);
      // The introspected default names the type (`'free'::tier`), so it now resolves to the new one.
      if (c.default !== null) out.push(`${alter(t.name)} ALTER COLUMN ${q(c.name)} SET DEFAULT ${c.default}`);
    }
  }
  out.push(`DROP TYPE ${tmp}`);
  return out;
}

// ------------------------------------------------------------------ tables and columns

function tableComments(t: TableIR): string[] {
  return [
    ...(t.comment !== null ? [`COMMENT ON TABLE ${q(t.name)} IS ${literal(t.comment)}`] : []),
    ...t.columns
      .filter((c) => c.comment !== null)
      .map((c) => `COMMENT ON COLUMN ${q(t.name)}.${q(c.name)} IS ${literal(c.comment)}`),
  ];
}

function createTableChange(t: TableIR): Change {
  const create = [createTable({ ...t, foreignKeys: [], indexes: [] }), ...tableComments(t)];
  return change('main', `create table ${t.name}`, create, [`DROP TABLE ${q(t.name)}`]);
}

function dropTable(t: TableIR): Change {
  const recreate = [
    createTable({ ...t, foreignKeys: [] }),
    ...t.indexes.map((ix) => createIndex(t.name, ix)),
    ...tableComments(t),
  ];
  return { ...change('main', `drop table ${t.name}`, [`DROP TABLE ${q(t.name)}`], recreate), destructive: true };
}

function addColumn(table: string, c: ColumnIR): Change[] {
  const out = [
    change(
      'main',
      `add column ${table}.${c.name}`,
      [`${alter(table)} ADD COLUMN ${columnDefinition(c)}`],
      [`${alter(table)} DROP COLUMN ${q(c.name)}`],
    ),
  ];
  if (c.comment !== null) out.push(commentColumn(table, c.name, null, c.comment));
  return out;
}

function dropColumn(table: string, c: ColumnIR): Change {
  return {
    ...change(
      'main',
      `drop column ${table}.${c.name}`,
      [`${alter(table)} DROP COLUMN ${q(c.name)}`],
      [`${alter(table)} ADD COLUMN ${columnDefinition(c)}`],
    ),
    destructive: true,
  };
}

function alterColumn(table: string, prev: ColumnIR, next: ColumnIR): Change[] {
  const out: Change[] = [];
  const col = `${alter(table)} ALTER COLUMN ${q(next.name)}`;
  const where = `${table}.${next.name}`;
  if (prev.generated !== next.generated || prev.serial !== next.serial) {
    out.push({
      ...change('main', `change generation of ${where}`, [], []),
      warning: `${where}: changing serial/generated columns is not generated automatically; write this part of the migration by hand.`,
    });
    return out;
  }
  if (prev.identity !== next.identity) {
    const drop = `${col} DROP IDENTITY`;
    const add = (kind: 'always' | 'by default') =>
      `${col} ADD GENERATED ${kind === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`;
    const up = [...(prev.identity ? [drop] : []), ...(next.identity ? [add(next.identity)] : [])];
    const down = [...(next.identity ? [drop] : []), ...(prev.identity ? [add(prev.identity)] : [])];
    out.push(change('main', `change identity of ${where}`, up, down));
  }
  if (prev.type !== next.type) {
    // Defaults are typed; drop and restore around the conversion.
    const up = [
      ...(prev.default !== null ? [`${col} DROP DEFAULT`] : []),
      `${col} TYPE ${next.type} USING ${q(next.name)}::${next.type}`,
    ];
    const down = [
      `${col} TYPE ${prev.type} USING ${q(next.name)}::${prev.type}`,
      ...(prev.default !== null ? [`${col} SET DEFAULT ${prev.default}`] : []),
    ];
    out.push(change('main', `change type of ${where} from ${prev.type} to ${next.type}`, up, down));
    if (next.default !== null)
      out.push(
        change('main', `set default of ${where}`, [`${col} SET DEFAULT ${next.default}`], [`${col} DROP DEFAULT`]),
      );
  } else if (prev.default !== next.default) {
    const set = (d: string | null) => (d === null ? `${col} DROP DEFAULT` : `${col} SET DEFAULT ${d}`);
    out.push(change('main', `change default of ${where}`, [set(next.default)], [set(prev.default)]));
  }
  if (prev.nullable !== next.nullable && !next.identity) {
    if (next.nullable) {
      out.push(change('main', `make ${where} nullable`, [`${col} DROP NOT NULL`], [`${col} SET NOT NULL`]));
    } else {
      // A validated CHECK (col IS NOT NULL) lets SET NOT NULL skip its full-table scan.
      const chk = q(notNullCheck(table, next.name));
      out.push(
        change(
          'main',
          `add NOT NULL check for ${where}`,
          [`${alter(table)} ADD CONSTRAINT ${chk} CHECK (${q(next.name)} IS NOT NULL) NOT VALID`],
          [`${alter(table)} DROP CONSTRAINT ${chk}`],
        ),
        change(
          'validate',
          `make ${where} NOT NULL`,
          [
            `${alter(table)} VALIDATE CONSTRAINT ${chk}`,
            `${col} SET NOT NULL`,
            `${alter(table)} DROP CONSTRAINT ${chk}`,
          ],
          [
            `${col} DROP NOT NULL`,
            `${alter(table)} ADD CONSTRAINT ${chk} CHECK (${q(next.name)} IS NOT NULL) NOT VALID`,
          ],
        ),
      );
    }
  }
  if (prev.comment !== next.comment) out.push(commentColumn(table, next.name, prev.comment, next.comment));
  return out;
}

function commentTable(table: string, prev: string | null, next: string | null): Change {
  const sql = (c: string | null) => `COMMENT ON TABLE ${q(table)} IS ${c === null ? 'NULL' : literal(c)}`;
  return change('main', `comment on ${table}`, [sql(next)], [sql(prev)]);
}

function commentColumn(table: string, column: string, prev: string | null, next: string | null): Change {
  const sql = (c: string | null) => `COMMENT ON COLUMN ${q(table)}.${q(column)} IS ${c === null ? 'NULL' : literal(c)}`;
  return change('main', `comment on ${table}.${column}`, [sql(next)], [sql(prev)]);
}

// ------------------------------------------------------------------ constraints and indexes

function pkSql(table: string, pk: PrimaryKeyIR): string {
  return `${alter(table)} ADD CONSTRAINT ${q(pk.name)} PRIMARY KEY (${pk.columns.map(q).join(', ')})`;
}
function uniqueSql(table: string, u: UniqueIR): string {
  return `${alter(table)} ADD CONSTRAINT ${q(u.name)} UNIQUE${u.nullsNotDistinct ? ' NULLS NOT DISTINCT' : ''} (${u.columns.map(q).join(', ')})`;
}
function checkSql(table: string, c: CheckIR, notValid: boolean): string {
  return `${alter(table)} ADD CONSTRAINT ${q(c.name)} CHECK (${c.expression})${notValid ? ' NOT VALID' : ''}`;
}
const dropConstraintSql = (table: string, name: string) => `${alter(table)} DROP CONSTRAINT ${q(name)}`;

function addPrimaryKey(table: string, pk: PrimaryKeyIR): Change {
  return change('main', `add primary key ${pk.name}`, [pkSql(table, pk)], [dropConstraintSql(table, pk.name)]);
}
/**
 * On an existing table, like a unique constraint: build the unique index
 * concurrently, then `ADD PRIMARY KEY USING INDEX` (which also sets the
 * columns NOT NULL, scanning the table when they are not already).
 */
function addPrimaryKeyConcurrently(table: string, pk: PrimaryKeyIR): Change[] {
  const index = (concurrently: boolean) =>
    `CREATE UNIQUE INDEX ${concurrently ? 'CONCURRENTLY ' : ''}${q(pk.name)} ON ${q(table)} (${pk.columns.map(q).join(', ')})`;
  return [
    change(
      'concurrent',
      `create unique index ${pk.name} concurrently`,
      [index(true)],
      [`DROP INDEX CONCURRENTLY ${q(pk.name)}`],
    ),
    // Dropping the constraint drops its index too; recreate it so the concurrent step's undo finds it.
    change(
      'attach',
      `attach primary key ${pk.name}`,
      [`${alter(table)} ADD CONSTRAINT ${q(pk.name)} PRIMARY KEY USING INDEX ${q(pk.name)}`],
      [dropConstraintSql(table, pk.name), index(false)],
    ),
  ];
}
function dropPrimaryKey(table: string, pk: PrimaryKeyIR): Change {
  return change('main', `drop primary key ${pk.name}`, [dropConstraintSql(table, pk.name)], [pkSql(table, pk)]);
}
/** On an existing table: build the index concurrently, then attach it as the constraint. */
function addUnique(table: string, u: UniqueIR): Change[] {
  const index = (concurrently: boolean) =>
    `CREATE UNIQUE INDEX ${concurrently ? 'CONCURRENTLY ' : ''}${q(u.name)} ON ${q(table)} (${u.columns.map(q).join(', ')})` +
    (u.nullsNotDistinct ? ' NULLS NOT DISTINCT' : '');
  return [
    change(
      'concurrent',
      `create unique index ${u.name} concurrently`,
      [index(true)],
      [`DROP INDEX CONCURRENTLY ${q(u.name)}`],
    ),
    // Dropping the constraint drops its index too; recreate it so the concurrent step's undo finds it.
    change(
      'attach',
      `attach unique constraint ${u.name}`,
      [`${alter(table)} ADD CONSTRAINT ${q(u.name)} UNIQUE USING INDEX ${q(u.name)}`],
      [dropConstraintSql(table, u.name), index(false)],
    ),
  ];
}
function dropUnique(table: string, u: UniqueIR): Change {
  return change('main', `drop unique ${u.name}`, [dropConstraintSql(table, u.name)], [uniqueSql(table, u)]);
}
function addCheck(table: string, c: CheckIR): Change[] {
  return [
    change(
      'main',
      `add check ${c.name} (not yet validated)`,
      [checkSql(table, c, true)],
      [dropConstraintSql(table, c.name)],
    ),
    change('validate', `validate check ${c.name}`, [`${alter(table)} VALIDATE CONSTRAINT ${q(c.name)}`], []),
  ];
}
function dropCheck(table: string, c: CheckIR): Change {
  return change('main', `drop check ${c.name}`, [dropConstraintSql(table, c.name)], [checkSql(table, c, false)]);
}
function dropForeignKey(table: string, fk: ForeignKeyIR): Change {
  return change('main', `drop foreign key ${fk.name}`, [dropConstraintSql(table, fk.name)], [addForeignKey(table, fk)]);
}

/** A new FK on an existing table is added NOT VALID, then validated in a later transaction. */
function addForeignKeyChanges(table: string, fk: ForeignKeyIR, existing: boolean): Change[] {
  const drop = [dropConstraintSql(table, fk.name)];
  if (!existing) return [change('main', `add foreign key ${fk.name}`, [addForeignKey(table, fk)], drop)];
  return [
    change('main', `add foreign key ${fk.name} (not yet validated)`, [`${addForeignKey(table, fk)} NOT VALID`], drop),
    change('validate', `validate foreign key ${fk.name}`, [`${alter(table)} VALIDATE CONSTRAINT ${q(fk.name)}`], []),
  ];
}

/** Indexes on tables that already exist are built CONCURRENTLY, so writes continue meanwhile. */
function createIndexChange(table: string, ix: IndexIR, existing: boolean): Change {
  if (!existing)
    return change('main', `create index ${ix.name}`, [createIndex(table, ix)], [`DROP INDEX ${q(ix.name)}`]);
  return change(
    'concurrent',
    `create index ${ix.name} concurrently`,
    [createIndex(table, ix, { concurrently: true })],
    [`DROP INDEX CONCURRENTLY ${q(ix.name)}`],
  );
}
function dropIndex(table: string, ix: IndexIR): Change {
  return change('main', `drop index ${ix.name}`, [`DROP INDEX ${q(ix.name)}`], [createIndex(table, ix)]);
}

// ------------------------------------------------------------------ helpers

function change(phase: Phase, description: string, up: string[], down: string[]): Change {
  return { phase, description, up, down, destructive: false };
}

function byName<T extends { name: string }>(items: readonly T[]): Map<string, T> {
  return new Map(items.map((i) => [i.name, i]));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function samePk(a: PrimaryKeyIR | null, b: PrimaryKeyIR | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function hasSame<T extends { name: string }>(list: readonly T[], item: T): boolean {
  return list.some((x) => x.name === item.name && JSON.stringify(x) === JSON.stringify(item));
}

function sameIgnoringName<T extends { name: string }>(a: T, b: T): boolean {
  return JSON.stringify({ ...a, name: '' }) === JSON.stringify({ ...b, name: '' });
}
