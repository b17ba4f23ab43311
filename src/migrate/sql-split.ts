/**
 * Split a migration file into statements, the way psql does with `-f`.
 *
 * A `;` ends a statement unless it is inside a '...' string ('' escapes),
 * an E'...' string (backslash escapes too), a "quoted identifier", a
 * dollar-quoted body ($$...$$, $tag$...$tag$), a -- line comment, a nested
 * block comment, parentheses, or the BEGIN ... END of a SQL-standard function
 * body (`CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC ... END`).
 * The last two rules are psql's own heuristics (psqlscan.l), so a file that
 * `psql -f` runs statement by statement is split the same way here.
 *
 * Statements that hold nothing but whitespace and comments are dropped. A
 * statement's text starts at its first token (comments before it belong to
 * nobody) and ends at its last token (the `;` and trailing comments are left
 * out); comments inside it are kept.
 *
 * Tokens come from the shared lexer (src/sql/lexer.ts).
 */
import { scan } from '../sql/lexer.js';

export interface SqlStatement {
  /** The statement without its terminating `;`, from its first token to its last. */
  text: string;
  /** 0-based index of `text` in the input string (UTF-16 code units, i.e. JS string index). */
  start: number;
  /** 1-based line of `start`. */
  line: number;
}

export interface SqlLocation {
  /** The statement the position falls in (or, between statements, the next one; past the end, the last one). */
  statement: SqlStatement;
  /** 1-based line of the position in the whole input. */
  line: number;
  /** 1-based column of the position on that line (in characters). */
  column: number;
  /** 0-based JS string index of the position. */
  index: number;
}

export function splitStatements(sql: string): SqlStatement[] {
  const out: SqlStatement[] = [];
  const lines = lineStarts(sql);

  // Per-statement state.
  let start = -1; // index of the first token, -1 while none seen
  let end = -1; // index just past the last token
  let parenDepth = 0;
  let beginDepth = 0;
  let wordCount = 0;
  // Initials of the first four words when they are create/or/replace/function/procedure (psql's trick).
  let initials = '';

  const finish = () => {
    if (start >= 0) out.push({ text: sql.slice(start, end), start, line: lineAt(lines, start) });
    start = -1;
    end = -1;
    parenDepth = 0;
    beginDepth = 0;
    wordCount = 0;
    initials = '';
  };

  scan(sql, (kind, from, to) => {
    switch (kind) {
      case 'whitespace':
      case 'line-comment':
      case 'block-comment':
        return;
      case 'word': {
        // psql: inside CREATE [OR REPLACE] FUNCTION|PROCEDURE, BEGIN ... END (and CASE ... END
        // within it) protects semicolons, at parenthesis depth 0.
        const word = sql.slice(from, to).toLowerCase();
        if (wordCount < 4) {
          initials += ROUTINE_WORDS.has(word) ? word[0] : '-';
        }
        wordCount++;
        const routine = /^c(?:f|p|or[fp])/.test(initials);
        if (routine && parenDepth === 0) {
          if (word === 'begin') beginDepth++;
          else if (word === 'case' && beginDepth >= 1) beginDepth++;
          else if (word === 'end' && beginDepth > 0) beginDepth--;
        }
        break;
      }
      case 'punctuation': {
        const c = sql[from];
        if (c === ';' && parenDepth === 0 && beginDepth === 0) {
          finish();
          return;
        }
        if (c === '(') parenDepth++;
        else if (c === ')' && parenDepth > 0) parenDepth--;
        break;
      }
    }
    if (start < 0) start = from;
    end = to;
  });
  finish();
  return out;
}

const ROUTINE_WORDS = new Set(['create', 'or', 'replace', 'function', 'procedure']);

/**
 * Where a server error's `position` (1-based, counted in characters as the
 * server counts them, so a character outside the BMP counts once) falls in
 * `sql`: the statement, and the line and column. Null when `position` is not
 * a positive integer, or the input has no statements.
 */
export function locate(sql: string, position: number): SqlLocation | null {
  if (!Number.isInteger(position) || position < 1) return null;
  const statements = splitStatements(sql);
  if (statements.length === 0) return null;
  const index = Math.min(charOffsetToIndex(sql, position - 1), sql.length);
  let statement = statements[statements.length - 1]!;
  for (const s of statements) {
    if (index < s.start + s.text.length) {
      statement = s;
      break;
    }
  }
  const lines = lineStarts(sql);
  const line = lineAt(lines, index);
  const lineStart = lines[line - 1]!;
  return { statement, line, column: [...sql.slice(lineStart, index)].length + 1, index };
}

/** JS string index of the `offset`-th character (0-based, counting code points like the server). */
export function charOffsetToIndex(text: string, offset: number): number {
  let index = 0;
  for (let k = 0; k < offset && index < text.length; k++) {
    const code = text.charCodeAt(index);
    index += code >= 0xd800 && code <= 0xdbff && index + 1 < text.length ? 2 : 1;
  }
  return index;
}

/** 1-based line of a JS string index. */
export function lineOfIndex(sql: string, index: number): number {
  return lineAt(lineStarts(sql), index);
}

function lineStarts(sql: string): number[] {
  const starts = [0];
  for (let i = sql.indexOf('\n'); i >= 0; i = sql.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lineAt(starts: number[], index: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
