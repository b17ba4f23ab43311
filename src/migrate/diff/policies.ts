/**
 * Changes to row-level security policies. Policies that go away, or change
 * in a way `ALTER POLICY` cannot express (command, `AS RESTRICTIVE`, a
 * `USING` or `WITH CHECK` added or removed), are dropped early, before the
 * columns and tables they may use change; new ones are created late, once
 * every table and column they may name exists. Roles and expressions change
 * with `ALTER POLICY`, whose down sets the previous ones.
 */
import { commentSql } from '../../schema/comments.js';
import type { PolicyIR, TableIR } from '../../schema/ir.js';
import { alterPolicy, canAlterPolicy, createPolicy, dropPolicy } from '../../schema/policy.js';
import { type Change, change, definition } from './change.js';

const same = (a: PolicyIR, b: PolicyIR) => JSON.stringify(definition(a)) === JSON.stringify(definition(b));

function create(table: string, p: PolicyIR): string[] {
  return [
    createPolicy(table, p),
    ...(p.comment !== undefined ? [commentSql({ kind: 'policy', table, name: p.name }, p.comment)] : []),
  ];
}

/** Policies of `old` (a table, or the table before) that `next` (absent: the table goes) no longer has as they are. */
export function dropPolicyChanges(old: TableIR, next: TableIR | undefined): Change[] {
  const out: Change[] = [];
  for (const p of old.policies ?? []) {
    const n = next?.policies?.find((x) => x.name === p.name);
    if (n && (same(p, n) || canAlterPolicy(p, n))) continue;
    out.push(change('main', `drop policy ${p.name} on ${old.name}`, [dropPolicy(old.name, p)], create(old.name, p)));
  }
  return out;
}

/** Policies of `next` that `old` (absent: a new table) does not have as they are: created, or altered. */
export function createPolicyChanges(old: TableIR | undefined, next: TableIR): Change[] {
  const out: Change[] = [];
  for (const p of next.policies ?? []) {
    const o = old?.policies?.find((x) => x.name === p.name);
    if (o && same(o, p)) continue;
    if (o && canAlterPolicy(o, p)) {
      out.push(
        change(
          'main',
          `alter policy ${p.name} on ${next.name}`,
          [alterPolicy(next.name, p)],
          [alterPolicy(next.name, o)],
        ),
      );
      continue;
    }
    // Its comment is set by diff/comments.ts, with every other new object's.
    out.push(
      change(
        'main',
        `create policy ${p.name} on ${next.name}`,
        [createPolicy(next.name, p)],
        [dropPolicy(next.name, p)],
      ),
    );
  }
  return out;
}
