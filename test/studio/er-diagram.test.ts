/** The ER diagram's boxes fit their rows: as wide as the longest row within bounds, longer rows cut with a tooltip. */
import { describe, expect, it } from 'vitest';
import { defineSchema, integer, table, text, timestamptz } from '../../src/schema/index.js';
import { erDiagram } from '../../src/studio/er-diagram.js';

const widthOf = (svg: string) => Number(/<rect width="(\d+)"/.exec(svg)?.[1]);

describe('Studio ER diagram', () => {
  it('sizes every box for the longest row, marks keys in letters, and cuts what would not fit', () => {
    const short = defineSchema({ t: table('t', { id: integer().primaryKey(), n: text() }) }).toIR();
    expect(widthOf(erDiagram(short))).toBe(240);

    const authors = table('authors', {
      id: integer().primaryKey(),
      joined_at: timestamptz().notNull(),
    });
    const posts = table('posts', {
      id: integer().primaryKey(),
      author_id: integer().references(() => authors.columns.id),
    });
    const svg = erDiagram(defineSchema({ authors, posts }).toIR());
    // "joined_at: timestamp with time zone" (35 characters) no longer runs out of its 240 px box.
    expect(widthOf(svg)).toBeGreaterThanOrEqual(Math.ceil(20 + 35 * 7.3));
    expect(svg).toContain('>PK id: integer<');
    expect(svg).toContain('>FK author_id: integer<');
    expect(svg).not.toMatch(/\p{Extended_Pictographic}/u);

    const wide = defineSchema({
      w: table('w', { id: integer().primaryKey(), [`c_${'x'.repeat(58)}`]: timestamptz() }),
    }).toIR();
    const cut = erDiagram(wide);
    expect(widthOf(cut)).toBe(420);
    expect(cut).toMatch(/…<title>c_x{58}: timestamp with time zone<\/title>/);
  });
});
