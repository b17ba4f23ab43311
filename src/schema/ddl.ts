import { distributeStatements } from './citus.js';
import { schemaObjectComments, tableObjectComments } from './comments.js';
import { createExtension } from './extension.js';
import { createFunctionStatements, functionsByPlace } from './function.js';
import { quoteIdent } from './identifiers.js';
import type {
  ColumnIR,
  ColumnSequenceIR,
  ForeignKeyIR,
  IndexIR,
  SchemaIR,
  SequenceType,
  TableIR,
  ViewIR,
} from './ir.js';
import { createPartition, partitionBySql } from './partition.js';
import { createPolicy } from './policy.js';
import { createSequence, ownSequence, sequenceOptionsSql } from './sequence.js';
import { literal } from './sql.js';
import { afterCreateTable, withClause } from './table-options.js';
import { createTriggerStatements } from './trigger.js';
import { commentOnView, commentOnViewColumn, createView, sortViews } from './view.js';

const q = quoteIdent;
const list = (names: readonly string[]) => names.map(q).join(', ');

/**
 * The DDL that creates `schema` from nothing, as separate statements in an
 * order that always applies: extensions (their types and operator classes
 * may be used by anything after), enums, sequences (column defaults may call
 * `nextval()` on them), tables (with keys and checks inline), sequence
 * ownership (`OWNED BY`, once the table exists), indexes, then foreign keys (after the indexes, because a foreign key may
 * reference columns made unique only by a unique index; and after all
 * tables, so tables may reference each other in any order; Citus
 * distributions, guarded, come between the two), then comments,
 * then views (each after the views it reads) with their indexes and comments.
 * Functions come before the tables (a CHECK or default may call them) unless
 * their signature names a table's row type (then right after the tables);
 * triggers come after the views (an INSTEAD OF trigger is on one). `raw()`
 * SQL runs before the functions, or with `last` at the very end.
 * Runs unchanged on Postgres 15+ and PGlite.
 */
export function createStatements(schema: SchemaIR): string[] {
  const out: string[] = [];
  const fns = functionsByPlace(schema.functions ?? [], new Set(schema.tables.map((t) => t.name)));
  // As pg_dump does: a function body may name what is created after it.
  if ((schema.functions ?? []).length > 0) out.push('SET check_function_bodies = false');
  for (const x of schema.extensions ?? []) out.push(createExtension(x));
  for (const e of schema.enums) out.push(`CREATE TYPE ${q(e.name)} AS ENUM (${e.values.map(literal).join(', ')})`);
  for (const s of schema.sequences ?? []) out.push(createSequence(s));
  for (const r of schema.raw ?? []) if (!r.last) out.push(r.up);
  for (const f of fns.beforeTables) out.push(...createFunctionStatements(f));
  for (const t of schema.tables) {
    out.push(createTable(t), ...columnSequenceStatements(t.name, t.columns), ...afterCreateTable(t));
  }
  for (const f of fns.afterTables) out.push(...createFunctionStatements(f));
  // Partitions after their parents (sorted so); an index created on a parent later cascades to them.
  for (const p of schema.partitions ?? []) out.push(createPartition(p));
  for (const s of schema.sequences ?? []) if (s.ownedBy !== null) out.push(ownSequence(s.name, s.ownedBy));
  for (const t of schema.tables) for (const ix of t.indexes) out.push(createIndex(t.name, ix));
  // Citus: once keys and indexes exist, before the foreign keys that need both ends distributed.
  out.push(...distributeStatements(schema.tables));
  for (const t of schema.tables) for (const fk of t.foreignKeys) out.push(addForeignKey(t.name, fk));
  // Policies last: their expressions may name any table or column.
  for (const t of schema.tables) for (const p of t.policies ?? []) out.push(createPolicy(t.name, p));
  for (const t of schema.tables) out.push(...comments(t));
  for (const v of sortViews(schema.views ?? [])) out.push(...createViewStatements(v));
  out.push(...schemaObjectComments(schema));
  for (const t of schema.triggers ?? []) out.push(...createTriggerStatements(t));
  for (const r of schema.raw ?? []) if (r.last) out.push(r.up);
  return out;
}

/** A view with its indexes (materialized views) and comment. */
export function createViewStatements(v: ViewIR): string[] {
  return [
    createView(v),
    ...v.indexes.map((ix) => createIndex(v.name, ix)),
    ...(v.comment !== null ? [commentOnView(v, v.comment)] : []),
    ...Object.entries(v.columnComments ?? {}).map(([c, text]) => commentOnViewColumn(v.name, c, text)),
  ];
}

/** `createStatements` as one script, each statement terminated by `;`. */
export function renderCreateSql(schema: SchemaIR): string {
  return createStatements(schema)
    .map((s) => `${s};\n`)
    .join('\n');
}

export function createTable(t: TableIR): string {
  const lines = t.columns.map((c) => `  ${columnDefinition(c)}`);
  if (t.primaryKey) {
    lines.push(
      `  CONSTRAINT ${q(t.primaryKey.name)} PRIMARY KEY (${list(t.primaryKey.columns)})${deferrableSql(t.primaryKey)}`,
    );
  }
  for (const u of t.uniques) {
    lines.push(
      `  CONSTRAINT ${q(u.name)} UNIQUE${u.nullsNotDistinct ? ' NULLS NOT DISTINCT' : ''} (${list(u.columns)})${deferrableSql(u)}`,
    );
  }
  // NOT VALID checks follow the table (afterCreateTable): inside CREATE TABLE they come out validated.
  for (const c of t.checks) if (!c.notValid) lines.push(`  CONSTRAINT ${q(c.name)} CHECK (${c.expression})`);
  const partitionBy = t.partitionBy ? ` ${partitionBySql(t.partitionBy)}` : '';
  return `CREATE ${t.unlogged ? 'UNLOGGED ' : ''}TABLE ${q(t.name)} (\n${lines.join(',\n')}\n)${partitionBy}${withClause(t.with)}`;
}

const SERIAL_TYPES: Record<string, string> = { smallint: 'smallserial', integer: 'serial', bigint: 'bigserial' };

export function columnDefinition(c: ColumnIR): string {
  const type = c.serial ? (SERIAL_TYPES[c.type] ?? c.type) : c.type;
  let sql = `${q(c.name)} ${type}`;
  if (c.identity) sql += ` GENERATED ${c.identity === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY`;
  if (c.compression) sql += ` COMPRESSION ${c.compression}`;
  if (c.generated) sql += ` GENERATED ALWAYS AS (${c.generated}) STORED`;
  if (!c.nullable && !c.identity) sql += ' NOT NULL';
  if (c.default !== null && !c.serial && !c.identity) sql += ` DEFAULT ${c.default}`;
  return sql;
}

const NO_OPTIONS: ColumnSequenceIR = {
  start: null,
  increment: null,
  min: null,
  max: null,
  cache: null,
  cycle: false,
};

/**
 * Sets every option of the sequence a serial or identity column owns
 * (`options` absent: the defaults). Its name is Postgres's choice
 * (`pg_get_serial_sequence`), hence the `DO` block.
 */
export function setColumnSequence(
  table: string,
  column: Pick<ColumnIR, 'name' | 'type' | 'sequence'>,
  restart = false,
): string {
  const options = column.sequence ?? NO_OPTIONS;
  const type = options.type ?? (column.type as SequenceType);
  const opts = sequenceOptionsSql(type, options) + (restart ? ' RESTART' : '');
  return (
    `DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s ${opts}', ` +
    `pg_get_serial_sequence(${literal(quoteIdent(table))}, ${literal(column.name)})); END $$`
  );
}

/**
 * The statements that give new serial and identity columns their non-default
 * sequence options; `RESTART`, since `START WITH` alone only records the
 * start and the fresh sequence would still hand out 1 first.
 */
export function columnSequenceStatements(table: string, columns: readonly ColumnIR[]): string[] {
  return columns
    .filter((c) => c.sequence !== undefined && (c.serial || c.identity !== null))
    .flatMap((c) => [
      setColumnSequence(table, c, true),
      ...(c.sequence!.persistence ? [setColumnSequencePersistence(table, c.name, c.sequence!.persistence)] : []),
    ]);
}

/** `ALTER SEQUENCE ... SET LOGGED | UNLOGGED` for a serial's or identity's sequence (see ColumnSequenceIR.persistence). */
export function setColumnSequencePersistence(
  table: string,
  column: string,
  persistence: 'logged' | 'unlogged',
): string {
  return (
    `DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s SET ${persistence.toUpperCase()}', ` +
    `pg_get_serial_sequence(${literal(quoteIdent(table))}, ${literal(column)})); END $$`
  );
}

/** ` DEFERRABLE INITIALLY ...` for a deferrable constraint, else nothing. */
export const deferrableSql = (c: { deferrable?: 'immediate' | 'deferred' }) =>
  c.deferrable ? ` DEFERRABLE INITIALLY ${c.deferrable.toUpperCase()}` : '';

export function addForeignKey(table: string, fk: ForeignKeyIR): string {
  let sql =
    `ALTER TABLE ${q(table)} ADD CONSTRAINT ${q(fk.name)} FOREIGN KEY (${list(fk.columns)}) ` +
    `REFERENCES ${q(fk.references.table)} (${list(fk.references.columns)})`;
  if (fk.onDelete !== 'no action') sql += ` ON DELETE ${fk.onDelete.toUpperCase()}`;
  if (fk.onUpdate !== 'no action') sql += ` ON UPDATE ${fk.onUpdate.toUpperCase()}`;
  sql += deferrableSql(fk);
  if (fk.notValid) sql += ' NOT VALID';
  return sql;
}

export function createIndex(table: string, ix: IndexIR, options: { concurrently?: boolean } = {}): string {
  const keys = ix.keys.map((k) => {
    let key = k.column !== null ? q(k.column) : `(${k.expression})`;
    if (k.opclass) key += ` ${k.opclass}`;
    if (k.order === 'desc') key += ' DESC';
    if (k.nulls) key += ` NULLS ${k.nulls.toUpperCase()}`;
    return key;
  });
  let sql = `CREATE ${ix.unique ? 'UNIQUE ' : ''}INDEX ${options.concurrently ? 'CONCURRENTLY ' : ''}${q(ix.name)} ON ${q(table)}`;
  if (ix.method !== 'btree') sql += ` USING ${ix.method}`;
  sql += ` (${keys.join(', ')})`;
  if (ix.include.length > 0) sql += ` INCLUDE (${list(ix.include)})`;
  if (ix.nullsNotDistinct) sql += ' NULLS NOT DISTINCT';
  sql += withClause(ix.with);
  if (ix.where) sql += ` WHERE ${ix.where}`;
  return sql;
}

function comments(t: TableIR): string[] {
  const out: string[] = [];
  if (t.comment !== null) out.push(`COMMENT ON TABLE ${q(t.name)} IS ${literal(t.comment)}`);
  for (const c of t.columns) {
    if (c.comment !== null) out.push(`COMMENT ON COLUMN ${q(t.name)}.${q(c.name)} IS ${literal(c.comment)}`);
  }
  out.push(...tableObjectComments(t));
  return out;
}
