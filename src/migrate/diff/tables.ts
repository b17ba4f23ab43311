/** Changes to tables and columns, and their comments. */

import { tableObjectComments } from '../../schema/comments.js';
import {
  columnDefinition,
  columnSequenceStatements,
  createIndex,
  createTable,
  setColumnSequence,
  setColumnSequencePersistence,
} from '../../schema/ddl.js';
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { ColumnIR, TableIR } from '../../schema/ir.js';
import { literal } from '../../schema/sql.js';
import { afterCreateTable, columnStatisticsSql, columnStorageSql } from '../../schema/table-options.js';
import { alter, type Change, change, notNullCheck } from './change.js';

function tableComments(t: TableIR): string[] {
  return [
    ...(t.comment !== null ? [`COMMENT ON TABLE ${q(t.name)} IS ${literal(t.comment)}`] : []),
    ...t.columns
      .filter((c) => c.comment !== null)
      .map((c) => `COMMENT ON COLUMN ${q(t.name)}.${q(c.name)} IS ${literal(c.comment)}`),
  ];
}

export function createTableChange(t: TableIR): Change {
  const create = [
    createTable({ ...t, foreignKeys: [], indexes: [] }),
    ...columnSequenceStatements(t.name, t.columns),
    ...afterCreateTable(t),
    ...tableComments(t),
  ];
  return change('main', `create table ${t.name}`, create, [`DROP TABLE ${q(t.name)}`]);
}

export function dropTable(t: TableIR): Change {
  const recreate = [
    createTable({ ...t, foreignKeys: [] }),
    ...columnSequenceStatements(t.name, t.columns),
    ...afterCreateTable(t),
    ...t.indexes.map((ix) => createIndex(t.name, ix)),
    ...tableComments(t),
    // Foreign keys and policies come back with their own changes (dropped before the table).
    ...tableObjectComments({ ...t, foreignKeys: [], policies: [] }),
  ];
  return { ...change('main', `drop table ${t.name}`, [`DROP TABLE ${q(t.name)}`], recreate), destructive: true };
}

export function addColumn(table: string, c: ColumnIR): Change[] {
  const out = [
    change(
      'main',
      `add column ${table}.${c.name}`,
      [`${alter(table)} ADD COLUMN ${columnDefinition(c)}`, ...columnSequenceStatements(table, [c])],
      [`${alter(table)} DROP COLUMN ${q(c.name)}`],
    ),
  ];
  if (c.comment !== null) out.push(commentColumn(table, c.name, null, c.comment));
  return out;
}

export function dropColumn(table: string, c: ColumnIR): Change {
  return {
    ...change(
      'main',
      `drop column ${table}.${c.name}`,
      [`${alter(table)} DROP COLUMN ${q(c.name)}`],
      [
        `${alter(table)} ADD COLUMN ${columnDefinition(c)}`,
        ...columnSequenceStatements(table, [c]),
        ...(c.storage !== undefined ? [columnStorageSql(table, c.name, c.storage)] : []),
        ...(c.statistics !== undefined ? [columnStatisticsSql(table, c.name, c.statistics)] : []),
      ],
    ),
    destructive: true,
  };
}

/** A column's sequence options without `persistence`; null when all are Postgres's defaults. */
function sequenceOptionsOf(c: ColumnIR): string | null {
  if (c.sequence === undefined) return null;
  const { persistence: _p, ...o } = c.sequence;
  const isDefault =
    o.type === undefined && !o.cycle && [o.start, o.increment, o.min, o.max, o.cache].every((x) => x === null);
  return isDefault ? null : JSON.stringify(o);
}

/** `tableUnlogged`: the table's persistence, which a sequence without its own follows. */
export function alterColumn(table: string, prev: ColumnIR, next: ColumnIR, tableUnlogged = false): Change[] {
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
    const up = [
      ...(prev.identity ? [drop] : []),
      ...(next.identity ? [add(next.identity), ...columnSequenceStatements(table, [next])] : []),
    ];
    const down = [
      ...(next.identity ? [drop] : []),
      ...(prev.identity ? [add(prev.identity), ...columnSequenceStatements(table, [prev])] : []),
    ];
    out.push(change('main', `change identity of ${where}`, up, down));
  } else if (next.serial || next.identity !== null) {
    if (sequenceOptionsOf(prev) !== sequenceOptionsOf(next)) {
      // Every option set both ways, so the down migration restores the previous ones exactly.
      out.push(
        change(
          'main',
          `change sequence options of ${where}`,
          [setColumnSequence(table, next)],
          [setColumnSequence(table, { ...prev, name: next.name })],
        ),
      );
    }
    const own = tableUnlogged ? 'unlogged' : 'logged';
    const [was, is] = [prev.sequence?.persistence ?? own, next.sequence?.persistence ?? own];
    if (was !== is) {
      out.push(
        change(
          'main',
          `make the sequence of ${where} ${is}`,
          [setColumnSequencePersistence(table, next.name, is)],
          [setColumnSequencePersistence(table, next.name, was)],
        ),
      );
    }
  }
  if (prev.type !== next.type) {
    // Defaults are typed; drop and restore around the conversion.
    // ALTER COLUMN TYPE also resets the column's storage to the new type's: a declared one is set again.
    const up = [
      ...(prev.default !== null ? [`${col} DROP DEFAULT`] : []),
      `${col} TYPE ${next.type} USING ${q(next.name)}::${next.type}`,
      ...(next.storage !== undefined ? [columnStorageSql(table, next.name, next.storage)] : []),
    ];
    const down = [
      `${col} TYPE ${prev.type} USING ${q(next.name)}::${prev.type}`,
      ...(prev.default !== null ? [`${col} SET DEFAULT ${prev.default}`] : []),
      ...(prev.storage !== undefined ? [columnStorageSql(table, next.name, prev.storage)] : []),
    ];
    out.push(change('main', `change type of ${where} from ${prev.type} to ${next.type}`, up, down));
    // A serial's sequence keeps its type through ALTER COLUMN TYPE (an identity's follows the column):
    // widened to bigint it would still stop at 2^31 - 1, and differ from the bigserial the schema asks for.
    const sequenceType = (c: ColumnIR) => c.sequence?.type ?? c.type;
    if (prev.serial && next.serial && sequenceType(prev) !== sequenceType(next)) {
      out.push(
        change(
          'main',
          `change the sequence type of ${where} to ${sequenceType(next)}`,
          [setColumnSequence(table, next)],
          [setColumnSequence(table, { ...prev, name: next.name })],
        ),
      );
    }
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

export function commentTable(table: string, prev: string | null, next: string | null): Change {
  const sql = (c: string | null) => `COMMENT ON TABLE ${q(table)} IS ${c === null ? 'NULL' : literal(c)}`;
  return change('main', `comment on ${table}`, [sql(next)], [sql(prev)]);
}

function commentColumn(table: string, column: string, prev: string | null, next: string | null): Change {
  const sql = (c: string | null) => `COMMENT ON COLUMN ${q(table)}.${q(column)} IS ${c === null ? 'NULL' : literal(c)}`;
  return change('main', `comment on ${table}.${column}`, [sql(next)], [sql(prev)]);
}
