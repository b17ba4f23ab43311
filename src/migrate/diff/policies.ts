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
import { type Change, change, sameDefinition } from './change.js';

const same = (a: PolicyIR, b: PolicyIR) => sameDefinition(a, b);

/**
 * Postgres refuses to change the type of a column a policy uses ("cannot
 * alter type of a column used in a policy definition"): such a policy is
 * dropped before and created again after. Whether it uses the column is read
 * from its expressions' text (a word match, so at worst a policy is
 * re-created for nothing).
 */
function usesRetypedColumn(p: PolicyIR, old: TableIR, next: TableIR): boolean {
  const text = `${p.using ?? ''} ${p.withCheck ?? ''}`;
  return next.columns.some((c) => {
    const prev = old.columns.find((x) => x.name === c.name);
    if (!prev || prev.type === c.type) return false;
    const name = c.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return new RegExp(`(^|[^A-Za-z0-9_$"])"?${name}"?($|[^A-Za-z0-9_$"])`).test(text);
  });
}

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
    if (n && (same(p, n) || canAlterPolicy(p, n)) && !usesRetypedColumn(p, old, next!)) continue;
    out.push(change('main', `drop policy ${p.name} on ${old.name}`, [dropPolicy(old.name, p)], create(old.name, p)));
  }
  return out;
}

/** Policies of `next` that `old` (absent: a new table) does not have as they are: created, or altered. */
export function createPolicyChanges(old: TableIR | undefined, next: TableIR): Change[] {
  const out: Change[] = [];
  for (const p of next.policies ?? []) {
    const o = old?.policies?.find((x) => x.name === p.name);
    const retyped = o !== undefined && usesRetypedColumn(o, old!, next);
    if (o && same(o, p) && !retyped) continue;
    if (o && canAlterPolicy(o, p) && !retyped) {
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
    // A new one's comment is set by diff/comments.ts, with every other new object's; one re-created
    // around a column's new type gets its own back here.
    if (retyped) {
      out.push(
        change('main', `create policy ${p.name} on ${next.name}`, create(next.name, p), [dropPolicy(next.name, p)]),
      );
      continue;
    }
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
