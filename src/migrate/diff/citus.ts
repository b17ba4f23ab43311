/**
 * Changes to Citus distribution (schema/citus.ts): a table distributed or
 * made a reference table, undistributed, or given a new distribution column
 * or co-location. They run in the main phase after the indexes and before
 * the foreign keys (Citus adds a foreign key between distributed tables
 * only once both are distributed), reference tables first, then each table
 * after the one it is co-located with.
 *
 * Every change carries a marker (`-- citus distribution: {...}`): the shadow
 * that replays the migrations is plain PostgreSQL, so the markers are how a
 * later `migrate new` knows what is distributed.
 */
import {
  distributeSql,
  distributionMarker,
  redistributeSql,
  sameDistribution,
  sortDistributed,
  undistributeSql,
} from '../../schema/citus.js';
import type { DistributionIR, SchemaIR, TableIR } from '../../schema/ir.js';
import type { RenameHints } from '../hints.js';
import { byName, type Change, change } from './change.js';

const describe = (table: string, d: DistributionIR) =>
  d.kind === 'reference'
    ? `make ${table} a Citus reference table`
    : `distribute ${table} by ${d.column}${d.colocateWith === 'default' ? '' : ` (colocate with ${d.colocateWith})`}`;

export interface DistributionChanges {
  /** Undistribute, distribute, redistribute tables that exist after the migration: after the indexes, before the foreign keys. */
  main: Change[];
  /** Markers for distributed tables about to be dropped (dropping drops their shards): before the tables go. */
  dropped: Change[];
}

/** `from`, `from` with renames applied (a table's distribution follows its rename), the target, and the renames. */
export function distributionChanges(
  from: SchemaIR,
  renamed: SchemaIR,
  to: SchemaIR,
  hints: RenameHints,
): DistributionChanges {
  const olds = byName(renamed.tables);
  const originalNames = new Set(from.tables.map((t) => t.name));
  const news = byName(to.tables);
  const out: DistributionChanges = { main: [], dropped: [] };
  // Undistributed first: a table co-located with one that changes must leave the group before it changes.
  for (const t of to.tables) {
    const was = olds.get(t.name)?.distribution;
    if (was && !t.distribution) {
      out.main.push({
        ...change(
          'main',
          `undistribute ${t.name} (Citus)`,
          [distributionMarker(t.name, null), undistributeSql(t.name)],
          [distributeSql(t.name, was)],
        ),
        warning: `undistribute_table copies every row of ${t.name} back to the coordinator and blocks writes to it meanwhile.`,
      });
    }
  }
  for (const t of sortDistributed(to.tables)) {
    const d = t.distribution!;
    const old = olds.get(t.name);
    const was = old?.distribution;
    if (!old) {
      // Undone by dropping the table, which drops its shards: no undistribute_table (it would copy every row back first).
      out.main.push(change('main', describe(t.name, d), [distributionMarker(t.name, d), distributeSql(t.name, d)], []));
    } else if (!was) {
      out.main.push({
        ...change(
          'main',
          describe(t.name, d),
          [distributionMarker(t.name, d), distributeSql(t.name, d)],
          [undistributeSql(t.name)],
        ),
        warning:
          `${t.name} exists: Citus copies its rows to the shards and blocks writes to it meanwhile ` +
          '(on Citus 11.2+, create_distributed_table_concurrently does not block writes; it cannot run in a transaction).',
      });
    } else if (!sameDistribution(was, d)) {
      out.main.push(redistribute(t, was, d));
    } else if (!originalNames.has(t.name)) {
      // Renamed: the marker moves to the new name (a new table of the old name is not distributed).
      const oldName = hints.tables.get(t.name);
      out.main.push(
        change(
          'main',
          `keep the Citus distribution of ${t.name} (renamed)`,
          [...(oldName ? [distributionMarker(oldName, null)] : []), distributionMarker(t.name, d)],
          [],
        ),
      );
    }
  }
  for (const old of renamed.tables) {
    if (old.distribution && !news.has(old.name)) {
      out.dropped.push(
        change(
          'main',
          `forget the Citus distribution of ${old.name} (dropped)`,
          [distributionMarker(old.name, null)],
          [distributeSql(old.name, old.distribution)],
        ),
      );
    }
  }
  return out;
}

/** A new distribution column or co-location (`alter_distributed_table`), or a change between reference and distributed. */
function redistribute(t: TableIR, was: DistributionIR, d: DistributionIR): Change {
  const what = `${describe(t.name, d)} (was: ${describe(t.name, was)})`;
  const warning =
    `changes how Citus distributes ${t.name}: every row moves to new shards and writes to it block meanwhile; ` +
    'foreign keys to and from it must match the new distribution (drop and re-add them around this migration if Citus refuses).';
  if (was.kind === 'distributed' && d.kind === 'distributed') {
    return {
      ...change(
        'main',
        what,
        [distributionMarker(t.name, d), redistributeSql(t.name, d)],
        [redistributeSql(t.name, was)],
      ),
      warning,
    };
  }
  return {
    ...change(
      'main',
      what,
      [distributionMarker(t.name, d), undistributeSql(t.name), distributeSql(t.name, d)],
      [undistributeSql(t.name), distributeSql(t.name, was)],
    ),
    warning,
  };
}
