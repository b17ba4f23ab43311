/**
 * Postgres extensions on PGlite. PGlite ships contrib modules as separate
 * bundles (`@electric-sql/pglite/contrib/<module>`) that must be handed to
 * `PGlite.create({ extensions })` before `CREATE EXTENSION` can find them;
 * a database whose extension's bundle is not loaded reports it as "not
 * available". Bundles are imported only when an extension is asked for.
 */
import { E_EXTENSION_UNAVAILABLE, FerryError } from '../errors.js';

/** Extension name (`pg_extension.extname`) → module under `@electric-sql/pglite/contrib/`. */
const CONTRIB: Readonly<Record<string, string>> = {
  amcheck: 'amcheck',
  auto_explain: 'auto_explain',
  bloom: 'bloom',
  btree_gin: 'btree_gin',
  btree_gist: 'btree_gist',
  citext: 'citext',
  cube: 'cube',
  dict_int: 'dict_int',
  dict_xsyn: 'dict_xsyn',
  earthdistance: 'earthdistance',
  file_fdw: 'file_fdw',
  fuzzystrmatch: 'fuzzystrmatch',
  hstore: 'hstore',
  intarray: 'intarray',
  isn: 'isn',
  lo: 'lo',
  ltree: 'ltree',
  moddatetime: 'moddatetime',
  pageinspect: 'pageinspect',
  pg_buffercache: 'pg_buffercache',
  pg_freespacemap: 'pg_freespacemap',
  pg_stat_statements: 'pg_stat_statements',
  pg_surgery: 'pg_surgery',
  pg_trgm: 'pg_trgm',
  pg_visibility: 'pg_visibility',
  pg_walinspect: 'pg_walinspect',
  pgcrypto: 'pgcrypto',
  seg: 'seg',
  tablefunc: 'tablefunc',
  tcn: 'tcn',
  tsm_system_rows: 'tsm_system_rows',
  tsm_system_time: 'tsm_system_time',
  unaccent: 'unaccent',
  'uuid-ossp': 'uuid_ossp',
};

/** Extensions another one `requires` (its control file), loaded with it. */
const REQUIRES: Readonly<Record<string, readonly string[]>> = { earthdistance: ['cube'] };

/** Built into every database: nothing to load. */
const BUILT_IN = new Set(['plpgsql']);

/** The extensions PGlite can provide, by name. */
export const PGLITE_EXTENSIONS: readonly string[] = Object.keys(CONTRIB).sort();

/** `names`, their dependencies added and built-in ones removed, each once. */
export function pgliteExtensionClosure(names: Iterable<string>): string[] {
  const out = new Set<string>();
  const add = (name: string) => {
    if (BUILT_IN.has(name) || out.has(name)) return;
    for (const dep of REQUIRES[name] ?? []) add(dep);
    out.add(name);
  };
  for (const name of names) add(name);
  return [...out];
}

export function extensionUnavailable(name: string, backend: 'pglite' | 'postgres', cause?: unknown): FerryError {
  const message =
    backend === 'pglite'
      ? `The extension "${name}" is not available on PGlite (the embedded database). PGlite ships: ${PGLITE_EXTENSIONS.join(', ')}. ` +
        `Use a PostgreSQL server that has it (DATABASE_URL / --url), or remove extension('${name}') from the schema.`
      : `The extension "${name}" is not installed on this PostgreSQL server (no "${name}.control" file). ` +
        `Install its package on the server (e.g. postgresql-contrib, or the extension's own), or remove extension('${name}') from the schema.`;
  return new FerryError(E_EXTENSION_UNAVAILABLE, message, {
    details: { extension: name, backend },
    ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * The `extensions` option of `PGlite.create` for `names` (and what they
 * require). Throws E_EXTENSION_UNAVAILABLE for one PGlite does not ship.
 */
export async function loadPgliteExtensions(names: Iterable<string>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const name of pgliteExtensionClosure(names)) {
    const module = CONTRIB[name];
    if (module === undefined) throw extensionUnavailable(name, 'pglite');
    const loaded = (await import(`@electric-sql/pglite/contrib/${module}`)) as Record<string, unknown>;
    out[module] = loaded[module];
  }
  return out;
}

/**
 * Names of the extensions `CREATE EXTENSION` statements in `sqlText` create
 * (a whole migration file is fine; comments are not parsed, so a commented-out
 * statement counts too, which at worst loads a bundle for nothing).
 */
export function extensionsCreatedIn(sqlText: string): string[] {
  const out: string[] = [];
  const re = /\bcreate\s+extension\s+(?:if\s+not\s+exists\s+)?("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)/gi;
  for (const m of sqlText.matchAll(re)) {
    const raw = m[1]!;
    out.push(raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw.toLowerCase());
  }
  return out;
}

/**
 * The extension a server error says is missing: PGlite's `extension "x" is
 * not available` (0A000), Postgres's `could not open extension control file
 * ".../x.control"` (58P01), or null.
 */
export function missingExtensionOf(err: unknown): string | null {
  const message = (err as Error | undefined)?.message ?? '';
  const available = /extension "([^"]+)" is not available/.exec(message);
  if (available) return available[1]!;
  const control = /could not open extension control file "[^"]*\/([^"/]+)\.control"/.exec(message);
  return control ? control[1]! : null;
}
