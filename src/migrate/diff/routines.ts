/**
 * Where function and trigger changes go in a migration (diff.ts places each
 * list at its point):
 * - `dropViewTriggers`: triggers on views that are dropped (to go away or
 *   be created again), before the views;
 * - `dropTriggers`: triggers that go or change, and those whose function is
 *   dropped and created again, first (before the functions and tables they
 *   need go);
 * - `dropEarly`: functions dropped and created again (their old definition
 *   is gone before the new one is made), and functions that go away whose
 *   signature names a table's row type (before that table may go);
 * - `beforeTables`: functions created or replaced before the tables (a CHECK
 *   or default may call them);
 * - `afterTables`: those whose signature names a table's row type, once the
 *   tables and columns exist;
 * - `createTriggers`: after everything else is created;
 * - `dropLate`: functions that go away, after the tables (whose checks and
 *   defaults may have called them) and before enums (their types).
 */
import { functionKey, usesRowType } from '../../schema/function.js';
import type { SchemaIR, TriggerIR } from '../../schema/ir.js';
import { triggerKey } from '../../schema/trigger.js';
import type { Change } from './change.js';
import {
  createFunctionChange,
  dropFunctionChange,
  replaceable,
  replaceFunctionChange,
  sameFunction,
} from './functions.js';
import {
  commentTriggerChange,
  createTriggerChange,
  dropTriggerChange,
  sameButComment,
  sameTrigger,
} from './triggers.js';

export interface RoutineChanges {
  dropViewTriggers: Change[];
  dropTriggers: Change[];
  dropEarly: Change[];
  beforeTables: Change[];
  afterTables: Change[];
  createTriggers: Change[];
  dropLate: Change[];
}

/** The unqualified, unquoted name a trigger calls (`public.f` → `f`). */
const calledName = (t: TriggerIR) => {
  const last = t.function.match(/(?:"(?:[^"]|"")+"|[^."]+)$/)?.[0] ?? t.function;
  return last.startsWith('"') ? last.slice(1, -1).replaceAll('""', '"') : last;
};

/** `droppedViews`: the views the migration drops (diff/views.ts); a trigger on one goes and comes back with it. */
export function routineChanges(
  from: SchemaIR,
  to: SchemaIR,
  droppedViews: ReadonlySet<string> = new Set(),
): RoutineChanges {
  const out: RoutineChanges = {
    dropViewTriggers: [],
    dropTriggers: [],
    dropEarly: [],
    beforeTables: [],
    afterTables: [],
    createTriggers: [],
    dropLate: [],
  };
  const fromTables = new Set(from.tables.map((t) => t.name));
  const toTables = new Set(to.tables.map((t) => t.name));
  const oldFns = new Map((from.functions ?? []).map((f) => [functionKey(f), f]));
  const newFns = new Map((to.functions ?? []).map((f) => [functionKey(f), f]));

  // Functions dropped and created again: their triggers go and come back with them.
  const recreated = new Set<string>();
  const recreatedNames = new Set<string>();
  for (const [key, next] of newFns) {
    const old = oldFns.get(key);
    if (old && !sameFunction(old, next) && !replaceable(old, next)) {
      recreated.add(key);
      recreatedNames.add(next.name);
      out.dropEarly.push(dropFunctionChange(old));
    }
  }
  for (const [key, old] of oldFns) {
    if (!newFns.has(key)) {
      (usesRowType(old, fromTables) ? out.dropEarly : out.dropLate).push(dropFunctionChange(old));
    }
  }
  for (const [key, next] of newFns) {
    const old = oldFns.get(key);
    const place = usesRowType(next, toTables) ? out.afterTables : out.beforeTables;
    if (!old || recreated.has(key)) place.push(createFunctionChange(next));
    else if (!sameFunction(old, next)) place.push(replaceFunctionChange(old, next));
  }

  const oldTriggers = new Map((from.triggers ?? []).map((t) => [triggerKey(t), t]));
  const newTriggers = new Map((to.triggers ?? []).map((t) => [triggerKey(t), t]));
  for (const [key, old] of oldTriggers) {
    const next = newTriggers.get(key);
    if (droppedViews.has(old.table)) out.dropViewTriggers.push(dropTriggerChange(old));
    else if (!next || recreatedNames.has(calledName(old)) || !sameButComment(old, next)) {
      out.dropTriggers.push(dropTriggerChange(old));
    }
  }
  for (const [key, next] of newTriggers) {
    const old = oldTriggers.get(key);
    const redo = old !== undefined && (recreatedNames.has(calledName(old)) || droppedViews.has(old.table));
    if (!old || redo || !sameButComment(old, next)) out.createTriggers.push(createTriggerChange(next));
    else if (!sameTrigger(old, next)) out.createTriggers.push(commentTriggerChange(old, next));
  }
  return out;
}
