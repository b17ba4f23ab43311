import type { Schema } from '../schema/schema.js';

/**
 * Rename hints from the DSL (`renamedFrom`, `renamedValues`). Names are
 * new → old. They only act when the old name exists and the new one does
 * not, so leaving them in the schema after the migration is harmless.
 */
export interface RenameHints {
  tables: Map<string, string>;
  /** table (new name) → column new → old */
  columns: Map<string, Map<string, string>>;
  /** enum → value new → old */
  enumValues: Map<string, Map<string, string>>;
}

export const NO_HINTS: RenameHints = { tables: new Map(), columns: new Map(), enumValues: new Map() };

export function renameHints(schema: Schema): RenameHints {
  const hints: RenameHints = { tables: new Map(), columns: new Map(), enumValues: new Map() };
  for (const t of schema.tables) {
    if (t.previousName) hints.tables.set(t.name, t.previousName);
    const cols = new Map<string, string>();
    for (const c of Object.values(t.columns)) if (c.def.renamedFrom) cols.set(c.name, c.def.renamedFrom);
    if (cols.size > 0) hints.columns.set(t.name, cols);
  }
  for (const e of schema.enums) {
    const values = Object.entries(e.renamedValues ?? {});
    if (values.length > 0) hints.enumValues.set(e.enumName, new Map(values));
  }
  return hints;
}
