/**
 * The linter's view of a statement: the shared lexer's tokens (src/sql/lexer.ts)
 * without whitespace and comments, with words folded to lower case and quoted
 * names and strings unescaped, plus the small matchers the rules are written in.
 */
import { scan } from '../../sql/lexer.js';

export interface Token {
  kind: 'word' | 'ident' | 'string' | 'number' | 'op' | 'param';
  /** Words lower-cased; quoted identifiers and strings unescaped; operators as written. */
  value: string;
  /** Index in the statement text. */
  start: number;
  /** Index just past the token. */
  end: number;
}

export function isWord(tok: Token | undefined, ...words: string[]): boolean {
  return tok !== undefined && tok.kind === 'word' && words.includes(tok.value);
}

export function isOp(tok: Token | undefined, op: string): boolean {
  return tok !== undefined && tok.kind === 'op' && tok.value === op;
}

export function isFalse(tok: Token | undefined): boolean {
  return (
    isWord(tok, 'false', 'off') ||
    (tok !== undefined && (tok.kind === 'number' || tok.kind === 'string') && /^(?:0|false|off)$/i.test(tok.value))
  );
}

/** An identifier (unquoted word folded to lower case, or a quoted one as written). */
export function identAt(tok: Token | undefined): string | null {
  return tok !== undefined && (tok.kind === 'word' || tok.kind === 'ident') ? tok.value : null;
}

/** A possibly schema-qualified name at `i`: its last part, and the index after it. */
export function qualifiedName(t: Token[], i: number): { name: string; next: number } | null {
  let name = identAt(t[i]);
  if (name === null) return null;
  let next = i + 1;
  while (isOp(t[next], '.') && identAt(t[next + 1]) !== null) {
    name = identAt(t[next + 1])!;
    next += 2;
  }
  return { name, next };
}

/** Index of the `)` matching the `(` at `open` (or the last token when unbalanced). */
export function matchingParen(t: Token[], open: number): number {
  let depth = 0;
  for (let k = open; k < t.length; k++) {
    if (isOp(t[k], '(')) depth++;
    else if (isOp(t[k], ')') && --depth === 0) return k;
  }
  return t.length - 1;
}

/** First unquoted `word` at parenthesis depth 0 at or after `from`, or -1. */
export function findWord(t: Token[], word: string, from: number): number {
  let depth = 0;
  for (let k = from; k < t.length; k++) {
    if (isOp(t[k], '(')) depth++;
    else if (isOp(t[k], ')')) depth--;
    else if (depth === 0 && isWord(t[k], word)) return k;
  }
  return -1;
}

/** [from, to) ranges separated by commas at depth 0. */
export function splitTopLevel(t: Token[], from: number, to: number): [number, number][] {
  const out: [number, number][] = [];
  let depth = 0;
  let start = from;
  for (let k = from; k < to; k++) {
    if (isOp(t[k], '(') || isOp(t[k], '[')) depth++;
    else if (isOp(t[k], ')') || isOp(t[k], ']')) depth--;
    else if (depth === 0 && isOp(t[k], ',')) {
      if (k > start) out.push([start, k]);
      start = k + 1;
    }
  }
  if (to > start) out.push([start, to]);
  return out;
}

export function hasSequence(t: Token[], from: number, to: number, words: string[]): boolean {
  let depth = 0;
  for (let k = from; k < to; k++) {
    if (isOp(t[k], '(')) depth++;
    else if (isOp(t[k], ')')) depth--;
    else if (depth === 0 && words.every((w, n) => isWord(t[k + n], w))) return true;
  }
  return false;
}

const STATEMENT_KEYWORDS = new Set([
  'alter',
  'cluster',
  'constraint',
  'create',
  'drop',
  'index',
  'lock',
  'or',
  'reindex',
  'replace',
  'table',
  'trigger',
  'truncate',
  'unique',
]);

/** `CREATE UNIQUE INDEX`, `ALTER TABLE`...: the statement's leading keywords. */
export function firstWords(t: Token[]): string {
  const words: string[] = [];
  for (const tok of t) {
    if (tok.kind !== 'word' || !STATEMENT_KEYWORDS.has(tok.value)) break;
    words.push(tok.value.toUpperCase());
  }
  return words.join(' ') || 'This statement';
}

/** Tokens of one statement; comments and whitespace are skipped. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  scan(sql, (kind, start, end, unterminated) => {
    switch (kind) {
      case 'whitespace':
      case 'line-comment':
      case 'block-comment':
        return;
      case 'word':
        out.push({ kind: 'word', value: sql.slice(start, end).toLowerCase(), start, end });
        return;
      case 'string':
      case 'quoted-identifier': {
        // From the opening quote: the prefix of E'...', U&"..." and friends is dropped.
        const text = sql.slice(start, end);
        const quote = text.search(/['"]/);
        const value = unquote(text.slice(quote), text[quote]!);
        out.push({ kind: kind === 'string' ? 'string' : 'ident', value, start, end });
        return;
      }
      case 'dollar-string': {
        const tag = sql.indexOf('$', start + 1) + 1 - start;
        out.push({ kind: 'string', value: sql.slice(start + tag, unterminated ? end : end - tag), start, end });
        return;
      }
      case 'number':
        out.push({ kind: 'number', value: sql.slice(start, end), start, end });
        return;
      case 'parameter':
        out.push({ kind: 'param', value: sql.slice(start, end), start, end });
        return;
      default: // operator, punctuation
        out.push({ kind: 'op', value: sql.slice(start, end), start, end });
    }
  });
  return out;
}

function unquote(raw: string, quote: string): string {
  const body = raw.endsWith(quote) && raw.length >= 2 ? raw.slice(1, -1) : raw.slice(1);
  return body.replaceAll(quote + quote, quote);
}
