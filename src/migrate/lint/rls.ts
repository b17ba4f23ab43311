/**
 * `rls-without-policy` (warning): a table whose row-level security is
 * enabled (`ALTER TABLE ... ENABLE ROW LEVEL SECURITY`) and that no policy
 * (`CREATE POLICY ... ON` it) covers by the end of the migrations denies
 * every row to every role but its owner and superusers: usually a policy was
 * forgotten. Followed across files (lintMigrations) through `DISABLE`,
 * `DROP POLICY`, `DROP TABLE` and `ALTER TABLE ... RENAME TO`.
 *
 * `view-bypasses-rls` (warning): a view without `security_invoker` reads
 * its tables with its owner's rights, so a table's row-level security does
 * not filter what the view shows to other roles (the owner is usually
 * exempt). Views are followed through `ALTER VIEW ... SET/RESET
 * (security_invoker)`, `CREATE OR REPLACE` and `DROP VIEW`; the tables a
 * view reads are the names after its FROM and JOIN keywords.
 */
import { type FileEnv, report } from './state.js';
import { findWord, isFalse, isOp, isWord, matchingParen, qualifiedName, type Token } from './tokens.js';

interface ViewSeen {
  env: FileEnv;
  tokenIndex: number;
  invoker: boolean;
  reads: Set<string>;
}

interface Enabled {
  env: FileEnv;
  tokenIndex: number;
}

export class RlsTracker {
  /** Tables with RLS enabled, where it was enabled (the finding goes there). */
  readonly #enabled = new Map<string, Enabled>();
  /** Policy names per table. */
  readonly #policies = new Map<string, Set<string>>();
  /** Plain views: where each was (last) created, whether it runs as the invoker, what it reads. */
  readonly #views = new Map<string, ViewSeen>();

  see(env: FileEnv): void {
    const t = env.tokens;
    if (this.#seeView(env, t)) return;
    if (isWord(t[0], 'alter') && isWord(t[1], 'table')) {
      let i = 2;
      if (isWord(t[i], 'if') && isWord(t[i + 1], 'exists')) i += 2;
      if (isWord(t[i], 'only')) i++;
      const name = qualifiedName(t, i);
      if (!name) return;
      const rename = findWord(t, 'rename', name.next);
      if (rename >= 0 && isWord(t[rename + 1], 'to')) {
        const to = qualifiedName(t, rename + 2);
        if (to) this.#move(name.name, to.name);
        return;
      }
      for (let k = name.next; k + 3 < t.length + 1; k++) {
        if (isWord(t[k + 1], 'row') && isWord(t[k + 2], 'level') && isWord(t[k + 3], 'security')) {
          if (isWord(t[k], 'enable')) this.#enabled.set(name.name, { env: { ...env }, tokenIndex: k });
          if (isWord(t[k], 'disable')) this.#enabled.delete(name.name);
        }
      }
      return;
    }
    if (isWord(t[0], 'create') && isWord(t[1], 'policy')) {
      const on = findWord(t, 'on', 2);
      const policy = qualifiedName(t, 2);
      const table = on >= 0 ? qualifiedName(t, on + 1) : null;
      if (policy && table) this.#policiesOf(table.name).add(policy.name);
      return;
    }
    if (isWord(t[0], 'drop') && isWord(t[1], 'policy')) {
      const i = isWord(t[2], 'if') && isWord(t[3], 'exists') ? 4 : 2;
      const on = findWord(t, 'on', i);
      const policy = qualifiedName(t, i);
      const table = on >= 0 ? qualifiedName(t, on + 1) : null;
      if (policy && table) this.#policiesOf(table.name).delete(policy.name);
      return;
    }
    if (isWord(t[0], 'drop') && isWord(t[1], 'table')) {
      let i = isWord(t[2], 'if') && isWord(t[3], 'exists') ? 4 : 2;
      for (let name = qualifiedName(t, i); name; name = qualifiedName(t, i)) {
        this.#enabled.delete(name.name);
        this.#policies.delete(name.name);
        if (t[name.next]?.value !== ',') break;
        i = name.next + 1;
      }
    }
  }

  /** CREATE / ALTER / DROP VIEW (plain views); true when the statement was one. */
  #seeView(env: FileEnv, t: Token[]): boolean {
    let i = 0;
    if (isWord(t[0], 'create')) {
      i = 1;
      if (isWord(t[i], 'or') && isWord(t[i + 1], 'replace')) i += 2;
      while (isWord(t[i], 'temp', 'temporary', 'recursive')) i++;
      if (!isWord(t[i], 'view')) return false;
      const name = qualifiedName(t, i + 1);
      if (!name) return true;
      let k = name.next;
      if (isOp(t[k], '(')) k = matchingParen(t, k) + 1;
      let invoker = false;
      if (isWord(t[k], 'with') && isOp(t[k + 1], '(')) {
        const close = matchingParen(t, k + 1);
        invoker = invokerIn(t, k + 2, close);
        k = close + 1;
      }
      const reads = new Set<string>();
      for (let j = k; j < t.length; j++) {
        if (!isWord(t[j], 'from', 'join')) continue;
        const rel = qualifiedName(t, j + 1);
        if (rel) reads.add(rel.name);
      }
      this.#views.set(name.name, { env: { ...env }, tokenIndex: 0, invoker, reads });
      return true;
    }
    if (isWord(t[0], 'alter') && isWord(t[1], 'view')) {
      i = isWord(t[2], 'if') && isWord(t[3], 'exists') ? 4 : 2;
      const name = qualifiedName(t, i);
      const view = name ? this.#views.get(name.name) : undefined;
      if (!name || !view) return true;
      const k = name.next;
      if (isWord(t[k], 'rename') && isWord(t[k + 1], 'to')) {
        const to = qualifiedName(t, k + 2);
        if (to) {
          this.#views.delete(name.name);
          this.#views.set(to.name, view);
        }
      } else if (isWord(t[k], 'set') && isOp(t[k + 1], '(')) {
        const close = matchingParen(t, k + 1);
        if (mentions(t, k + 2, close, 'security_invoker')) view.invoker = invokerIn(t, k + 2, close);
      } else if (isWord(t[k], 'reset') && isOp(t[k + 1], '(')) {
        if (mentions(t, k + 2, matchingParen(t, k + 1), 'security_invoker')) view.invoker = false;
      }
      return true;
    }
    if (isWord(t[0], 'drop') && isWord(t[1], 'view')) {
      i = isWord(t[2], 'if') && isWord(t[3], 'exists') ? 4 : 2;
      for (let name = qualifiedName(t, i); name; name = qualifiedName(t, i)) {
        this.#views.delete(name.name);
        if (!isOp(t[name.next], ',')) break;
        i = name.next + 1;
      }
      return true;
    }
    return false;
  }

  /** Report the tables still enabled without a policy, and the views that read one as their owner. */
  finish(): void {
    for (const [view, seen] of this.#views) {
      if (seen.invoker) continue;
      const rls = [...seen.reads].filter((r) => this.#enabled.has(r));
      if (rls.length === 0) continue;
      report(
        seen.env,
        'view-bypasses-rls',
        seen.tokenIndex,
        `View ${view} reads ${rls.join(', ')}, which ${rls.length > 1 ? 'have' : 'has'} row-level security, without security_invoker: it runs with its owner's rights, so the policies do not filter what it shows to other roles.`,
        `Create it with security_invoker (view('${view}', ..., { securityInvoker: true }), or WITH (security_invoker = true)), unless showing every row through it is intended.`,
      );
    }
    for (const [table, at] of this.#enabled) {
      if ((this.#policies.get(table)?.size ?? 0) > 0) continue;
      report(
        at.env,
        'rls-without-policy',
        at.tokenIndex,
        `Row-level security is enabled on ${table} and no policy covers it: every row is denied to every role but the table's owner and superusers.`,
        `Add a policy (policy('name', ${table}, { using: sql\`...\` }) in the schema, or CREATE POLICY ... ON ${table}), or leave row-level security off.`,
      );
    }
  }

  #policiesOf(table: string): Set<string> {
    const set = this.#policies.get(table) ?? new Set<string>();
    this.#policies.set(table, set);
    return set;
  }

  #move(from: string, to: string): void {
    const enabled = this.#enabled.get(from);
    if (enabled) {
      this.#enabled.delete(from);
      this.#enabled.set(to, enabled);
    }
    const policies = this.#policies.get(from);
    if (policies) {
      this.#policies.delete(from);
      this.#policies.set(to, policies);
    }
  }
}

/** Whether the option list `t[from..to)` names `option`. */
function mentions(t: Token[], from: number, to: number, option: string): boolean {
  for (let k = from; k < to; k++) if (isWord(t[k], option)) return true;
  return false;
}

/** `security_invoker` in an option list: true when named without a false value (`= false`, `off`, `0`). */
function invokerIn(t: Token[], from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    if (!isWord(t[k], 'security_invoker')) continue;
    return !(isOp(t[k + 1], '=') && isFalse(t[k + 2]));
  }
  return false;
}
