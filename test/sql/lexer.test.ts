import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokenize as expressionTokens } from '../../src/migrate/expressions.js';
import { tokenize as lintTokens } from '../../src/migrate/lint/tokens.js';
import { splitStatements } from '../../src/migrate/sql-split.js';
import { lex, type SqlToken, scan } from '../../src/sql/lexer.js';

/** kind:text pairs, whitespace left out, for compact expectations. */
const shape = (sql: string) =>
  lex(sql)
    .filter((t) => t.kind !== 'whitespace')
    .map((t) => [t.kind, t.text]);

/** Where the tokens fail to tile `sql` exactly (text at its offsets, in order, nothing empty), or null. */
function tilingError(sql: string, tokens: SqlToken[]): string | null {
  let at = 0;
  for (const [k, t] of tokens.entries()) {
    if (
      t.start !== at ||
      t.end !== t.start + t.text.length ||
      t.text.length === 0 ||
      sql.slice(t.start, t.end) !== t.text
    ) {
      return `token ${k} ${JSON.stringify(t)} at ${at}`;
    }
    at = t.end;
  }
  if (at !== sql.length) return `tokens end at ${at} of ${sql.length}`;
  return tokens.map((t) => t.text).join('') === sql ? null : 'texts do not join back';
}

const expectLossless = (sql: string, tokens: SqlToken[]): void => {
  expect(tilingError(sql, tokens)).toBeNull();
};

// Fragments that exercise every rule, glued together in any order: quotes that
// open and do not close, dollar tags that match or not, comments in comments.
const fragment = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      ' ',
      '\n',
      '\t',
      '\r\n',
      '\f',
      '\v',
      '\uFEFF',
      '\u00a0',
      ';',
      '(',
      ')',
      '[',
      ']',
      ',',
      '.',
      ':',
      '::',
      "'",
      "''",
      '"',
      '""',
      "E'",
      "e'",
      "b'",
      "X'",
      "n'",
      "U&'",
      'U&"',
      'u&',
      '\\',
      "\\'",
      '\\\\',
      '$',
      '$$',
      '$a$',
      '$A_1$',
      '$1',
      '$12',
      '$é$',
      '--',
      '-- c\n',
      '/*',
      '*/',
      '/* a /* b */ c */',
      'select',
      'CREATE',
      'e',
      'E',
      'u',
      'x1',
      '_a$b',
      'é',
      '\u{1F600}',
      '1',
      '1.5',
      '.5',
      '1e',
      '1e-3',
      '1_000',
      '+',
      '-',
      '*',
      '/',
      '<>',
      '=',
      '!=',
      '||',
      '@>',
      '~',
      '?',
      '`',
      '%',
      '#',
      '^',
      '&',
      '|',
      '{',
      '}',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
);
const sqlish = fc.array(fragment, { maxLength: 60 }).map((parts) => parts.join(''));

describe('lex: lossless', () => {
  it('joins back to any unicode string, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (sql) => expectLossless(sql, lex(sql))),
      { numRuns: 2000 },
    );
  });

  it('joins back to generated SQL-ish text (quotes, dollar tags, nested comments, E escapes)', () => {
    fc.assert(
      fc.property(sqlish, (sql) => expectLossless(sql, lex(sql))),
      { numRuns: 3000 },
    );
  });

  it('marks as unterminated only a last token that runs to the end', () => {
    fc.assert(
      fc.property(sqlish, (sql) => {
        const tokens = lex(sql);
        tokens.forEach((t, k) => {
          if (t.unterminated) {
            expect(k).toBe(tokens.length - 1);
            expect(['string', 'quoted-identifier', 'dollar-string', 'block-comment']).toContain(t.kind);
          }
        });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('lex: token kinds', () => {
  it('words: letters, digits, _ and $ after the first, non-ASCII included', () => {
    expect(shape('select _a1$b é\u{1F600}x Ünïcode')).toEqual([
      ['word', 'select'],
      ['word', '_a1$b'],
      ['word', 'é\u{1F600}x'],
      ['word', 'Ünïcode'],
    ]);
  });

  it('quoted identifiers, with "" inside and the U& form', () => {
    expect(shape('"a ""b"" c" U&"d\\0061t" "x;y"')).toEqual([
      ['quoted-identifier', '"a ""b"" c"'],
      ['quoted-identifier', 'U&"d\\0061t"'],
      ['quoted-identifier', '"x;y"'],
    ]);
  });

  it("strings: '' doubles a quote, a backslash is plain (standard_conforming_strings), E'' escapes with it", () => {
    expect(shape(`'it''s' 'a\\' 'b' E'it\\'s' e'\\\\' N'n' B'01' x'ff' U&'\\0041'`)).toEqual([
      ['string', "'it''s'"],
      ['string', "'a\\'"],
      ['string', "'b'"],
      ['string', "E'it\\'s'"],
      ['string', "e'\\\\'"],
      ['string', "N'n'"],
      ['string', "B'01'"],
      ['string', "x'ff'"],
      ['string', "U&'\\0041'"],
    ]);
  });

  it('a prefix letter is only a prefix when it is the whole word before the quote', () => {
    expect(shape("ee'x' u'y'")).toEqual([
      ['word', 'ee'],
      ['string', "'x'"],
      ['word', 'u'],
      ['string', "'y'"],
    ]);
  });

  it('dollar-quoted strings: $$, $tag$, nothing escaped inside, other tags ignored', () => {
    expect(shape("$$it's; $x$ \\$$ $fn$ $$ ; $fn$ $a$b$a$")).toEqual([
      ['dollar-string', "$$it's; $x$ \\$$"],
      ['dollar-string', '$fn$ $$ ; $fn$'],
      ['dollar-string', '$a$b$a$'],
    ]);
  });

  it('parameters and a lone dollar; a digit cannot start a tag', () => {
    expect(shape('$1 + $23 $ $1$')).toEqual([
      ['parameter', '$1'],
      ['operator', '+'],
      ['parameter', '$23'],
      ['parameter', '$'],
      ['parameter', '$1'],
      ['parameter', '$'],
    ]);
  });

  it('numbers: integers, decimals, exponents, underscores; the sign is an operator', () => {
    expect(shape('42 1.5 .5 3. 1e10 2.5E-3 1_000 -7 1e')).toEqual([
      ['number', '42'],
      ['number', '1.5'],
      ['number', '.5'],
      ['number', '3.'],
      ['number', '1e10'],
      ['number', '2.5E-3'],
      ['number', '1_000'],
      ['operator', '-'],
      ['number', '7'],
      ['number', '1'],
      ['word', 'e'],
    ]);
  });

  it('operators run together but stop where a comment starts', () => {
    expect(shape('a<>b||c @> d+-- c\n*/* c */-')).toEqual([
      ['word', 'a'],
      ['operator', '<>'],
      ['word', 'b'],
      ['operator', '||'],
      ['word', 'c'],
      ['operator', '@>'],
      ['word', 'd'],
      ['operator', '+'],
      ['line-comment', '-- c'],
      ['operator', '*'],
      ['block-comment', '/* c */'],
      ['operator', '-'],
    ]);
  });

  it('punctuation: one character each, except ::', () => {
    expect(shape('f(a, b)[1]::text; s.t:x')).toEqual([
      ['word', 'f'],
      ['punctuation', '('],
      ['word', 'a'],
      ['punctuation', ','],
      ['word', 'b'],
      ['punctuation', ')'],
      ['punctuation', '['],
      ['number', '1'],
      ['punctuation', ']'],
      ['punctuation', '::'],
      ['word', 'text'],
      ['punctuation', ';'],
      ['word', 's'],
      ['punctuation', '.'],
      ['word', 't'],
      ['punctuation', ':'],
      ['word', 'x'],
    ]);
  });

  it('whitespace: runs of space, tab, newlines, form feed, vertical tab, and a leading byte-order mark', () => {
    expect(lex('\uFEFF \t\r\n\f\vx').map((t) => [t.kind, t.text])).toEqual([
      ['whitespace', '\uFEFF \t\r\n\f\v'],
      ['word', 'x'],
    ]);
    // Anywhere else a BOM or a no-break space is an identifier character, as in Postgres.
    expect(lex('x\uFEFF\u00a0y').map((t) => t.kind)).toEqual(['word']);
  });

  it('line comments stop before the newline; block comments nest', () => {
    expect(lex('-- a /* b\nx /* 1 /* 2 */ 3 */y').map((t) => [t.kind, t.text])).toEqual([
      ['line-comment', '-- a /* b'],
      ['whitespace', '\n'],
      ['word', 'x'],
      ['whitespace', ' '],
      ['block-comment', '/* 1 /* 2 */ 3 */'],
      ['word', 'y'],
    ]);
  });

  it('offsets are JS string indexes', () => {
    expect(lex('é\u{1F600} x').map((t) => [t.start, t.end])).toEqual([
      [0, 3],
      [3, 4],
      [4, 5],
    ]);
  });
});

describe('lex: unterminated tokens run to the end of the input, marked, without throwing', () => {
  const cases: [string, string, SqlToken['kind']][] = [
    ['string', "select 'abc; def", 'string'],
    ['string ending on a doubled quote', "select 'ab''", 'string'],
    ["E'' string ending on an escaped quote", "select E'ab\\'", 'string'],
    ["E'' string ending on a backslash", "select E'ab\\", 'string'],
    ['quoted identifier', 'select "ab; c', 'quoted-identifier'],
    ['U& identifier', 'select U&"ab', 'quoted-identifier'],
    ['dollar-quoted string', 'select $f$ body; $g$', 'dollar-string'],
    ['block comment', 'select 1 /* a; /* b */ c', 'block-comment'],
  ];
  for (const [name, sql, kind] of cases) {
    it(name, () => {
      const tokens = lex(sql);
      const last = tokens.at(-1)!;
      expect(last.kind).toBe(kind);
      expect(last.unterminated).toBe(true);
      expect(last.end).toBe(sql.length);
      expect(tokens.filter((t) => t.unterminated)).toHaveLength(1);
    });
  }

  it('a closed token is not marked', () => {
    expect(lex(`'a' "b" $$c$$ /* d */ E'\\''`).some((t) => t.unterminated)).toBe(false);
  });

  it('a line comment needs no newline at the end', () => {
    expect(lex('x -- end').at(-1)).toEqual({ kind: 'line-comment', text: '-- end', start: 2, end: 8 });
  });
});

describe('the splitter, the linter and the expression rewriter read the same tokens', () => {
  it('scan() reports exactly what lex() returns', () => {
    fc.assert(
      fc.property(sqlish, (sql) => {
        const scanned: SqlToken[] = [];
        scan(sql, (kind, start, end, unterminated) => {
          const t: SqlToken = { kind, text: sql.slice(start, end), start, end };
          if (unterminated) t.unterminated = true;
          scanned.push(t);
        });
        expect(scanned).toEqual(lex(sql));
      }),
      { numRuns: 500 },
    );
  });

  it('statements start and end on token boundaries, and only a ; token separates them', () => {
    fc.assert(
      fc.property(sqlish, (sql) => {
        const tokens = lex(sql);
        const starts = new Set(tokens.map((t) => t.start));
        const ends = new Set(tokens.map((t) => t.end));
        const statements = splitStatements(sql);
        for (const [k, s] of statements.entries()) {
          expect(starts.has(s.start)).toBe(true);
          expect(ends.has(s.start + s.text.length)).toBe(true);
          const next = statements[k + 1];
          if (next === undefined) continue;
          const between = tokens.filter((t) => t.start >= s.start + s.text.length && t.end <= next.start);
          expect(between.some((t) => t.kind === 'punctuation' && t.text === ';')).toBe(true);
          expect(
            between.every((t) => ['whitespace', 'line-comment', 'block-comment', 'punctuation'].includes(t.kind)),
          ).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("the linter's tokens are the lexer's, whitespace and comments left out", () => {
    fc.assert(
      fc.property(sqlish, (sql) => {
        const significant = lex(sql).filter((t) => !['whitespace', 'line-comment', 'block-comment'].includes(t.kind));
        expect(lintTokens(sql).map((t) => [t.start, t.end])).toEqual(significant.map((t) => [t.start, t.end]));
      }),
      { numRuns: 500 },
    );
  });

  it("the expression rewriter's tokens join back to its input", () => {
    fc.assert(
      fc.property(sqlish, (sql) => {
        expect(
          expressionTokens(sql)
            .map((t) => t.text)
            .join(''),
        ).toBe(sql);
      }),
      { numRuns: 500 },
    );
  });
});
