/**
 * Checks, indexes and column defaults that call a function the migration
 * drops and creates again (its arguments or result change): Postgres refuses
 * `DROP FUNCTION` while they exist (2BP01, "other objects depend on it"), so
 * they go before the functions are dropped and come back once the functions
 * exist again. A function is matched by name in the expression's text; a
 * name that is not a call costs no more than an object rebuilt needlessly.
 *
 * The drops' undo puts each object back as it was (comment included), after
 * the down migration has put the old function back; the restores are built
 * like new ones (a check `NOT VALID`, then validated; an index concurrently)
 * so that no table is locked for a scan.
 */
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { SchemaIR } from '../../schema/ir.js';
import { identifiersIn } from '../../schema/view.js';
import { alter, byName, type Change, change, hasSame } from './change.js';
import { addCheck, constraintComment, createIndexChange, dropCheck, dropIndex, indexComment } from './constraints.js';
import { recreatedFunctionNames } from './functions.js';

export interface FunctionCallers {
  /** Before the functions are dropped. */
  drops: Change[];
  /** Once the functions exist again (after the tables' own changes). */
  restores: Change[];
}

/** `from` after renames (diff.ts's `renamed`), `to` the target. */
export function functionCallers(from: SchemaIR, to: SchemaIR): FunctionCallers {
  const out: FunctionCallers = { drops: [], restores: [] };
  const names = recreatedFunctionNames(from.functions ?? [], to.functions ?? []);
  if (names.size === 0) return out;
  const calls = (text: string | null | undefined) => {
    if (!text) return false;
    const words = identifiersIn(text);
    return [...names].some((n) => words.has(n));
  };
  const toTables = byName(to.tables);
  for (const old of from.tables) {
    const t = toTables.get(old.name);
    if (!t) continue; // dropped with its table, before the functions that go late
    for (const c of old.checks) {
      // A check that changes is dropped and added by the table's own diff already.
      if (!hasSame(t.checks, c) || !calls(c.expression)) continue;
      const next = t.checks.find((x) => x.name === c.name)!;
      out.drops.push(dropCheck(old.name, c));
      const [add, ...validate] = addCheck(t.name, next);
      out.restores.push({ ...add!, up: [...add!.up, ...constraintComment(t.name, next)] }, ...validate);
    }
    for (const ix of old.indexes) {
      if (!hasSame(t.indexes, ix)) continue;
      if (!ix.keys.some((k) => calls(k.expression)) && !calls(ix.where)) continue;
      const next = t.indexes.find((x) => x.name === ix.name)!;
      out.drops.push(dropIndex(old.name, ix));
      out.restores.push(createIndexChange(t.name, next, true));
      // The index is built in its own migration after the main one; its comment follows it.
      const comment = indexComment(next);
      if (comment.length > 0) out.restores.push(change('attach', `comment on index ${next.name}`, comment, []));
    }
    for (const c of old.columns) {
      const next = t.columns.find((x) => x.name === c.name);
      // A default that changes is altered by the table's own diff, after the functions are created.
      if (!next || next.default !== c.default || !calls(c.default)) continue;
      const col = `${alter(old.name)} ALTER COLUMN ${q(c.name)}`;
      out.drops.push(
        change(
          'main',
          `drop default of ${old.name}.${c.name}`,
          [`${col} DROP DEFAULT`],
          [`${col} SET DEFAULT ${c.default}`],
        ),
      );
      out.restores.push(
        change(
          'main',
          `set default of ${t.name}.${c.name}`,
          [`${col} SET DEFAULT ${next.default}`],
          [`${col} DROP DEFAULT`],
        ),
      );
    }
  }
  return out;
}
