/**
 * Changes to triggers: created after their table and function exist,
 * dropped before either goes; a changed trigger is dropped and created
 * again (only a comment: `COMMENT ON TRIGGER`).
 */
import type { TriggerIR } from '../../schema/ir.js';
import { commentTrigger, createTriggerStatements, dropTrigger, triggerKey } from '../../schema/trigger.js';
import { type Change, change } from './change.js';

export function createTriggerChange(t: TriggerIR): Change {
  return change('main', `create trigger ${triggerKey(t)}`, createTriggerStatements(t), [dropTrigger(t)]);
}

export function dropTriggerChange(t: TriggerIR): Change {
  return change('main', `drop trigger ${triggerKey(t)}`, [dropTrigger(t)], createTriggerStatements(t));
}

export function commentTriggerChange(old: TriggerIR, next: TriggerIR): Change {
  return change(
    'main',
    `comment on trigger ${triggerKey(next)}`,
    [commentTrigger(next, next.comment)],
    [commentTrigger(old, old.comment)],
  );
}

export const sameTrigger = (a: TriggerIR, b: TriggerIR) => JSON.stringify(a) === JSON.stringify(b);
export const sameButComment = (a: TriggerIR, b: TriggerIR) =>
  JSON.stringify({ ...a, comment: null }) === JSON.stringify({ ...b, comment: null });
