/**
 * Changes to a table's options that are made in place (ALTER TABLE), never
 * by re-creating the table: `SET LOGGED | UNLOGGED` (rewrites the table),
 * storage parameters (`SET (...)` / `RESET (...)`, also on indexes),
 * row-level security (`ENABLE | DISABLE`, `FORCE | NO FORCE`), and column
 * storage and compression. Each down sets exactly what was there before.
 */

import { setColumnSequencePersistence } from '../../schema/ddl.js';
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { ColumnIR, IndexIR, TableIR } from '../../schema/ir.js';
import { literal } from '../../schema/sql.js';
import { alterStorageParameters, columnStatisticsSql, columnStorageSql } from '../../schema/table-options.js';
import { alter, type Change, change, sameDefinition, sameValue } from './change.js';

export function tableOptionChanges(old: TableIR, next: TableIR): Change[] {
  const out: Change[] = [];
  const t = next.name;
  if ((old.unlogged ?? false) !== (next.unlogged ?? false)) {
    const set = (unlogged: boolean) => `${alter(t)} SET ${unlogged ? 'UNLOGGED' : 'LOGGED'}`;
    // The table's serial and identity sequences follow it (PostgreSQL 15+): one with a persistence of its
    // own (ColumnSequenceIR.persistence) gets it back.
    const own = (x: TableIR) =>
      x.columns.flatMap((c) =>
        c.sequence?.persistence ? [setColumnSequencePersistence(t, c.name, c.sequence.persistence)] : [],
      );
    out.push(
      change(
        'main',
        `make ${t} ${next.unlogged ? 'unlogged' : 'logged'} (rewrites the table)`,
        [set(next.unlogged === true), ...own(next)],
        [set(old.unlogged === true), ...own(old)],
      ),
    );
  }
  if (JSON.stringify(old.with ?? {}) !== JSON.stringify(next.with ?? {})) {
    out.push(
      change(
        'main',
        `storage parameters of ${t}`,
        alterStorageParameters(alter(t), old.with, next.with),
        alterStorageParameters(alter(t), next.with, old.with),
      ),
    );
  }
  const rls = (x: TableIR) => x.rowLevelSecurity ?? { enabled: false, force: false };
  const [a, b] = [rls(old), rls(next)];
  if (a.enabled !== b.enabled || a.force !== b.force) {
    const sqlOf = (r: { enabled: boolean; force: boolean }, other: { enabled: boolean; force: boolean }) => [
      ...(r.enabled !== other.enabled ? [`${alter(t)} ${r.enabled ? 'ENABLE' : 'DISABLE'} ROW LEVEL SECURITY`] : []),
      ...(r.force !== other.force ? [`${alter(t)} ${r.force ? 'FORCE' : 'NO FORCE'} ROW LEVEL SECURITY`] : []),
    ];
    out.push(change('main', `row-level security of ${t}`, sqlOf(b, a), sqlOf(a, b)));
  }
  const oldColumns = new Map(old.columns.map((c) => [c.name, c]));
  for (const c of next.columns) {
    const prev = oldColumns.get(c.name);
    out.push(...columnOptionChanges(t, prev, c));
  }
  return out;
}

/**
 * Storage and compression of a column (`prev` absent: a column added in this
 * migration, whose compression its `ADD COLUMN` already set).
 */
function columnOptionChanges(table: string, prev: ColumnIR | undefined, next: ColumnIR): Change[] {
  const out: Change[] = [];
  const where = `${table}.${next.name}`;
  if (prev?.storage !== next.storage) {
    const set = (c: ColumnIR | undefined) =>
      c?.storage !== undefined ? columnStorageSql(table, next.name, c.storage) : typeDefaultStorage(table, next.name);
    // A new column is dropped by its own change's undo; nothing to restore.
    out.push(change('main', `storage of ${where}`, [set(next)], prev ? [set(prev)] : []));
  }
  if (prev?.statistics !== next.statistics) {
    const set = (c: ColumnIR | undefined) => columnStatisticsSql(table, next.name, c?.statistics ?? null);
    out.push(change('main', `statistics target of ${where}`, [set(next)], prev ? [set(prev)] : []));
  }
  if (prev && prev.compression !== next.compression) {
    const set = (c: ColumnIR) =>
      `${alter(table)} ALTER COLUMN ${q(next.name)} SET COMPRESSION ${c.compression ?? 'default'}`;
    out.push(change('main', `compression of ${where}`, [set(next)], [set(prev)]));
  }
  return out;
}

/** Back to the type's own storage (`SET STORAGE DEFAULT` is Postgres 16+): looked up in pg_type. */
function typeDefaultStorage(table: string, column: string): string {
  return (
    `DO $$ BEGIN EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET STORAGE %s', ${literal(table)}, ${literal(column)}, ` +
    `(select case t.typstorage when 'p' then 'PLAIN' when 'e' then 'EXTERNAL' when 'm' then 'MAIN' else 'EXTENDED' end ` +
    `from pg_attribute a join pg_type t on t.oid = a.atttypid ` +
    `where a.attrelid = ${literal(q(table))}::regclass and a.attname = ${literal(column)})); END $$`
  );
}

/** Storage parameters of an index that stays (same definition otherwise): `ALTER INDEX ... SET | RESET`. */
export function indexOptionChanges(old: IndexIR, next: IndexIR): Change[] {
  if (sameValue(old.with ?? {}, next.with ?? {})) return [];
  if (!sameDefinition(old, next)) return [];
  const target = `ALTER INDEX ${q(next.name)}`;
  return [
    change(
      'main',
      `storage parameters of index ${next.name}`,
      alterStorageParameters(target, old.with, next.with),
      alterStorageParameters(target, next.with, old.with),
    ),
  ];
}
