/**
 * Changes to functions. A function whose body or options change is
 * `CREATE OR REPLACE`d, which keeps everything that depends on it (checks,
 * defaults, triggers); one whose arguments (names, defaults) or return type
 * change cannot be, and is dropped and created again. Every create runs with
 * `check_function_bodies` off, as pg_dump's output does, so a body may name
 * tables and functions created later in the migration. Down migrations
 * create the previous definition, comment included.
 */
import {
  commentFunction,
  createFunctionStatements,
  dropFunction,
  functionKey,
  NO_BODY_CHECKS,
} from '../../schema/function.js';
import type { FunctionIR } from '../../schema/ir.js';
import { type Change, change } from './change.js';

const create = (f: FunctionIR, replace = false) => [NO_BODY_CHECKS, ...createFunctionStatements(f, { replace })];

export function createFunctionChange(f: FunctionIR): Change {
  return change('main', `create function ${functionKey(f)}`, create(f), [dropFunction(f)]);
}

export function dropFunctionChange(f: FunctionIR): Change {
  return change('main', `drop function ${functionKey(f)}`, [dropFunction(f)], create(f));
}

/** Postgres replaces a function in place only when its arguments (names and defaults too) and result stay. */
export function replaceable(old: FunctionIR, next: FunctionIR): boolean {
  return old.arguments === next.arguments && old.returns === next.returns;
}

export const sameFunction = (a: FunctionIR, b: FunctionIR) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Names of the functions of `from` that `to` keeps but drops and creates
 * again (their arguments or result change): whatever calls them (a view)
 * must go before the drop and come back after the create.
 */
export function recreatedFunctionNames(from: readonly FunctionIR[], to: readonly FunctionIR[]): Set<string> {
  const next = new Map(to.map((f) => [functionKey(f), f]));
  const names = new Set<string>();
  for (const old of from) {
    const f = next.get(functionKey(old));
    if (f && !sameFunction(old, f) && !replaceable(old, f)) names.add(old.name);
  }
  return names;
}

/** A function that stays but changes in a way `CREATE OR REPLACE` can do. */
export function replaceFunctionChange(old: FunctionIR, next: FunctionIR): Change {
  const { comment: _a, ...oldDef } = old;
  const { comment: _b, ...nextDef } = next;
  if (JSON.stringify(oldDef) === JSON.stringify(nextDef)) {
    return change(
      'main',
      `comment on function ${functionKey(next)}`,
      [commentFunction(next, next.comment)],
      [commentFunction(old, old.comment)],
    );
  }
  const withComment = (f: FunctionIR, other: FunctionIR) => [
    NO_BODY_CHECKS,
    ...createFunctionStatements({ ...f, comment: null }, { replace: true }),
    ...(f.comment !== other.comment ? [commentFunction(f, f.comment)] : []),
  ];
  return change('main', `replace function ${functionKey(next)}`, withComment(next, old), withComment(old, next));
}
