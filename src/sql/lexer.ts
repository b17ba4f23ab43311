/**
 * The one SQL lexer: the statement splitter (migrate/sql-split.ts), the
 * migration linter (migrate/lint.ts) and the expression rewriter
 * (migrate/expressions.ts) all read SQL through it, so a quote, a dollar tag
 * or a comment means the same thing to all three.
 *
 * It is lossless: every character of the input belongs to exactly one token,
 * in order, so joining the tokens' texts gives the input back and `start`/
 * `end` are JS string indexes into it. Whitespace and comments are tokens too;
 * callers that do not care skip them.
 *
 * The rules are PostgreSQL's (scan.l, psqlscan.l) with
 * standard_conforming_strings on, as far as the callers need them:
 *
 * - `word`: an unquoted identifier or keyword, `[A-Za-z_\x80-\uffff]` then
 *   also digits and `$` (every non-ASCII code unit is an identifier
 *   character, as Postgres treats every byte above 0x7f).
 * - `quoted-identifier`: `"..."` (`""` escapes a quote), or `U&"..."`.
 * - `string`: `'...'` (`''` escapes a quote; a backslash is an ordinary
 *   character), `E'...'` (backslash escapes too), `B'...'`, `X'...'`,
 *   `N'...'`, `U&'...'`; the prefix is part of the token.
 * - `dollar-string`: `$$...$$` or `$tag$...$tag$`, nothing escaped inside.
 * - `parameter`: `$` followed by digits (`$1`); a lone `$` is one too.
 * - `number`: `12`, `1_000`, `1.5`, `.5`, `1e-3` (a sign is an operator).
 * - `operator`: a run of `+-*\/<>=~!@#%^&|\`?`, ended before `--` or `/*`.
 * - `punctuation`: `::`, or any other single character (`( ) [ ] , ; . :`...).
 * - `whitespace`: space, tab, newline, carriage return, form feed, vertical
 *   tab; and a byte-order mark at the very start of the input (editors write
 *   one; it is not part of the SQL).
 * - `line-comment`: `--` up to, not including, the next newline.
 * - `block-comment`: `/* ... *\/`, nested as Postgres nests them.
 *
 * Nothing here throws: a string, quoted identifier, dollar-quoted string or
 * block comment that is not closed runs to the end of the input and is
 * marked `unterminated` (the server reports the syntax error, with its
 * position, when the statement runs).
 */

export type SqlTokenKind =
  | 'word'
  | 'quoted-identifier'
  | 'string'
  | 'dollar-string'
  | 'parameter'
  | 'number'
  | 'operator'
  | 'punctuation'
  | 'whitespace'
  | 'line-comment'
  | 'block-comment';

export interface SqlToken {
  kind: SqlTokenKind;
  /** The token exactly as written (quotes, prefix and escapes included). */
  text: string;
  /** JS string index of the token's first character in the input. */
  start: number;
  /** JS string index just past the token (`start + text.length`). */
  end: number;
  /** Set on a string, quoted identifier, dollar-quoted string or block comment that the input ends inside. */
  unterminated?: true;
}

const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;
const NUMBER = /(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?/y;

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);
const isDigit = (c: number) => c >= 48 && c <= 57;
const isWordStart = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 0x80;
const isWordPart = (c: number) => isWordStart(c) || isDigit(c) || c === 36;
/** `+ - * / < > = ~ ! @ # % ^ & | \` ?` */
const isOperatorChar = (c: number) =>
  c === 43 ||
  c === 45 ||
  c === 42 ||
  c === 47 ||
  c === 60 ||
  c === 62 ||
  c === 61 ||
  c === 126 ||
  c === 33 ||
  c === 64 ||
  c === 35 ||
  c === 37 ||
  c === 94 ||
  c === 38 ||
  c === 124 ||
  c === 96 ||
  c === 63;

const QUOTE = 39; // '
const DQUOTE = 34; // "
const BACKSLASH = 92;

/** Split `sql` into tokens whose texts, joined, are `sql`. */
export function lex(sql: string): SqlToken[] {
  const out: SqlToken[] = [];
  scan(sql, (kind, start, end, unterminated) => {
    const token: SqlToken = { kind, text: sql.slice(start, end), start, end };
    if (unterminated) token.unterminated = true;
    out.push(token);
  });
  return out;
}

/**
 * The tokens of `sql`, in order, handed to `onToken` as they are found
 * instead of collected: what `lex` does, without allocating a token object
 * per token (the splitter reads whole multi-megabyte dumps through this).
 */
export function scan(
  sql: string,
  onToken: (kind: SqlTokenKind, start: number, end: number, unterminated: boolean) => void,
): void {
  const n = sql.length;
  let i = 0;
  const push = (kind: SqlTokenKind, end: number, unterminated = false) => {
    onToken(kind, i, end, unterminated);
    i = end;
  };

  while (i < n) {
    const c = sql.charCodeAt(i);
    const next = i + 1 < n ? sql.charCodeAt(i + 1) : -1;

    if (isSpace(c) || (c === 0xfeff && i === 0)) {
      let to = i + 1;
      while (to < n && isSpace(sql.charCodeAt(to))) to++;
      push('whitespace', to);
    } else if (c === 45 && next === 45) {
      const nl = sql.indexOf('\n', i);
      push('line-comment', nl < 0 ? n : nl);
    } else if (c === 47 && next === 42) {
      const to = blockCommentEnd(sql, i);
      push('block-comment', to < 0 ? n : to, to < 0);
    } else if (c === QUOTE || c === DQUOTE) {
      const to = quotedEnd(sql, i, c, false);
      push(c === QUOTE ? 'string' : 'quoted-identifier', to < 0 ? n : to, to < 0);
    } else if (c === 36) {
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(sql)?.[0];
      if (tag !== undefined) {
        const close = sql.indexOf(tag, i + tag.length);
        push('dollar-string', close < 0 ? n : close + tag.length, close < 0);
      } else {
        let to = i + 1;
        while (to < n && isDigit(sql.charCodeAt(to))) to++;
        push('parameter', to);
      }
    } else if (isDigit(c) || (c === 46 && isDigit(next))) {
      NUMBER.lastIndex = i;
      push('number', i + NUMBER.exec(sql)![0].length);
    } else if (isWordStart(c)) {
      let to = i + 1;
      while (to < n && isWordPart(sql.charCodeAt(to))) to++;
      const after = to < n ? sql.charCodeAt(to) : -1;
      const prefix = to - i === 1 ? c | 0x20 : 0; // one letter, lower-cased
      if (after === QUOTE && (prefix === 101 || prefix === 98 || prefix === 120 || prefix === 110)) {
        // E'...' (backslash escapes), B'...', X'...', N'...'
        const end = quotedEnd(sql, to, QUOTE, prefix === 101);
        push('string', end < 0 ? n : end, end < 0);
      } else if (
        prefix === 117 &&
        after === 38 &&
        (sql.charCodeAt(to + 1) === QUOTE || sql.charCodeAt(to + 1) === DQUOTE)
      ) {
        // U&'...' and U&"..."; their \XXXX escapes never hide a quote, so they need no special scanning.
        const quote = sql.charCodeAt(to + 1);
        const end = quotedEnd(sql, to + 1, quote, false);
        push(quote === QUOTE ? 'string' : 'quoted-identifier', end < 0 ? n : end, end < 0);
      } else {
        push('word', to);
      }
    } else if (c === 58 && next === 58) {
      push('punctuation', i + 2);
    } else if (isOperatorChar(c)) {
      let to = i + 1;
      while (to < n) {
        const d = sql.charCodeAt(to);
        if (!isOperatorChar(d)) break;
        const e = to + 1 < n ? sql.charCodeAt(to + 1) : -1;
        if ((d === 45 && e === 45) || (d === 47 && e === 42)) break; // a comment starts
        to++;
      }
      push('operator', to);
    } else {
      push('punctuation', i + 1);
    }
  }
}

/** Index just past the quoted run opened at `i` (doubled quotes escape; backslashes too when asked); -1 when unclosed. */
function quotedEnd(sql: string, i: number, quote: number, backslashes: boolean): number {
  const n = sql.length;
  let j = i + 1;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (backslashes && c === BACKSLASH) {
      j += 2;
    } else if (c === quote) {
      if (j + 1 < n && sql.charCodeAt(j + 1) === quote) j += 2;
      else return j + 1;
    } else {
      j++;
    }
  }
  return -1;
}

/** Index just past the (nested) block comment opened at `i`; -1 when unclosed. */
function blockCommentEnd(sql: string, i: number): number {
  const n = sql.length;
  let depth = 0;
  let j = i;
  while (j < n) {
    const c = sql.charCodeAt(j);
    const d = j + 1 < n ? sql.charCodeAt(j + 1) : -1;
    if (c === 47 && d === 42) {
      depth++;
      j += 2;
    } else if (c === 42 && d === 47) {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else {
      j++;
    }
  }
  return -1;
}
