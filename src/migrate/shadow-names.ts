/**
 * Names in the PostgreSQL shadow (shadow.ts), which is a scratch schema of
 * the live database: statements written for `public` say `public.x`, which
 * there must name the scratch schema when x is the shadow's own object or an
 * extension's object the shadow created in its scratch schema; and what the
 * shadow reports qualified with the scratch schema reads back as `public`.
 */
import { lex } from '../sql/lexer.js';

const CREATES =
  /^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:UNLOGGED|MATERIALIZED|RECURSIVE)\s+)*(?:TABLE|VIEW|TYPE|FUNCTION|PROCEDURE|SEQUENCE)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:public\s*\.\s*)?("(?:[^"]|"")+"|[A-Za-z_][\w$]*)/i;

/** The name a `CREATE TABLE | VIEW | TYPE | FUNCTION | SEQUENCE` statement creates, folded as Postgres does. */
export function createdName(statement: string): string | null {
  const m = CREATES.exec(statement);
  if (!m) return null;
  const name = m[1]!;
  return name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase();
}

/** Where `statement` names `public.x` (outside strings and function bodies): the offset of `public` and x. */
export function publicRefs(statement: string): { start: number; name: string }[] {
  if (!/public"?\s*\./i.test(statement)) return [];
  const solid = lex(statement).filter(
    (t) => t.kind !== 'whitespace' && t.kind !== 'line-comment' && t.kind !== 'block-comment',
  );
  const out: { start: number; name: string }[] = [];
  for (let i = 0; i + 2 < solid.length; i++) {
    const [a, dot, b] = [solid[i]!, solid[i + 1]!, solid[i + 2]!];
    const isPublic = (a.kind === 'word' && a.text.toLowerCase() === 'public') || a.text === '"public"';
    if (!isPublic || dot.text !== '.') continue;
    const name =
      b.kind === 'quoted-identifier'
        ? b.text.slice(1, -1).replaceAll('""', '"')
        : b.kind === 'word'
          ? b.text.toLowerCase()
          : b.kind === 'operator'
            ? b.text
            : null;
    if (name !== null) out.push({ start: a.start, name });
  }
  return out;
}

/**
 * `statement` with `public.x` naming the scratch schema instead, for each `x`
 * in `moved`: what the shadow's own statements create (Postgres qualifies a
 * name in a view's query when an alias hides it: `WITH t AS (...) ... JOIN
 * public.t`), and what `public` lacks but an extension the shadow created in
 * its scratch schema provides (a dump's `DEFAULT public.gen_random_uuid()`
 * from pgcrypto). An extension's object that is in `public` stays.
 */
export function requalify(statement: string, moved: ReadonlySet<string>, schema: string): string {
  if (moved.size === 0) return statement;
  const starts = publicRefs(statement)
    .filter((r) => moved.has(r.name))
    .map((r) => r.start);
  if (starts.length === 0) return statement;
  let out = '';
  let at = 0;
  for (const start of starts) {
    out += statement.slice(at, start) + schema;
    at = start + (statement.startsWith('"', start) ? '"public"'.length : 'public'.length);
  }
  return out + statement.slice(at);
}

/** `value` with every `from.` in its strings written `to.` (`from` is a scratch schema's unique name). */
export function renameSchema<T>(value: T, from: string, to: string): T {
  const needle = `${from}.`;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return v.includes(needle) ? v.replaceAll(needle, `${to}.`) : v;
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(value) as T;
}
