/**
 * The schema differ: diffSchemas walks both schemas and asks the per-kind
 * differs in diff/ for the changes (renames.ts, enums.ts, tables.ts,
 * constraints.ts); diff/change.ts holds the Change it returns and shared helpers.
 */
import type { SchemaIR, TableIR } from '../schema/ir.js';
import { byName, type Change, hasSame, sameList, samePk } from './diff/change.js';
import { distributionChanges } from './diff/citus.js';
import { commentChanges } from './diff/comments.js';
import {
  addCheck,
  addForeignKeyChanges,
  addPrimaryKey,
  addPrimaryKeyConcurrently,
  addUnique,
  createIndexChange,
  dropCheck,
  dropForeignKey,
  dropIndex,
  dropPrimaryKey,
  dropUnique,
} from './diff/constraints.js';
import { deferrableChanges } from './diff/deferrable.js';
import { createEnum, dropEnum, enumValueChanges } from './diff/enums.js';
import { alterExtensionChanges, createExtensionChange, dropExtensionChange } from './diff/extensions.js';
import { functionCallers } from './diff/function-callers.js';
import {
  addUniqueDirectly,
  alterPartitionChanges,
  createPartitionChange,
  directly,
  dropPartitionChange,
  partitionedForeignKeyChanges,
  partitionedIndexChanges,
  repartitionWarning,
} from './diff/partitions.js';
import { createPolicyChanges, dropPolicyChanges } from './diff/policies.js';
import { rawChanges } from './diff/raw.js';
import { applyRenames } from './diff/renames.js';
import { routineChanges } from './diff/routines.js';
import {
  alterSequenceChanges,
  createSequenceChange,
  dropSequenceChange,
  ownerChange,
  sameOwner,
} from './diff/sequences.js';
import { indexOptionChanges, tableOptionChanges } from './diff/table-options.js';
import { addColumn, alterColumn, commentTable, createTableChange, dropColumn, dropTable } from './diff/tables.js';
import { validityChanges } from './diff/validity.js';
import { diffViews, withViewsAroundEnumDown } from './diff/views.js';
import { NO_HINTS, type RenameHints } from './hints.js';

export { type Change, PHASES, type Phase } from './diff/change.js';

/**
 * The changes that turn `from` into `to`, in an order that applies. Both
 * sides should come from introspection (see shadow.ts), so that equal things
 * are spelled equally.
 */
export function diffSchemas(from: SchemaIR, to: SchemaIR, hints: RenameHints = NO_HINTS): Change[] {
  const changes: Change[] = [];
  const { renamed, renames, labelsRenamed } = applyRenames(from, to, hints);
  // Views that go away or must be rebuilt are dropped before anything they read changes (see diff/views.ts).
  const views = diffViews(from, renamed, to);
  // Functions and triggers (diff/routines.ts says where each list goes).
  const routines = routineChanges(renamed, to, views.dropped);
  changes.push(...routines.dropViewTriggers, ...views.before);
  changes.push(...renames);

  const fromTables = byName(renamed.tables);
  const toTables = byName(to.tables);
  const fromEnums = byName(renamed.enums);
  const fromExtensions = byName(from.extensions ?? []);
  const toExtensions = byName(to.extensions ?? []);

  // Extensions before anything that may use their types, functions and operator classes.
  for (const x of to.extensions ?? []) {
    const old = fromExtensions.get(x.name);
    if (!old) changes.push(createExtensionChange(x));
    else changes.push(...alterExtensionChanges(old, x));
  }

  // Enums: new types first (tables may use them), value changes next.
  for (const e of to.enums) {
    if (!fromEnums.has(e.name)) changes.push(createEnum(e));
  }
  for (const e of to.enums) {
    const old = fromEnums.get(e.name);
    if (old && !sameList(old.values, e.values)) {
      changes.push(...withViewsAroundEnumDown(enumValueChanges(old, e, renamed, labelsRenamed), e.name, from, renamed));
    }
  }

  // Sequences before the tables whose defaults may use them; ownership that
  // goes or moves is given up before columns and tables are dropped.
  const fromSequences = byName(renamed.sequences ?? []);
  const toSequences = byName(to.sequences ?? []);
  for (const s of to.sequences ?? []) {
    const old = fromSequences.get(s.name);
    if (!old) changes.push(createSequenceChange(s));
    else changes.push(...alterSequenceChanges(old, s));
  }
  for (const old of renamed.sequences ?? []) {
    const next = toSequences.get(old.name);
    if (old.ownedBy !== null && !sameOwner(old.ownedBy, next?.ownedBy ?? null)) {
      changes.push(ownerChange(old.name, old.ownedBy, null));
    }
  }

  const raws = rawChanges(from, to);
  const callers = functionCallers(renamed, to);
  changes.push(...raws.undoFirst, ...routines.dropTriggers, ...callers.drops, ...routines.dropEarly, ...raws.doFirst);
  changes.push(...routines.beforeTables);

  // Drop what goes away or changes definition, before anything that may collide with it.
  for (const t of to.tables) {
    const old = fromTables.get(t.name);
    if (!old) continue;
    for (const fk of old.foreignKeys) if (!hasSame(t.foreignKeys, fk)) changes.push(dropForeignKey(old.name, fk));
    for (const ix of old.indexes) if (!hasSame(t.indexes, ix)) changes.push(dropIndex(old.name, ix));
    for (const u of old.uniques) if (!hasSame(t.uniques, u)) changes.push(dropUnique(old.name, u));
    for (const c of old.checks) if (!hasSame(t.checks, c)) changes.push(dropCheck(old.name, c));
    if (old.primaryKey && !samePk(old.primaryKey, t.primaryKey)) changes.push(dropPrimaryKey(old.name, old.primaryKey));
    // Policies may use columns about to change or go.
    changes.push(...dropPolicyChanges(old, t));
  }
  // Foreign keys pointing at tables about to be dropped go first.
  for (const old of renamed.tables) {
    if (toTables.has(old.name)) continue;
    for (const fk of old.foreignKeys) changes.push(dropForeignKey(old.name, fk));
    changes.push(...dropPolicyChanges(old, undefined));
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
      else changes.push(...alterColumn(t.name, prev, c, t.unlogged === true));
    }
    for (const c of old.columns) if (!t.columns.some((n) => n.name === c.name)) changes.push(dropColumn(t.name, c));
    if (old.comment !== t.comment) changes.push(commentTable(t.name, old.comment, t.comment));
    changes.push(...tableOptionChanges(old, t));
    const repartition = repartitionWarning(old, t);
    if (repartition) changes.push(repartition);
  }

  // Partitions, parents first (the list is sorted so), once their parents exist.
  const fromPartitions = byName(renamed.partitions ?? []);
  const toPartitions = byName(to.partitions ?? []);
  for (const p of to.partitions ?? []) {
    const old = fromPartitions.get(p.name);
    changes.push(...(old ? alterPartitionChanges(old, p) : [createPartitionChange(p)]));
  }

  changes.push(...routines.afterTables);
  // Checks, indexes and defaults calling a function just created again.
  changes.push(...callers.restores);

  // Sequence ownership, now that the owning tables and columns exist.
  for (const s of to.sequences ?? []) {
    const old = fromSequences.get(s.name);
    if (s.ownedBy !== null && !sameOwner(old?.ownedBy ?? null, s.ownedBy)) {
      changes.push(ownerChange(s.name, null, s.ownedBy));
    }
  }

  // Keys, checks, foreign keys and indexes that are new or changed. On a
  // Citus table keys are added directly: `ADD CONSTRAINT ... USING INDEX`
  // has failed on distributed tables (citus#1721: the workers' shards lack
  // the index), and a table distributed in this migration needs its new key
  // in place before create_distributed_table runs.
  const keysDirectly = (t: TableIR) => directly(t) || t.distribution !== undefined;
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
        ...(neededByNewFk || keysDirectly(t)
          ? [addPrimaryKey(t.name, t.primaryKey)]
          : addPrimaryKeyConcurrently(t.name, t.primaryKey)),
      );
    }
    for (const u of t.uniques) {
      if (!hasSame(old.uniques, u))
        changes.push(...(keysDirectly(t) ? [addUniqueDirectly(t.name, u)] : addUnique(t.name, u)));
    }
    for (const c of t.checks) if (!hasSame(old.checks, c)) changes.push(...addCheck(t.name, c));
    changes.push(...validityChanges(old, t));
    changes.push(...deferrableChanges(old, t));
    for (const ix of t.indexes) {
      const prev = old.indexes.find((x) => x.name === ix.name);
      if (prev) changes.push(...indexOptionChanges(prev, ix));
    }
  }
  // Indexes first: a foreign key may reference columns made unique only by a unique index.
  for (const t of to.tables) {
    const old = fromTables.get(t.name);
    for (const ix of t.indexes) {
      if (!old) changes.push(createIndexChange(t.name, ix, false));
      else if (!hasSame(old.indexes, ix)) {
        changes.push(
          ...(directly(t)
            ? partitionedIndexChanges(t.name, ix, to.partitions ?? [])
            : [createIndexChange(t.name, ix, true)]),
        );
      }
    }
  }
  // Citus: tables distributed once their keys and indexes exist, before the foreign keys between them.
  const distribution = distributionChanges(from, renamed, to, hints);
  changes.push(...distribution.main);
  for (const t of to.tables) {
    const old = fromTables.get(t.name);
    for (const fk of t.foreignKeys) {
      if (!old || !hasSame(old.foreignKeys, fk)) {
        changes.push(
          ...(old && directly(t)
            ? partitionedForeignKeyChanges(t.name, fk, to.partitions ?? [])
            : addForeignKeyChanges(t.name, fk, old !== undefined)),
        );
      }
    }
  }

  // Views, now that the tables they read are in their new shape.
  changes.push(...views.after);
  // Policies once every table and column they may name exists, then comments on what now exists.
  for (const t of to.tables) changes.push(...createPolicyChanges(fromTables.get(t.name), t));
  // `renamed` carries no extensions (nothing renames them): theirs are `from`'s.
  changes.push(...commentChanges({ ...renamed, extensions: from.extensions ?? [] }, to));
  // Triggers after the views (an INSTEAD OF trigger is on one), then raw() SQL marked `last`.
  changes.push(...routines.createTriggers, ...raws.doLast);

  // Finally what goes away entirely: partitions first, sub-partitions before their parents.
  for (const p of [...(renamed.partitions ?? [])].reverse()) {
    if (!toPartitions.has(p.name)) changes.push(dropPartitionChange(p));
  }
  changes.push(...distribution.dropped);
  for (const old of renamed.tables) if (!toTables.has(old.name)) changes.push(dropTable(old));
  changes.push(...routines.dropLate, ...raws.undoLast);
  for (const s of renamed.sequences ?? []) if (!toSequences.has(s.name)) changes.push(dropSequenceChange(s));
  for (const e of renamed.enums) if (!to.enums.some((n) => n.name === e.name)) changes.push(dropEnum(e));
  // Extensions last: whatever used them is gone by now.
  for (const x of from.extensions ?? []) if (!toExtensions.has(x.name)) changes.push(dropExtensionChange(x));
  return changes;
}
