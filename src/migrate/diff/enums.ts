/** Changes to enum types: create, drop, add/rename/remove values. */
import { commentSql } from '../../schema/comments.js';
import { quoteIdent as q } from '../../schema/identifiers.js';
import type { EnumIR, SchemaIR } from '../../schema/ir.js';
import { literal } from '../../schema/sql.js';
import { alter, type Change, change, sameList } from './change.js';

export function createEnum(e: EnumIR): Change {
  return change(
    'main',
    `create enum ${e.name}`,
    [`CREATE TYPE ${q(e.name)} AS ENUM (${e.values.map(literal).join(', ')})`],
    [`DROP TYPE ${q(e.name)}`],
  );
}

export function dropEnum(e: EnumIR): Change {
  return {
    ...change(
      'main',
      `drop enum ${e.name}`,
      [`DROP TYPE ${q(e.name)}`],
      [
        `CREATE TYPE ${q(e.name)} AS ENUM (${e.values.map(literal).join(', ')})`,
        ...(e.comment !== undefined ? [commentSql({ kind: 'type', name: e.name }, e.comment)] : []),
      ],
    ),
  };
}

/**
 * Added values keep existing rows valid and need no rewrite: `ADD VALUE`
 * (in the `expand` phase, committed before any use). Removing or reordering
 * values rebuilds the type; rows holding a removed value make it fail, which
 * is the point: migrate that data first.
 */
export function enumValueChanges(old: EnumIR, next: EnumIR, renamed: SchemaIR, labelsRenamed: SchemaIR): Change[] {
  const kept = next.values.filter((v) => old.values.includes(v));
  if (old.values.length > 0 && sameList(kept, old.values)) {
    // Values are added in order, so each new one can be placed after its predecessor.
    const up = next.values.flatMap((v, i) => {
      if (old.values.includes(v)) return [];
      const position = i > 0 ? `AFTER ${literal(next.values[i - 1])}` : `BEFORE ${literal(kept[0])}`;
      return [`ALTER TYPE ${q(next.name)} ADD VALUE IF NOT EXISTS ${literal(v)} ${position}`];
    });
    // Undone after the main migration is, so the columns are those of the original schema,
    // but with labels renamed in this (expand) migration still renamed.
    const down = rebuildEnum(next, old.values, labelsRenamed, old.comment);
    return [change('expand', `add values to enum ${next.name}`, up, down)];
  }
  const description = `rebuild enum ${next.name} (${old.values.join(', ')} -> ${next.values.join(', ')})`;
  return [
    {
      ...change(
        'main',
        description,
        rebuildEnum(old, next.values, renamed, old.comment),
        rebuildEnum(next, old.values, renamed, old.comment),
      ),
      destructive: true,
    },
  ];
}

/**
 * Statements that swap enum `e` for a new type with `values`, converting every
 * column that uses it. The new type gets `comment`, the one the type has when
 * the rebuild runs: the old schema's both ways (a changed comment is set
 * after the rebuild, and undone before its undo).
 */
function rebuildEnum(e: EnumIR, values: readonly string[], schema: SchemaIR, comment: string | undefined): string[] {
  const tmp = q(`${e.name}__old`);
  const name = q(e.name);
  const out = [
    `ALTER TYPE ${name} RENAME TO ${tmp}`,
    `CREATE TYPE ${name} AS ENUM (${values.map(literal).join(', ')})`,
    ...(comment !== undefined ? [commentSql({ kind: 'type', name: e.name }, comment)] : []),
  ];
  for (const t of schema.tables) {
    for (const c of t.columns) {
      const isArray = c.type === `${name}[]`;
      if (c.type !== name && !isArray) continue;
      if (c.default !== null) out.push(`${alter(t.name)} ALTER COLUMN ${q(c.name)} DROP DEFAULT`);
      const cast = isArray ? `${q(c.name)}::text[]::${name}[]` : `${q(c.name)}::text::${name}`;
      out.push(`${alter(t.name)} ALTER COLUMN ${q(c.name)} TYPE ${c.type} USING ${cast}`);
      // The introspected default names the type (`'free'::tier`), so it now resolves to the new one.
      if (c.default !== null) out.push(`${alter(t.name)} ALTER COLUMN ${q(c.name)} SET DEFAULT ${c.default}`);
    }
  }
  out.push(`DROP TYPE ${tmp}`);
  return out;
}
