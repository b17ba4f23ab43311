import { describe, expect, it } from 'vitest';
import { charOffsetToIndex, locate, splitStatements } from '../../src/migrate/sql-split.js';

const texts = (sql: string) => splitStatements(sql).map((s) => s.text);

const PLPGSQL = `create function bump() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  if new.note = ';' then
    raise notice 'semi; colon';
  end if;
  return new;
end;
$$;
create trigger t_bump before update on t for each row execute function bump();`;

const TAGGED = `do $body$
declare x text := $$inner; $$;
begin
  perform 1; -- a comment; with a semicolon
end
$body$;
select 2`;

const ATOMIC = `create or replace function add(a int, b int) returns int
language sql
begin atomic
  select case when a is null then 0 else a end + b;
end;
select add(1, 2);`;

describe('splitStatements', () => {
  const cases: Array<{ name: string; sql: string; expected: string[] }> = [
    { name: 'plain statements', sql: 'select 1; select 2;', expected: ['select 1', 'select 2'] },
    { name: 'last statement without ;', sql: 'select 1;\nselect 2', expected: ['select 1', 'select 2'] },
    { name: 'empty input', sql: '', expected: [] },
    { name: 'only whitespace and ;', sql: ' ;\n;\t; ', expected: [] },
    {
      name: 'comment-only statements dropped',
      sql: '-- hi;\n/* there; */;\nselect 1;\n-- bye',
      expected: ['select 1'],
    },
    {
      name: "'' escapes in strings",
      sql: "select 'it''s; fine'; select 2",
      expected: ["select 'it''s; fine'", 'select 2'],
    },
    {
      name: "E'' backslash escapes",
      sql: "select E'a\\'; b'; select e'\\\\'; select 3",
      expected: ["select E'a\\'; b'", "select e'\\\\'", 'select 3'],
    },
    {
      name: 'a word ending in e is not an E-string',
      sql: "select type'x;'; select 2",
      expected: ["select type'x;'", 'select 2'],
    },
    {
      name: 'standard string: backslash is literal',
      sql: "select 'a\\'; select 2",
      expected: ["select 'a\\'", 'select 2'],
    },
    {
      name: 'quoted identifiers',
      sql: 'create table "a;b" ("x""y;" int); select 1',
      expected: ['create table "a;b" ("x""y;" int)', 'select 1'],
    },
    { name: "U&'' strings", sql: "select U&'d\\0061t;a'; select 2", expected: ["select U&'d\\0061t;a'", 'select 2'] },
    { name: 'dollar quotes', sql: 'select $$a;b$$; select 2', expected: ['select $$a;b$$', 'select 2'] },
    {
      name: 'tagged dollar quotes with $$ inside',
      sql: TAGGED,
      expected: [TAGGED.slice(0, TAGGED.lastIndexOf(';')), 'select 2'],
    },
    { name: 'parameters are not dollar quotes', sql: 'select $1; select $2', expected: ['select $1', 'select $2'] },
    { name: '$ inside identifiers', sql: 'select a$b$; select 2', expected: ['select a$b$', 'select 2'] },
    {
      name: 'plpgsql function body with semicolons',
      sql: PLPGSQL,
      expected: [PLPGSQL.slice(0, PLPGSQL.indexOf('$$;') + 2), PLPGSQL.slice(PLPGSQL.indexOf('create trigger'), -1)],
    },
    {
      name: 'nested block comments',
      sql: 'select /* a /* b; */ c; */ 1; select 2',
      expected: ['select /* a /* b; */ c; */ 1', 'select 2'],
    },
    { name: 'line comments', sql: 'select 1 -- one; two\n; select 2', expected: ['select 1', 'select 2'] },
    {
      name: 'semicolons inside parentheses (rules)',
      sql: 'create rule r as on insert to t do also (insert into a values (1); insert into b values (2)); select 1',
      expected: [
        'create rule r as on insert to t do also (insert into a values (1); insert into b values (2))',
        'select 1',
      ],
    },
    {
      name: 'BEGIN ATOMIC function bodies (with CASE ... END)',
      sql: ATOMIC,
      expected: [ATOMIC.slice(0, ATOMIC.indexOf('end;') + 3), 'select add(1, 2)'],
    },
    {
      name: 'begin/end outside routines are ordinary words',
      sql: 'select 1 as begin; select 2 as "end"; select case when true then 1 end; select 4',
      expected: ['select 1 as begin', 'select 2 as "end"', 'select case when true then 1 end', 'select 4'],
    },
    {
      name: 'unterminated string runs to the end',
      sql: "select 1; select 'abc; def",
      expected: ['select 1', "select 'abc; def"],
    },
    { name: 'unterminated comment runs to the end', sql: 'select 1; /* abc; def', expected: ['select 1'] },
    {
      name: 'unterminated dollar quote runs to the end',
      sql: 'select 1; select $x$ a; b',
      expected: ['select 1', 'select $x$ a; b'],
    },
    { name: 'CRLF input', sql: 'select 1;\r\nselect 2;\r\n', expected: ['select 1', 'select 2'] },
  ];

  it.each(cases)('$name', ({ sql, expected }) => {
    expect(texts(sql)).toEqual(expected);
  });

  it('reports start offsets and 1-based lines of the first token', () => {
    const sql = '-- header\n\nselect 1;\n  /* c */ select\n  2;\n\n\ninsert into t values (1)';
    const got = splitStatements(sql);
    expect(got.map((s) => [s.text, s.line])).toEqual([
      ['select 1', 3],
      ['select\n  2', 4],
      ['insert into t values (1)', 8],
    ]);
    for (const s of got) expect(sql.slice(s.start, s.start + s.text.length)).toBe(s.text);
  });
});

describe('locate', () => {
  const sql = 'create table a (x int);\n\ninsert into a values (1);\ninsert into nope\n  values (2);\n';

  it('finds the statement, line and column of a server position', () => {
    const position = sql.indexOf('nope') + 1; // 1-based, as the server reports it
    const loc = locate(sql, position)!;
    expect(loc.statement.text).toBe('insert into nope\n  values (2)');
    expect(loc.statement.line).toBe(4);
    expect(loc.line).toBe(4);
    expect(loc.column).toBe('insert into '.length + 1);
    expect(loc.index).toBe(position - 1);
  });

  it('finds later lines inside a multi-line statement', () => {
    const loc = locate(sql, sql.indexOf('(2)') + 1)!;
    expect(loc.statement.line).toBe(4);
    expect(loc.line).toBe(5);
  });

  it('counts characters like the server (a character outside the BMP counts once)', () => {
    const text = "select '😀😀';\nselect nope;";
    // The server counts code points: the emoji are 1 character each.
    const serverPosition = [...text.slice(0, text.indexOf('nope'))].length + 1;
    expect(serverPosition).toBe(text.indexOf('nope') - 1);
    const loc = locate(text, serverPosition)!;
    expect(loc.statement.text).toBe('select nope');
    expect(loc.line).toBe(2);
    expect(loc.column).toBe(8);
    expect(charOffsetToIndex(text, serverPosition - 1)).toBe(text.indexOf('nope'));
  });

  it('maps a position between statements to the next one, past the end to the last', () => {
    expect(locate(sql, sql.indexOf('\n\n') + 2)!.statement.text).toBe('insert into a values (1)');
    expect(locate(sql, sql.length + 50)!.statement.text).toBe('insert into nope\n  values (2)');
  });

  it('returns null for nonsense', () => {
    expect(locate(sql, 0)).toBeNull();
    expect(locate(sql, 1.5)).toBeNull();
    expect(locate('-- nothing', 1)).toBeNull();
  });
});
