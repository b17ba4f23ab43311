import { describe, expect, it } from 'vitest';
import { renameColumnRefs, renameEnumLabels, tokenize } from '../../src/migrate/expressions.js';

describe('tokenize', () => {
  it('gives back the input, with literals, quoted names and comments as single tokens', () => {
    const text = `(a > 0) AND "b ""c""" = E'it\\'s' || 'x''y' || $t$z$t$ /* id */ -- id\n OR 1.5e-3 < d`;
    const tokens = tokenize(text);
    expect(tokens.map((t) => t.text).join('')).toBe(text);
    expect(tokens.find((t) => t.kind === 'quoted')?.value).toBe('b "c"');
    expect(tokens.filter((t) => t.kind === 'string').map((t) => t.text)).toEqual([`E'it\\'s'`, `'x''y'`, '$t$z$t$']);
    expect(tokens.filter((t) => t.kind === 'word').map((t) => t.value)).toEqual(['a', 'AND', 'OR', 'd']);
  });
});

describe('renameColumnRefs', () => {
  const renames = new Map([
    ['qty', 'quantity'],
    ['Code', 'two words'],
    ['x', 'select'],
  ]);
  const cases: [string, string][] = [
    ['(qty > 0)', '(quantity > 0)'],
    [`((qty >= 0) AND ("Code" <> 'qty'::text))`, `((quantity >= 0) AND ("two words" <> 'qty'::text))`],
    ['lower((x)::text)', 'lower(("select")::text)'],
    // not column references: type names, function names, qualified names, field names, collations
    ['(qty)::qty', '(quantity)::qty'],
    ['qty(1) + qty', 'qty(1) + quantity'],
    ['other.qty = qty', 'other.qty = quantity'],
    ['(x).qty', '("select").qty'],
    ['((x)::text COLLATE "Code")', '(("select")::text COLLATE "Code")'],
    ['(qty)::timestamp with time zone', '(quantity)::timestamp with time zone'],
    // literals and comments are left alone; a keyword is not a column
    [`E'qty\\'' || $$qty$$ || qty /* qty */`, `E'qty\\'' || $$qty$$ || quantity /* qty */`],
    ['1e5 + qty', '1e5 + quantity'],
  ];
  for (const [from, to] of cases) {
    it(`${from} → ${to}`, () => expect(renameColumnRefs(from, renames)).toBe(to));
  }

  it('matches a name Postgres would quote only in its quoted spelling', () => {
    const keyword = new Map([['desc', 'c2']]);
    expect(renameColumnRefs('("desc" > 0)', keyword)).toBe('(c2 > 0)');
    expect(renameColumnRefs('(desc > 0)', keyword)).toBe('(desc > 0)');
    expect(renameColumnRefs('(Code > 0)', renames)).toBe('(Code > 0)');
  });
});

describe('renameEnumLabels', () => {
  const labels = new Map([
    ['l2', 'l3'],
    ['a b', 'x"y'],
  ]);
  it('renames the labels of that enum only', () => {
    expect(renameEnumLabels(`'l2'::e1`, 'e1', labels)).toBe(`'l3'::e1`);
    expect(renameEnumLabels(`'l2'::e2`, 'e1', labels)).toBe(`'l2'::e2`);
    expect(renameEnumLabels(`'l2'::text`, 'e1', labels)).toBe(`'l2'::text`);
    expect(renameEnumLabels(`(c = ANY (ARRAY['l2'::e1, 'l9'::e1]))`, 'e1', labels)).toBe(
      `(c = ANY (ARRAY['l3'::e1, 'l9'::e1]))`,
    );
    expect(renameEnumLabels(`'x'::"Mood"`, 'Mood', new Map([['x', 'y']]))).toBe(`'y'::"Mood"`);
  });
  it('renames inside array literals', () => {
    expect(renameEnumLabels(`'{l2,"a b",NULL}'::e1[]`, 'e1', labels)).toBe(`'{l3,"x\\"y",NULL}'::e1[]`);
    expect(renameEnumLabels(`'{}'::e1[]`, 'e1', labels)).toBe(`'{}'::e1[]`);
  });
});
