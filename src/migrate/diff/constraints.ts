/** Changes to primary keys, unique and check constraints, foreign keys and indexes. */

import { commentSql } from '../../schema/comments.js';
import { addForeignKey, createIndex, deferrableSql } from '../../schema/ddl.js';
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { CheckIR, ForeignKeyIR, IndexIR, PrimaryKeyIR, UniqueIR } from '../../schema/ir.js';
import { alter, type Change, change } from './change.js';

/** A dropped object's comment, restored after it is re-created by a down migration. */
export const constraintComment = (table: string, c: { name: string; comment?: string }) =>
  c.comment === undefined ? [] : [commentSql({ kind: 'constraint', table, name: c.name }, c.comment)];
export const indexComment = (ix: IndexIR) =>
  ix.comment === undefined ? [] : [commentSql({ kind: 'index', name: ix.name }, ix.comment)];

function pkSql(table: string, pk: PrimaryKeyIR): string {
  return `${alter(table)} ADD CONSTRAINT ${q(pk.name)} PRIMARY KEY (${pk.columns.map(q).join(', ')})${deferrableSql(pk)}`;
}
function uniqueSql(table: string, u: UniqueIR): string {
  return `${alter(table)} ADD CONSTRAINT ${q(u.name)} UNIQUE${u.nullsNotDistinct ? ' NULLS NOT DISTINCT' : ''} (${u.columns.map(q).join(', ')})${deferrableSql(u)}`;
}
function checkSql(table: string, c: CheckIR, notValid: boolean): string {
  return `${alter(table)} ADD CONSTRAINT ${q(c.name)} CHECK (${c.expression})${notValid ? ' NOT VALID' : ''}`;
}
const dropConstraintSql = (table: string, name: string) => `${alter(table)} DROP CONSTRAINT ${q(name)}`;

export function addPrimaryKey(table: string, pk: PrimaryKeyIR): Change {
  return change('main', `add primary key ${pk.name}`, [pkSql(table, pk)], [dropConstraintSql(table, pk.name)]);
}
/**
 * On an existing table, like a unique constraint: build the unique index
 * concurrently, then `ADD PRIMARY KEY USING INDEX` (which also sets the
 * columns NOT NULL, scanning the table when they are not already).
 */
export function addPrimaryKeyConcurrently(table: string, pk: PrimaryKeyIR): Change[] {
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
      [`${alter(table)} ADD CONSTRAINT ${q(pk.name)} PRIMARY KEY USING INDEX ${q(pk.name)}${deferrableSql(pk)}`],
      [dropConstraintSql(table, pk.name), index(false)],
    ),
  ];
}
export function dropPrimaryKey(table: string, pk: PrimaryKeyIR): Change {
  return change(
    'main',
    `drop primary key ${pk.name}`,
    [dropConstraintSql(table, pk.name)],
    [pkSql(table, pk), ...constraintComment(table, pk)],
  );
}
/** On an existing table: build the index concurrently, then attach it as the constraint. */
export function addUnique(table: string, u: UniqueIR): Change[] {
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
      [`${alter(table)} ADD CONSTRAINT ${q(u.name)} UNIQUE USING INDEX ${q(u.name)}${deferrableSql(u)}`],
      [dropConstraintSql(table, u.name), index(false)],
    ),
  ];
}
export function dropUnique(table: string, u: UniqueIR): Change {
  return change(
    'main',
    `drop unique ${u.name}`,
    [dropConstraintSql(table, u.name)],
    [uniqueSql(table, u), ...constraintComment(table, u)],
  );
}
export function addCheck(table: string, c: CheckIR): Change[] {
  // Declared NOT VALID: added so and left so.
  if (c.notValid) {
    return [
      change('main', `add check ${c.name} (NOT VALID)`, [checkSql(table, c, true)], [dropConstraintSql(table, c.name)]),
    ];
  }
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
export function dropCheck(table: string, c: CheckIR): Change {
  return change(
    'main',
    `drop check ${c.name}`,
    [dropConstraintSql(table, c.name)],
    [checkSql(table, c, c.notValid === true), ...constraintComment(table, c)],
  );
}
export function dropForeignKey(table: string, fk: ForeignKeyIR): Change {
  return change(
    'main',
    `drop foreign key ${fk.name}`,
    [dropConstraintSql(table, fk.name)],
    [addForeignKey(table, fk), ...constraintComment(table, fk)],
  );
}

/** A new FK on an existing table is added NOT VALID, then validated in a later transaction. */
export function addForeignKeyChanges(table: string, fk: ForeignKeyIR, existing: boolean): Change[] {
  const drop = [dropConstraintSql(table, fk.name)];
  if (!existing || fk.notValid) return [change('main', `add foreign key ${fk.name}`, [addForeignKey(table, fk)], drop)];
  return [
    change(
      'main',
      `add foreign key ${fk.name} (not yet validated)`,
      [addForeignKey(table, { ...fk, notValid: true })],
      drop,
    ),
    change('validate', `validate foreign key ${fk.name}`, [`${alter(table)} VALIDATE CONSTRAINT ${q(fk.name)}`], []),
  ];
}

/** Indexes on tables that already exist are built CONCURRENTLY, so writes continue meanwhile. */
export function createIndexChange(table: string, ix: IndexIR, existing: boolean): Change {
  if (!existing)
    return change('main', `create index ${ix.name}`, [createIndex(table, ix)], [`DROP INDEX ${q(ix.name)}`]);
  return change(
    'concurrent',
    `create index ${ix.name} concurrently`,
    [createIndex(table, ix, { concurrently: true })],
    [`DROP INDEX CONCURRENTLY ${q(ix.name)}`],
  );
}
export function dropIndex(table: string, ix: IndexIR): Change {
  return change(
    'main',
    `drop index ${ix.name}`,
    [`DROP INDEX ${q(ix.name)}`],
    [createIndex(table, ix), ...indexComment(ix)],
  );
}
