/**
 * `fn('que_validate_tags', { args: [{ name: 'tags_array', type: 'jsonb' }], returns: 'boolean', body })`:
 * a function Ferry creates, replaces and drops with the schema (SQL and
 * PL/pgSQL alike, trigger functions included). Overloads share a name: a
 * function is identified by its name and argument types, as in Postgres.
 *
 * The DSL's spelling (`int`, `varchar`) is normalised like everything else:
 * the differ creates the function in a shadow database and reads it back
 * from `pg_proc` (see migrate/shadow.ts), so `arguments`, `returns` and the
 * options compare as Postgres prints them. The body is kept verbatim.
 */
import { E_SCHEMA, FerryError } from '../errors.js';
import { assertIdentifier, quoteIdent as q } from './identifiers.js';
import type { FunctionIR } from './ir.js';
import { literal, SqlExpr } from './sql.js';

/** A type name, or anything with a `name` (a table: its row type). */
export type FunctionType = string | { readonly name: string };

export interface FunctionArg {
  /** Optional: `$1`, `$2`... work without one. */
  name?: string;
  type: FunctionType;
  mode?: 'in' | 'out' | 'inout' | 'variadic';
  /** `DEFAULT ...` as SQL (`sql\`0\``, or a string of SQL). */
  default?: string | SqlExpr;
}

export interface FunctionOptions {
  /** The arguments in order, or as Postgres prints them (`'j que_jobs, n integer DEFAULT 0'`). Default none. */
  args?: readonly FunctionArg[] | string;
  /** `'boolean'`, `'trigger'`, `'SETOF que_jobs'`, `'TABLE(id integer)'`, or a table (its row type). */
  returns: FunctionType;
  /** Default `plpgsql` for a trigger function, else `sql`. */
  language?: string;
  /** The body, verbatim (what goes between the dollar quotes). */
  body: string;
  /** Default `volatile`, as in Postgres. */
  volatility?: 'volatile' | 'stable' | 'immutable';
  /** `STRICT`: null in, null out without calling the function. */
  strict?: boolean;
  /** `SECURITY DEFINER` runs with its owner's rights; default `invoker`. */
  security?: 'invoker' | 'definer';
  parallel?: 'unsafe' | 'restricted' | 'safe';
  /** `SET name = value` while it runs, e.g. `{ search_path: 'public, pg_temp' }` for a definer function. */
  setConfig?: Record<string, string>;
  comment?: string;
}

export interface Fn {
  readonly kind: 'function';
  readonly name: string;
  toIR(): FunctionIR;
}

const typeName = (t: FunctionType) => (typeof t === 'string' ? t : q(t.name));

function renderArgs(name: string, args: FunctionOptions['args']): { text: string; types: string } {
  if (args === undefined) return { text: '', types: '' };
  if (typeof args === 'string') {
    // Postgres works the identity out when the function is created in the shadow.
    return { text: args, types: args };
  }
  const text = args.map((a) => {
    if (a.name !== undefined) assertIdentifier(a.name, `Argument of function ${name}`);
    const mode = a.mode && a.mode !== 'in' ? `${a.mode.toUpperCase()} ` : '';
    const def = a.default === undefined ? '' : ` DEFAULT ${a.default instanceof SqlExpr ? a.default.text : a.default}`;
    return `${mode}${a.name !== undefined ? `${q(a.name)} ` : ''}${typeName(a.type)}${def}`;
  });
  const types = args.filter((a) => a.mode !== 'out').map((a) => typeName(a.type));
  return { text: text.join(', '), types: types.join(', ') };
}

/**
 * Declares a function.
 *
 * ```ts
 * export const validateTags = fn('que_validate_tags', {
 *   args: [{ name: 'tags_array', type: 'jsonb' }],
 *   returns: 'boolean',
 *   body: `SELECT bool_and(jsonb_typeof(value) = 'string') FROM jsonb_array_elements(tags_array)`,
 * });
 * ```
 * creates
 * ```sql
 * CREATE FUNCTION que_validate_tags(tags_array jsonb) RETURNS boolean
 *   LANGUAGE sql VOLATILE AS $$SELECT bool_and(...) FROM jsonb_array_elements(tags_array)$$
 * ```
 * A later change of body or options is `CREATE OR REPLACE FUNCTION`; a
 * change Postgres cannot replace in place (argument names, return type) is
 * `DROP FUNCTION` + `CREATE FUNCTION`. Functions are created before tables
 * (a CHECK or default may call them), except those whose signature names a
 * table's row type, which come right after the tables.
 */
export function fn(name: string, options: FunctionOptions): Fn {
  assertIdentifier(name, 'Function');
  if (typeof options.body !== 'string') throw new FerryError(E_SCHEMA, `Function ${name} needs a body (a string).`);
  if (options.returns === undefined) throw new FerryError(E_SCHEMA, `Function ${name} needs returns (a type).`);
  const returns = typeName(options.returns);
  const { text, types } = renderArgs(name, options.args);
  const setConfig = Object.entries(options.setConfig ?? {}).map(([k, v]) => {
    assertIdentifier(k, `Setting of function ${name}`);
    return [k, v] as [string, string];
  });
  const ir: FunctionIR = {
    name,
    arguments: text,
    argumentTypes: types,
    returns,
    language: options.language ?? (returns.toLowerCase() === 'trigger' ? 'plpgsql' : 'sql'),
    body: options.body,
    volatility: options.volatility ?? 'volatile',
    strict: options.strict ?? false,
    security: options.security ?? 'invoker',
    parallel: options.parallel ?? 'unsafe',
    setConfig,
    comment: options.comment ?? null,
  };
  return Object.freeze({ kind: 'function' as const, name, toIR: () => structuredClone(ir) });
}

export function isFn(value: unknown): value is Fn {
  return typeof value === 'object' && value !== null && (value as Partial<Fn>).kind === 'function';
}

/** Name and argument types: what tells overloads apart. */
export const functionKey = (f: Pick<FunctionIR, 'name' | 'argumentTypes'>) => `${f.name}(${f.argumentTypes})`;

/** Code-unit order of name, then argument types, as introspection sorts them. */
export function sortFunctions(list: readonly FunctionIR[]): FunctionIR[] {
  const key = (f: FunctionIR) => `${f.name}\u0000${f.argumentTypes}`;
  return [...list].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Settings whose value is a list Postgres stores unquoted (`search_path=public, pg_temp`). */
const LIST_SETTINGS = new Set([
  'search_path',
  'temp_tablespaces',
  'session_preload_libraries',
  'shared_preload_libraries',
  'local_preload_libraries',
]);

function setClause([name, value]: [string, string]): string {
  const v = LIST_SETTINGS.has(name.toLowerCase()) && value.trim() !== '' ? value : literal(value);
  return `SET ${q(name)} TO ${v}`;
}

/** A dollar quote the body does not contain. */
function dollarQuote(body: string): string {
  if (!body.includes('$$')) return '$$';
  for (let i = 0; ; i++) {
    const tag = i === 0 ? '$function$' : `$function${i}$`;
    if (!body.includes(tag)) return tag;
  }
}

/** The name and argument types, as `DROP`/`COMMENT ON FUNCTION` take them. */
export const functionSignature = (f: FunctionIR) => `${q(f.name)}(${f.argumentTypes})`;

export function createFunction(f: FunctionIR, options: { replace?: boolean } = {}): string {
  const clauses = [`LANGUAGE ${q(f.language)}`, f.volatility.toUpperCase()];
  if (f.strict) clauses.push('STRICT');
  if (f.security === 'definer') clauses.push('SECURITY DEFINER');
  if (f.parallel !== 'unsafe') clauses.push(`PARALLEL ${f.parallel.toUpperCase()}`);
  clauses.push(...f.setConfig.map(setClause));
  const tag = dollarQuote(f.body);
  return (
    `CREATE ${options.replace ? 'OR REPLACE ' : ''}FUNCTION ${q(f.name)}(${f.arguments}) RETURNS ${f.returns}\n` +
    `    ${clauses.join(' ')}\n    AS ${tag}${f.body}${tag}`
  );
}

export function dropFunction(f: FunctionIR): string {
  return `DROP FUNCTION ${functionSignature(f)}`;
}

export function commentFunction(f: FunctionIR, comment: string | null): string {
  return `COMMENT ON FUNCTION ${functionSignature(f)} IS ${comment === null ? 'NULL' : literal(comment)}`;
}

/**
 * Migrations do as `pg_dump` does: a function body may name tables created
 * later in the same migration, or call functions that do, so bodies are not
 * checked when created. `LOCAL`: a migration runs in a transaction.
 */
export const NO_BODY_CHECKS = 'SET LOCAL check_function_bodies = false';

/** The statements that create `f` with its comment. */
export function createFunctionStatements(f: FunctionIR, options: { replace?: boolean } = {}): string[] {
  return [createFunction(f, options), ...(f.comment !== null ? [commentFunction(f, f.comment)] : [])];
}

/**
 * Whether `f`'s signature names one of `tables` (a table's row type, as an
 * argument, `SETOF`, an array of it...): such a function can only be created
 * once the table exists, and must be dropped before it. Others are created
 * before the tables, since a CHECK or a default may call them.
 */
export function usesRowType(f: FunctionIR, tables: ReadonlySet<string>): boolean {
  const words = `${f.argumentTypes} ${f.returns}`.match(/"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*/g) ?? [];
  return words.some((w) => tables.has(w.startsWith('"') ? w.slice(1, -1).replaceAll('""', '"') : w.toLowerCase()));
}

/** Splits functions into those created before the tables and those created after (`usesRowType`). */
export function functionsByPlace(
  functions: readonly FunctionIR[],
  tables: ReadonlySet<string>,
): { beforeTables: FunctionIR[]; afterTables: FunctionIR[] } {
  const afterTables = functions.filter((f) => usesRowType(f, tables));
  return { beforeTables: functions.filter((f) => !afterTables.includes(f)), afterTables };
}
