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
 */

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

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

export function splitStatements(sql: string): SqlStatement[] {
  const out: SqlStatement[] = [];
  const lines = lineStarts(sql);
  const n = sql.length;

  // Per-statement state.
  let start = -1; // index of the first token, -1 while none seen
  let end = -1; // index just past the last token
  let parenDepth = 0;
  let beginDepth = 0;
  let wordCount = 0;
  // Initials of the first four words when they are create/or/replace/function/procedure (psql's trick).
  let initials = '';

  const token = (from: number, to: number) => {
    if (start < 0) start = from;
    end = to;
  };
  const finish = () => {
    if (start >= 0) out.push({ text: sql.slice(start, end), start, line: lineAt(lines, start) });
    start = -1;
    end = -1;
    parenDepth = 0;
    beginDepth = 0;
    wordCount = 0;
    initials = '';
  };

  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];

    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
    } else if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i);
    } else if (c === "'") {
      const to = skipQuoted(sql, i, "'", false);
      token(i, to);
      i = to;
    } else if (c === '"') {
      const to = skipQuoted(sql, i, '"', false);
      token(i, to);
      i = to;
    } else if (c === '$') {
      DOLLAR_TAG.lastIndex = i;
      const m = DOLLAR_TAG.exec(sql);
      let to: number;
      if (m) {
        const close = sql.indexOf(m[0], i + m[0].length);
        to = close < 0 ? n : close + m[0].length;
      } else {
        // A parameter ($1) or a stray dollar.
        to = i + 1;
        while (to < n && /[0-9]/.test(sql[to]!)) to++;
      }
      token(i, to);
      i = to;
    } else if (WORD_START.test(c)) {
      let to = i + 1;
      while (to < n && WORD_PART.test(sql[to]!)) to++;
      const word = sql.slice(i, to).toLowerCase();
      if (word === 'e' && sql[to] === "'") {
        to = skipQuoted(sql, to, "'", true);
      } else if (word === 'u' && sql[to] === '&' && (sql[to + 1] === "'" || sql[to + 1] === '"')) {
        to = skipQuoted(sql, to + 1, sql[to + 1]!, false);
      } else {
        // psql: inside CREATE [OR REPLACE] FUNCTION|PROCEDURE, BEGIN ... END (and CASE ... END
        // within it) protects semicolons, at parenthesis depth 0.
        if (wordCount < 4) {
          initials += ['create', 'or', 'replace', 'function', 'procedure'].includes(word) ? word[0] : '-';
        }
        wordCount++;
        const routine = /^c(?:f|p|or[fp])/.test(initials);
        if (routine && parenDepth === 0) {
          if (word === 'begin') beginDepth++;
          else if (word === 'case' && beginDepth >= 1) beginDepth++;
          else if (word === 'end' && beginDepth > 0) beginDepth--;
        }
      }
      token(i, to);
      i = to;
    } else if (c === ';') {
      if (parenDepth === 0 && beginDepth === 0) finish();
      else token(i, i + 1);
      i++;
    } else {
      if (c === '(') parenDepth++;
      else if (c === ')' && parenDepth > 0) parenDepth--;
      token(i, i + 1);
      i++;
    }
  }
  finish();
  return out;
}

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

/** Index just past a quoted run starting at `i` (the opening quote); doubled quotes escape; unterminated → end. */
export function skipQuoted(sql: string, i: number, quote: string, backslashes: boolean): number {
  let j = i + 1;
  while (j < sql.length) {
    const c = sql[j];
    if (backslashes && c === '\\') {
      j += 2;
    } else if (c === quote) {
      if (sql[j + 1] === quote) j += 2;
      else return j + 1;
    } else {
      j++;
    }
  }
  return sql.length;
}

/** Index just past a (nested) block comment starting at `i`; unterminated → end. */
export function skipBlockComment(sql: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < sql.length) {
    if (sql[j] === '/' && sql[j + 1] === '*') {
      depth++;
      j += 2;
    } else if (sql[j] === '*' && sql[j + 1] === '/') {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else {
      j++;
    }
  }
  return sql.length;
}
