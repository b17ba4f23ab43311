/**
 * Changes to declarative partitioning. New partitions are created after
 * their parent (`CREATE TABLE … PARTITION OF … FOR VALUES …`, parents
 * first); a partition that goes away is detached and dropped (destructive,
 * like `DROP TABLE`, which the lint rules see); one whose bound or parent
 * changes is detached and attached again with its rows kept (the attach
 * checks that every row fits the new bound). A table's own partitioning
 * cannot be altered in place: that is a warning to finish by hand.
 *
 * Partitioned tables cannot take `CREATE INDEX CONCURRENTLY`, `ADD
 * CONSTRAINT … USING INDEX` nor `NOT VALID` foreign keys. A new index on
 * one that exists follows Postgres's documented online recipe
 * (`partitionedIndexChanges`), a new foreign key is added `NOT VALID` and
 * validated on each leaf partition before the parent's constraint adopts
 * those (`partitionedForeignKeyChanges`); new primary keys and unique
 * constraints are added directly (`directly` below), Postgres building them
 * partition by partition.
 */

import { addForeignKey, createIndex, deferrableSql } from '../../schema/ddl.js';
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { ForeignKeyIR, IndexIR, PartitionByIR, PartitionIR, TableIR, UniqueIR } from '../../schema/ir.js';
import { createPartition, partitionBySql } from '../../schema/partition.js';
import { alter, type Change, change } from './change.js';

const detach = (p: Pick<PartitionIR, 'name' | 'parent'>) => `${alter(p.parent)} DETACH PARTITION ${q(p.name)}`;
const attach = (p: PartitionIR) => `${alter(p.parent)} ATTACH PARTITION ${q(p.name)} ${p.bound}`;
const by = (p: PartitionByIR | undefined | null) => (p ? partitionBySql(p) : 'not partitioned');

export function createPartitionChange(p: PartitionIR): Change {
  return change('main', `create partition ${p.name} of ${p.parent}`, [createPartition(p)], [`DROP TABLE ${q(p.name)}`]);
}

/** Detach, then drop: the partition's rows are deleted. Keep only the DETACH to keep them in a plain table. */
export function dropPartitionChange(p: PartitionIR): Change {
  return {
    ...change(
      'main',
      `detach and drop partition ${p.name} of ${p.parent} (its rows are deleted; keep only the DETACH to keep them as a plain table)`,
      [detach(p), `DROP TABLE ${q(p.name)}`],
      [createPartition(p)],
    ),
    destructive: true,
  };
}

/** A partition that stays: new bound or parent by detach and attach (rows kept), or a warning for its sub-partitioning. */
export function alterPartitionChanges(old: PartitionIR, next: PartitionIR): Change[] {
  const out: Change[] = [];
  if (by(old.partitionBy) !== by(next.partitionBy)) {
    out.push({
      ...change('main', `change partitioning of ${next.name}`, [], []),
      warning: `${next.name}: its partitioning changes from ${by(old.partitionBy)} to ${by(next.partitionBy)}; Postgres cannot alter that in place (create a new partition, move the rows, swap): write this part of the migration by hand.`,
    });
    return out;
  }
  if (old.bound !== next.bound || old.parent !== next.parent) {
    out.push(
      change(
        'main',
        `move partition ${next.name} to ${next.parent} ${next.bound} (detach and attach; its rows are kept and must fit the new bound)`,
        [detach(old), attach(next)],
        [detach(next), attach(old)],
      ),
    );
  }
  return out;
}

/** A table whose `PARTITION BY` is added, removed or changed. */
export function repartitionWarning(old: TableIR, next: TableIR): Change | null {
  if (by(old.partitionBy) === by(next.partitionBy)) return null;
  return {
    ...change('main', `change partitioning of ${next.name}`, [], []),
    warning: `${next.name}: its partitioning changes from ${by(old.partitionBy)} to ${by(next.partitionBy)}; Postgres cannot alter that in place (create the new table, copy the rows, swap the names): write this part of the migration by hand.`,
  };
}

/** Whether new indexes, keys and foreign keys on this existing table must be added directly (see the header). */
export const directly = (t: TableIR): boolean => t.partitionBy !== undefined;

/** A unique constraint on an existing partitioned table, added in one statement. */
export function addUniqueDirectly(table: string, u: UniqueIR): Change {
  return change(
    'main',
    `add unique ${u.name}`,
    [
      `${alter(table)} ADD CONSTRAINT ${q(u.name)} UNIQUE${u.nullsNotDistinct ? ' NULLS NOT DISTINCT' : ''} (${u.columns.map(q).join(', ')})${deferrableSql(u)}`,
    ],
    [`${alter(table)} DROP CONSTRAINT ${q(u.name)}`],
  );
}

/** Postgres's name for a partition's copy of an index (ChooseIndexName): `<partition>_<columns>_idx`. */
function childIndexName(partition: string, ix: IndexIR): string {
  const cols = ix.keys.map((k) => k.column ?? 'expr').join('_');
  return `${partition.slice(0, 63 - cols.length - 5)}_${cols}_idx`.slice(0, 63);
}

const onOnly = (table: string, ix: IndexIR) =>
  createIndex(table, ix).replace(` ON ${q(table)}`, ` ON ONLY ${q(table)}`);

/**
 * A new index on an existing partitioned table without blocking writes:
 * `CREATE INDEX … ON ONLY parent` (catalog only; invalid until complete),
 * each leaf partition's copy built `CONCURRENTLY` (one migration each, as
 * every concurrent index), sub-partitioned ones `ON ONLY` too, then every
 * copy attached (`ALTER INDEX … ATTACH PARTITION`), deepest first, which
 * makes the parent's index valid. Undone by dropping the parent's index,
 * which takes the attached copies with it.
 */
export function partitionedIndexChanges(table: string, ix: IndexIR, partitions: readonly PartitionIR[]): Change[] {
  const drop = `DROP INDEX IF EXISTS ${q(ix.name)}`;
  const out: Change[] = [change('main', `create index ${ix.name} on only ${table}`, [onOnly(table, ix)], [drop])];
  const attaches: string[] = [];
  const walk = (parent: string, parentIndex: string) => {
    for (const p of partitions.filter((x) => x.parent === parent)) {
      const child = { ...ix, name: childIndexName(p.name, ix) };
      if (p.partitionBy) {
        out.push(
          change(
            'main',
            `create index ${child.name} on only ${p.name}`,
            [onOnly(p.name, child)],
            [`DROP INDEX IF EXISTS ${q(child.name)}`],
          ),
        );
        walk(p.name, child.name);
      } else {
        out.push(
          change(
            'concurrent',
            `create index ${child.name} concurrently (partition ${p.name} of ${parent})`,
            [createIndex(p.name, child, { concurrently: true })],
            [`DROP INDEX CONCURRENTLY IF EXISTS ${q(child.name)}`],
          ),
        );
      }
      attaches.push(`ALTER INDEX ${q(parentIndex)} ATTACH PARTITION ${q(child.name)}`);
    }
  };
  walk(table, ix.name);
  if (attaches.length > 0) {
    // walk() pushes a parent's attach after its children's: deepest first already.
    out.push(change('attach', `attach the partitions' indexes to ${ix.name}`, attaches, [drop]));
  }
  return out;
}

/**
 * A new foreign key on an existing partitioned table without a long lock:
 * added `NOT VALID` to each leaf partition, validated there in the
 * `validate` phase (SHARE UPDATE EXCLUSIVE), then added to the partitioned
 * levels, deepest first, which adopt the partitions' equal, validated
 * constraints instead of scanning again. Undone by dropping the parent's,
 * which takes the adopted ones with it.
 */
export function partitionedForeignKeyChanges(
  table: string,
  fk: ForeignKeyIR,
  partitions: readonly PartitionIR[],
): Change[] {
  const main: Change[] = [];
  const validate: Change[] = [];
  const levels: string[] = [];
  const walk = (parent: string) => {
    for (const p of partitions.filter((x) => x.parent === parent)) {
      if (p.partitionBy) {
        walk(p.name);
        levels.push(p.name);
        continue;
      }
      const drop = `${alter(p.name)} DROP CONSTRAINT IF EXISTS ${q(fk.name)}`;
      main.push(
        change(
          'main',
          `add foreign key ${fk.name} to partition ${p.name} (not yet validated)`,
          [`${addForeignKey(p.name, fk)} NOT VALID`],
          [drop],
        ),
      );
      validate.push(
        change(
          'validate',
          `validate foreign key ${fk.name} on partition ${p.name}`,
          [`${alter(p.name)} VALIDATE CONSTRAINT ${q(fk.name)}`],
          [],
        ),
      );
    }
  };
  walk(table);
  levels.push(table);
  const adopt = change(
    validate.length > 0 ? 'attach' : 'main',
    `add foreign key ${fk.name} to ${table}${validate.length > 0 ? ' (adopting the validated ones of its partitions)' : ''}`,
    levels.map((t) => addForeignKey(t, fk)),
    [`${alter(table)} DROP CONSTRAINT IF EXISTS ${q(fk.name)}`],
  );
  return [...main, ...validate, adopt];
}
