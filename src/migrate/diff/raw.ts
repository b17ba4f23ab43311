/**
 * Changes to `raw()` SQL, by name: a new raw runs its `up`, a removed one its
 * `down`, a changed one both (old `down`, then new `up`). Each change
 * carries a marker comment (`-- raw() applied: {...}` / `-- raw() undone: "name"`)
 * in the migration it lands in: introspection cannot see most raw objects,
 * so later `migrate new` runs read what is applied from those markers
 * (schema/raw.ts `rawFromMigrations`). Raws run before functions and tables
 * and are undone after them; `last` ones run after everything and are
 * undone first.
 */
import type { RawIR, SchemaIR } from '../../schema/ir.js';
import { RAW_MARKER, UNRAW_MARKER } from '../../schema/raw.js';
import { type Change, change } from './change.js';

// A comment "statement": the migration file gets a `;` after it, inside the comment.
const marker = (r: RawIR) => `${RAW_MARKER}${JSON.stringify(r)}`;
const unmarker = (r: RawIR) => `${UNRAW_MARKER}${JSON.stringify(r.name)}`;

function addRaw(r: RawIR): Change {
  return change('main', `raw ${r.name}`, [marker(r), r.up], [r.down]);
}

function removeRaw(r: RawIR): Change {
  return change('main', `undo raw ${r.name}`, [unmarker(r), r.down], [r.up]);
}

export interface RawChanges {
  /** Changed raws, and removed `last` ones: before triggers and tables go. */
  undoFirst: Change[];
  /** New or changed raws: before functions and tables. */
  doFirst: Change[];
  /** New or changed `last` raws: after everything. */
  doLast: Change[];
  /** Removed raws (not `last`): after tables and functions went. */
  undoLast: Change[];
}

export function rawChanges(from: SchemaIR, to: SchemaIR): RawChanges {
  const out: RawChanges = { undoFirst: [], doFirst: [], doLast: [], undoLast: [] };
  const olds = new Map((from.raw ?? []).map((r) => [r.name, r]));
  const news = new Map((to.raw ?? []).map((r) => [r.name, r]));
  const same = (a: RawIR, b: RawIR) => JSON.stringify(a) === JSON.stringify(b);
  // Undone in reverse declaration order, done in declaration order.
  for (const old of [...(from.raw ?? [])].reverse()) {
    const next = news.get(old.name);
    if (next && same(old, next)) continue;
    // A changed raw is undone before it is done again; a removed one after what may use it went.
    (old.last || next ? out.undoFirst : out.undoLast).push(removeRaw(old));
  }
  for (const next of to.raw ?? []) {
    const old = olds.get(next.name);
    if (old && same(old, next)) continue;
    (next.last ? out.doLast : out.doFirst).push(addRaw(next));
  }
  return out;
}
