/**
 * What the differ produces (Change, its Phase) and the small helpers every
 * per-object-kind differ shares.
 */
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { PrimaryKeyIR } from '../../schema/ir.js';

/**
 * Where a change runs. Each phase becomes its own migration so that locks
 * stay short and Postgres's transaction rules hold:
 * - `expand`: new enum values, committed before anything uses them;
 * - `main`: ordinary transactional DDL;
 * - `validate`: `VALIDATE CONSTRAINT` (and `SET NOT NULL` backed by a
 *   validated check) in a later transaction, so the full-table scan runs
 *   under SHARE UPDATE EXCLUSIVE rather than the ACCESS EXCLUSIVE lock the
 *   constraint was added with;
 * - `concurrent`: one `CREATE INDEX CONCURRENTLY` per migration, outside any
 *   transaction (Postgres refuses it inside one);
 * - `attach`: unique constraints and primary keys on existing tables,
 *   attached to the index built concurrently before (`ADD CONSTRAINT ...
 *   UNIQUE | PRIMARY KEY USING INDEX`), so the table is never locked for a
 *   whole index build.
 */
export type Phase = 'expand' | 'main' | 'validate' | 'concurrent' | 'attach';
export const PHASES: readonly Phase[] = ['expand', 'main', 'validate', 'concurrent', 'attach'];

export interface Change {
  phase: Phase;
  description: string;
  /** Statements, in order. */
  up: string[];
  /** Statements that undo `up`, in order (changes are undone last-first). */
  down: string[];
  /** Loses data when applied (drops), or when undone (`downDestructive`). */
  destructive: boolean;
  /**
   * Something Ferry could not generate (the user must finish the migration
   * by hand), or what the change costs that its SQL does not say (an
   * extension's missing downgrade path, Citus moving every row of a table).
   */
  warning?: string;
}

export const alter = (table: string) => `ALTER TABLE ${q(table)}`;
export const notNullCheck = (table: string, column: string) => `${table}_${column}_not_null`.slice(0, 63);

export function change(phase: Phase, description: string, up: string[], down: string[]): Change {
  return { phase, description, up, down, destructive: false };
}

export function byName<T extends { name: string }>(items: readonly T[]): Map<string, T> {
  return new Map(items.map((i) => [i.name, i]));
}

export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function samePk(a: PrimaryKeyIR | null, b: PrimaryKeyIR | null): boolean {
  return sameDefinition(a, b);
}

/**
 * Whether `list` has `item` with the same definition. A comment, an index's
 * storage parameters, `notValid` and a foreign key's `deferrable` are not
 * part of it: they change in place (diff/comments.ts, diff/table-options.ts,
 * diff/validity.ts, diff/deferrable.ts) rather than by dropping and
 * re-creating the object.
 */
export function hasSame<T extends { name: string }>(list: readonly T[], item: T): boolean {
  return list.some((x) => x.name === item.name && sameDefinition(x, item));
}

/**
 * What changes in place, left out of an object's definition (see `hasSame`);
 * `deferrable` only on a foreign key, the one constraint `ALTER CONSTRAINT`
 * changes (a unique's is part of its definition: dropped and added).
 */
const IN_PLACE: ReadonlySet<string> = new Set(['comment', 'notValid', 'with']);
const FK_IN_PLACE: ReadonlySet<string> = new Set([...IN_PLACE, 'deferrable']);
const inPlace = (x: object) => ('references' in x ? FK_IN_PLACE : IN_PLACE);
const NAME: ReadonlySet<string> = new Set(['name']);

/** The object without what changes in place (see `hasSame`). */
export function definition<T>(x: T): T {
  if (x === null || typeof x !== 'object') return x;
  const skip = inPlace(x);
  return Object.fromEntries(Object.entries(x).filter(([k]) => !skip.has(k))) as T;
}

/** Whether `a` and `b` have the same definition (`definition(a)` deeply equals `definition(b)`). */
export function sameDefinition(a: unknown, b: unknown): boolean {
  return sameValue(a, b, a !== null && typeof a === 'object' ? inPlace(a) : IN_PLACE);
}

export function sameIgnoringName<T extends { name: string }>(a: T, b: T): boolean {
  return sameValue(a, b, NAME);
}

/**
 * Deep equality of IR values (plain objects, arrays, primitives), a key that
 * holds `undefined` counting as absent, as in their JSON; `skip`: top-level
 * keys left out. Comparing by `JSON.stringify` was a third of a 500-table
 * diff's time.
 */
export function sameValue(a: unknown, b: unknown, skip?: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let keys = 0;
  for (const k in x) {
    if (x[k] === undefined || skip?.has(k)) continue;
    keys++;
    if (!sameValue(x[k], y[k])) return false;
  }
  for (const k in y) if (y[k] !== undefined && !skip?.has(k)) keys--;
  return keys === 0;
}
