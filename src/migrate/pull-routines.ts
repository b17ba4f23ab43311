/**
 * `ferry pull` for functions and triggers: `fn()` and `trigger()`
 * declarations holding what `pg_proc` and `pg_trigger` report, arguments as
 * Postgres prints them (`'j que_jobs, n integer DEFAULT 0'`) and bodies
 * verbatim, so the module re-creates them exactly. pull.ts places them:
 * functions before the tables, triggers after everything they name.
 */
import { quoteIdent } from '../schema/identifiers.js';
import type { FunctionIR, SchemaIR, TriggerIR } from '../schema/ir.js';

const str = (s: string) => JSON.stringify(s);

/** `fn(...)` declarations; `take` gives each a unique variable name. The map is function name → variable, for triggers. */
export function renderFunctions(
  schema: SchemaIR,
  take: (base: string) => string,
): { lines: string[]; vars: Map<string, string> } {
  const vars = new Map<string, string>();
  const lines = (schema.functions ?? []).map((f) => {
    const v = take(`${camelName(f.name)}Fn`);
    // Trigger functions take no arguments: the one without is the one a trigger names.
    if (f.argumentTypes === '') vars.set(f.name, v);
    return `export const ${v} = fn(${str(f.name)}, {\n${functionOptions(f)
      .map((o) => `  ${o},`)
      .join('\n')}\n});`;
  });
  return { lines, vars };
}

function functionOptions(f: FunctionIR): string[] {
  const defaultLanguage = f.returns === 'trigger' ? 'plpgsql' : 'sql';
  return [
    ...(f.arguments !== '' ? [`args: ${str(f.arguments)}`] : []),
    `returns: ${str(f.returns)}`,
    ...(f.language !== defaultLanguage ? [`language: ${str(f.language)}`] : []),
    ...(f.volatility !== 'volatile' ? [`volatility: ${str(f.volatility)}`] : []),
    ...(f.strict ? ['strict: true'] : []),
    ...(f.security !== 'invoker' ? [`security: ${str(f.security)}`] : []),
    ...(f.parallel !== 'unsafe' ? [`parallel: ${str(f.parallel)}`] : []),
    ...(f.setConfig.length > 0
      ? [
          `setConfig: { ${f.setConfig.map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : str(k)}: ${str(v)}`).join(', ')} }`,
        ]
      : []),
    ...(f.comment !== null ? [`comment: ${str(f.comment)}`] : []),
    `body: ${template(f.body)}`,
  ];
}

/** A template literal when the body has line breaks (readable), else a string. */
function template(body: string): string {
  if (!body.includes('\n')) return str(body);
  return `\`${body.replaceAll('\\', '\\\\').replaceAll('`', '\\`').replaceAll('${', '\\${')}\``;
}

/** `trigger(...)` declarations, naming table and function variables where the module has them. */
export function renderTriggers(
  schema: SchemaIR,
  take: (base: string) => string,
  tableVars: Map<string, string>,
  fnVars: Map<string, string>,
): string[] {
  return (schema.triggers ?? []).map((t) => {
    const table = tableVars.get(t.table) ?? str(t.table);
    const fnVar = [...fnVars].find(([name]) => quoteIdent(name) === t.function)?.[1];
    const options = [
      `timing: ${str(t.timing)}`,
      `events: [${events(t).join(', ')}]`,
      `forEach: ${str(t.forEach)}`,
      ...(t.when !== null ? [`when: ${str(t.when)}`] : []),
      `fn: ${fnVar ?? str(t.function)}`,
      ...(t.args.length > 0 ? [`args: [${t.args.map(str).join(', ')}]`] : []),
      ...(t.comment !== null ? [`comment: ${str(t.comment)}`] : []),
    ];
    return `export const ${take(`${camelName(t.name)}Trigger`)} = trigger(${str(t.name)}, ${table}, {\n${options
      .map((o) => `  ${o},`)
      .join('\n')}\n});`;
  });
}

function events(t: TriggerIR): string[] {
  return t.events.map((e) =>
    e === 'update' && t.updateOf.length > 0 ? `{ update: [${t.updateOf.map(str).join(', ')}] }` : str(e),
  );
}

function camelName(name: string): string {
  const out = name.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''));
  return /^[A-Za-z_$]/.test(out) ? out : `_${out}`;
}

/**
 * `raw(up, down, { name })` for what Ferry does not model but Postgres can
 * print (C-language functions, procedures, constraint triggers...), each
 * under a warning comment: pulled verbatim, never left out.
 */
export function renderRaw(schema: SchemaIR, take: (base: string) => string): string[] {
  return (schema.raw ?? []).map((r) => {
    const options = [`name: ${str(r.name)}`, ...(r.last ? ['last: true'] : [])];
    return (
      `// WARNING: Ferry does not model ${r.name}; pulled as raw SQL, run as written.\n` +
      `export const ${take(`${camelName(r.name)}Raw`)} = raw(\n  ${template(r.up)},\n  ${template(r.down)},\n  { ${options.join(', ')} },\n);`
    );
  });
}

/** What `ferry pull` should tell the user about the module it wrote. */
export function pullWarnings(schema: SchemaIR): string[] {
  return (schema.raw ?? []).map(
    (r) => `${r.name} is not modelled by Ferry: pulled verbatim as raw(); review it (it runs as written).`,
  );
}
