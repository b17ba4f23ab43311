/**
 * `ferry pull` for declarative partitioning: a partitioned table's
 * `.partitionBy(...)` and its partitions as `partition(name, of, bounds)`,
 * bounds spelled as values when `pg_get_expr(relpartbound)` printed only
 * constants, else kept verbatim (`sql.raw`), which the DSL accepts too.
 */
import type { PartitionByIR, SchemaIR } from '../schema/ir.js';

const str = (s: string) => JSON.stringify(s);

/** Top-level comma-separated parts of `s` (parentheses and quotes respected). */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(s.slice(start).trim());
  return parts;
}

const PLAIN_IDENT = /^[a-z_][a-z0-9_$]*$/;
const QUOTED_IDENT = /^"((?:[^"]|"")+)"$/;

/** The key as DSL arguments: column names as strings, anything else as `sql.raw(...)`. */
function keyArgs(p: PartitionByIR, used: Set<string>): string {
  const args = splitTopLevel(p.key).map((part) => {
    if (PLAIN_IDENT.test(part)) return str(part);
    const quoted = QUOTED_IDENT.exec(part);
    if (quoted) return str(quoted[1]!.replaceAll('""', '"'));
    used.add('sql');
    return `sql.raw(${str(part)})`;
  });
  return args.length === 1 ? args[0]! : `[${args.join(', ')}]`;
}

/** `.partitionBy('range', "created_at")` for a partitioned table, else ''. */
export function renderPartitionBy(p: PartitionByIR | undefined, used: Set<string>): string {
  return p ? `.partitionBy(${str(p.strategy)}, ${keyArgs(p, used)})` : '';
}

/** One printed bound value as JS, or null when it is not a plain constant. */
function valueJs(v: string, used: Set<string>): string | null {
  if (v === 'MINVALUE' || v === 'MAXVALUE') {
    used.add(v);
    return v;
  }
  if (v === 'NULL') return 'null';
  if (v === 'true' || v === 'false') return v;
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number.isSafeInteger(Number(v)) || v.includes('.') ? v : str(v);
  const quoted = /^'((?:[^']|'')*)'$/.exec(v);
  if (quoted) return str(quoted[1]!.replaceAll("''", "'"));
  return null;
}

function values(list: string, used: Set<string>): string[] | null {
  const out = splitTopLevel(list).map((v) => valueJs(v, used));
  return out.every((x) => x !== null) ? (out as string[]) : null;
}

/** The bounds argument of `partition()` for a bound as `pg_get_expr(relpartbound)` prints it. */
export function renderBound(bound: string, used: Set<string>): string {
  if (bound === 'DEFAULT') return str('default');
  const range = /^FOR VALUES FROM \((.*)\) TO \((.*)\)$/s.exec(bound);
  const list = /^FOR VALUES IN \((.*)\)$/s.exec(bound);
  const hash = /^FOR VALUES WITH \(modulus (\d+), remainder (\d+)\)$/.exec(bound);
  if (range) {
    const from = values(range[1]!, used);
    const to = values(range[2]!, used);
    const side = (v: string[]) => (v.length === 1 ? v[0]! : `[${v.join(', ')}]`);
    if (from && to) return `{ from: ${side(from)}, to: ${side(to)} }`;
  } else if (list) {
    const v = values(list[1]!, used);
    if (v) return `{ in: [${v.join(', ')}] }`;
  } else if (hash) {
    return `{ modulus: ${hash[1]}, remainder: ${hash[2]} }`;
  }
  used.add('sql');
  return `sql.raw(${str(bound)})`;
}

/** `export const … = partition(…)` for every partition, parents first. */
export function renderPartitions(
  schema: SchemaIR,
  tableVars: Map<string, string>,
  take: (wanted: string) => string,
  camel: (name: string) => string,
  used: Set<string>,
): string[] {
  const vars = new Map(tableVars);
  const out: string[] = [];
  for (const p of schema.partitions ?? []) {
    used.add('partition');
    const v = take(camel(p.name));
    vars.set(p.name, v);
    const parent = vars.get(p.parent) ?? camel(p.parent);
    const sub = renderPartitionBy(p.partitionBy, used);
    out.push(`export const ${v} = partition(${str(p.name)}, ${parent}, ${renderBound(p.bound, used)})${sub};`);
  }
  return out;
}
