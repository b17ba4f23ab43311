/**
 * Identifier-aware rewriting of expressions as Postgres deparses them
 * (`pg_get_expr`, `pg_get_indexdef`): CHECK expressions, partial-index
 * predicates, index expressions, defaults and generated columns.
 *
 * Postgres stores those expressions as parse trees that point at columns by
 * number and at enum labels by OID, so `RENAME COLUMN` and `RENAME VALUE`
 * change how they print without touching them. The differ (diff.ts) needs
 * the old state's expressions spelled as they will print after its renames,
 * so that an unchanged check or index is not dropped and re-created. That is
 * what these functions do, on the token level:
 *
 * - string literals ('...', E'...', U&'...', B'...', X'...', $tag$...$tag$),
 *   quoted identifiers ("..."), comments and numbers are single tokens, so
 *   nothing inside them is taken for a name;
 * - a column reference is a whole identifier token: unquoted (and then only
 *   when the name needs no quoting, as Postgres prints it), or quoted;
 * - names that are not column references of this table are left alone: parts
 *   of qualified names (next to a `.`), function names (before a `(`), type
 *   names (after `::`) and collation names (after `COLLATE`).
 */
import { quoteIdent } from '../schema/identifiers.js';
import { lex } from '../sql/lexer.js';

type TokenKind = 'word' | 'quoted' | 'string' | 'space' | 'comment' | 'other';

interface Token {
  kind: TokenKind;
  text: string;
  /** For `word` and `quoted`: the identifier (quotes removed, `""` unescaped); for `string`: the value of a plain '...' literal. */
  value?: string;
}

/**
 * The shared lexer's tokens (src/sql/lexer.ts) in the coarser kinds this
 * file matches on; their texts concatenate back to `sql`. Operators and
 * punctuation become one `other` token per character (`::` is two `:`),
 * which is what the matching below expects.
 */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  for (const t of lex(sql)) {
    switch (t.kind) {
      case 'whitespace':
        out.push({ kind: 'space', text: t.text });
        break;
      case 'line-comment':
      case 'block-comment':
        out.push({ kind: 'comment', text: t.text });
        break;
      case 'word':
        out.push({ kind: 'word', text: t.text, value: t.text });
        break;
      case 'quoted-identifier':
        // U&"..." (an identifier with escapes) is left alone: never matched.
        if (t.text[0] === '"')
          out.push({ kind: 'quoted', text: t.text, value: t.text.slice(1, -1).replaceAll('""', '"') });
        else out.push({ kind: 'other', text: t.text });
        break;
      case 'string':
        if (t.text[0] === "'")
          out.push({ kind: 'string', text: t.text, value: t.text.slice(1, -1).replaceAll("''", "'") });
        else out.push({ kind: 'string', text: t.text });
        break;
      case 'dollar-string':
        out.push({ kind: 'string', text: t.text });
        break;
      case 'operator':
      case 'punctuation':
        for (const c of t.text) out.push({ kind: 'other', text: c });
        break;
      default: // number, parameter
        out.push({ kind: 'other', text: t.text });
    }
  }
  return out;
}

/** Words that continue a type name after `::` (`character varying`, `timestamp with time zone`, ...). */
const TYPE_WORDS = new Set([
  'varying',
  'precision',
  'with',
  'without',
  'time',
  'zone',
  'year',
  'month',
  'day',
  'hour',
  'minute',
  'second',
  'to',
]);

/** Indexes of the meaningful (non-space, non-comment) tokens. */
function significant(tokens: Token[]): number[] {
  const out: number[] = [];
  tokens.forEach((t, i) => {
    if (t.kind !== 'space' && t.kind !== 'comment') out.push(i);
  });
  return out;
}

/**
 * Indexes of tokens that are names but not column references: after `::`
 * (the whole type name), after COLLATE, before `(`, or next to a `.`.
 */
function nonColumnNames(tokens: Token[]): Set<number> {
  const sig = significant(tokens);
  const skip = new Set<number>();
  const text = (k: number) => (k >= 0 && k < sig.length ? tokens[sig[k]!]!.text : '');
  const isName = (k: number) => {
    const t = tokens[sig[k]!];
    return t !== undefined && (t.kind === 'word' || t.kind === 'quoted');
  };
  for (let k = 0; k < sig.length; k++) {
    if (!isName(k)) continue;
    if (text(k - 1) === '.' || text(k + 1) === '.' || text(k + 1) === '(') skip.add(sig[k]!);
    if (text(k - 1).toUpperCase() === 'COLLATE' && tokens[sig[k - 1]!]!.kind === 'word') skip.add(sig[k]!);
    // `::` is two `:` tokens.
    if (text(k - 1) === ':' && text(k - 2) === ':') {
      let j = k;
      skip.add(sig[j]!);
      // schema.type: the `.` rule above covers both parts; multi-word types continue with known words.
      while (j + 1 < sig.length && isName(j + 1) && TYPE_WORDS.has(text(j + 1).toLowerCase())) {
        j++;
        skip.add(sig[j]!);
      }
    }
  }
  return skip;
}

/**
 * `expr` with the column references renamed per `renames` (old name → new
 * name), spelled as Postgres prints them (quoted only when needed).
 */
export function renameColumnRefs(expr: string, renames: ReadonlyMap<string, string>): string {
  if (renames.size === 0) return expr;
  const tokens = tokenize(expr);
  const skip = nonColumnNames(tokens);
  let changed = false;
  const out = tokens.map((t, i) => {
    if (skip.has(i)) return t.text;
    let name: string | undefined;
    // Postgres prints a name unquoted only when it needs no quotes; an unquoted
    // word spelled like a name that does (a keyword, say) is that keyword.
    if (t.kind === 'word' && quoteIdent(t.value!) === t.value) name = t.value;
    else if (t.kind === 'quoted') name = t.value;
    const to = name === undefined ? undefined : renames.get(name);
    if (to === undefined) return t.text;
    changed = true;
    return quoteIdent(to);
  });
  return changed ? out.join('') : expr;
}

/**
 * `expr` with labels of enum `enumName` renamed per `renames` (old label →
 * new label) in the literals Postgres prints for enum constants:
 * `'old'::enum_name` and arrays `'{old,other}'::enum_name[]`.
 */
export function renameEnumLabels(expr: string, enumName: string, renames: ReadonlyMap<string, string>): string {
  if (renames.size === 0) return expr;
  const tokens = tokenize(expr);
  const sig = significant(tokens);
  const type = quoteIdent(enumName);
  let changed = false;
  for (let k = 0; k + 3 < sig.length; k++) {
    const lit = tokens[sig[k]!]!;
    if (lit.kind !== 'string' || lit.value === undefined) continue;
    if (tokens[sig[k + 1]!]!.text !== ':' || tokens[sig[k + 2]!]!.text !== ':') continue;
    const typeToken = tokens[sig[k + 3]!]!;
    if (typeToken.text !== type) continue;
    const isArray = tokens[sig[k + 4]!]?.text === '[' && tokens[sig[k + 5]!]?.text === ']';
    const value = isArray ? renameInArrayLiteral(lit.value, renames) : (renames.get(lit.value) ?? lit.value);
    if (value === lit.value) continue;
    tokens[sig[k]!] = { kind: 'string', text: `'${value.replaceAll("'", "''")}'`, value };
    changed = true;
  }
  return changed ? tokens.map((t) => t.text).join('') : expr;
}

/** A one-dimensional array literal (`{a,"b c"}`) with its elements renamed; anything else unchanged. */
function renameInArrayLiteral(literal: string, renames: ReadonlyMap<string, string>): string {
  if (!literal.startsWith('{') || !literal.endsWith('}')) return literal;
  const body = literal.slice(1, -1);
  if (body === '') return literal;
  const elements: { value: string; quoted: boolean }[] = [];
  let i = 0;
  while (i <= body.length) {
    if (body[i] === '"') {
      let value = '';
      let j = i + 1;
      while (j < body.length && body[j] !== '"') {
        if (body[j] === '\\') j++;
        value += body[j] ?? '';
        j++;
      }
      elements.push({ value, quoted: true });
      i = j + 1;
      if (i < body.length && body[i] !== ',') return literal;
    } else {
      const comma = body.indexOf(',', i);
      const raw = body.slice(i, comma < 0 ? body.length : comma);
      if (/[{}"\\]/.test(raw)) return literal; // nested or unusual: leave alone
      elements.push({ value: raw, quoted: false });
      i = comma < 0 ? body.length : comma;
    }
    i++; // past the comma
  }
  let changed = false;
  const parts = elements.map((e) => {
    if (!e.quoted && e.value === 'NULL') return 'NULL';
    const to = renames.get(e.value);
    if (to === undefined) return e.quoted ? quoteArrayElement(e.value, true) : e.value;
    changed = true;
    return quoteArrayElement(to, false);
  });
  return changed ? `{${parts.join(',')}}` : literal;
}

/** An array element as array_out prints it: quoted when empty, NULL-like, or holding special characters. */
function quoteArrayElement(value: string, force: boolean): string {
  const needs = force || value === '' || /^null$/i.test(value) || /[{},"\\\s]/.test(value);
  return needs ? `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"` : value;
}
