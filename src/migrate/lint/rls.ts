/**
 * `rls-without-policy` (warning): a table whose row-level security is
 * enabled (`ALTER TABLE ... ENABLE ROW LEVEL SECURITY`) and that no policy
 * (`CREATE POLICY ... ON` it) covers by the end of the migrations denies
 * every row to every role but its owner and superusers: usually a policy was
 * forgotten. Followed across files (lintMigrations) through `DISABLE`,
 * `DROP POLICY`, `DROP TABLE` and `ALTER TABLE ... RENAME TO`.
 */
import { type FileEnv, report } from './state.js';
import { findWord, isWord, qualifiedName } from './tokens.js';

interface Enabled {
  env: FileEnv;
  tokenIndex: number;
}

export class RlsTracker {
  /** Tables with RLS enabled, where it was enabled (the finding goes there). */
  readonly #enabled = new Map<string, Enabled>();
  /** Policy names per table. */
  readonly #policies = new Map<string, Set<string>>();

  see(env: FileEnv): void {
    const t = env.tokens;
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

  /** Report the tables still enabled without a policy. */
  finish(): void {
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
