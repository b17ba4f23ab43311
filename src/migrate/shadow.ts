/**
 * The shadow database: a scratch place where Postgres itself normalises SQL.
 *
 * A DSL writes `balance >= 0` and `'1 hour'`; a live database reports
 * `(balance >= (0)::numeric)` and `'01:00:00'::interval`. Rather than
 * re-implement Postgres's deparser, the differ creates the DSL's schema in a
 * shadow and introspects it, so both sides of a comparison are spelled by
 * the same server code.
 *
 * - PGlite (no `like`, or a PGlite `like`): a private in-memory PGlite. Every
 *   shadow gets its own instance, started from one pristine data-dir image
 *   per process (see `pristineImage`).
 * - PostgreSQL (a Postgres `like` or `url`): a scratch schema
 *   `ferry_shadow_<random>` on the same server, so defaults and checks are
 *   deparsed by the same server version as the live database. Its one
 *   connection has `search_path` set to that schema alone: unqualified DDL
 *   lands there, and statements naming objects the shadow lacks fail instead
 *   of reaching the live tables in `public`. Only Ferry's own DDL (`normalise`)
 *   and introspection also see `public` and the extensions' schemas, after
 *   the scratch one (see `ApplyOptions`).
 *
 * A shadow is used by one task at a time; its methods are not meant to run
 * concurrently.
 */

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type Kysely, sql } from 'kysely';
import { connectionStringOf, type DbHandle, openDatabase, resolveDatabaseTarget } from '../db/open.js';
import { directUrlRequired, resolvePgbouncer } from '../db/pgbouncer.js';
import { extensionsCreatedIn, extensionUnavailable, missingExtensionOf } from '../db/pglite-extensions.js';
import { redactUrl } from '../db/redact.js';
import { SESSION_SETTINGS } from '../db/types.js';
import { E_BAD_ARGUMENT, E_QUERY, FerryError } from '../errors.js';
import { distributionsOf, withDistribution } from '../schema/citus.js';
import { createStatements } from '../schema/ddl.js';
import { quoteIdent } from '../schema/identifiers.js';
import type { SchemaIR } from '../schema/ir.js';
import { withRaw } from '../schema/raw.js';
import { introspect } from './introspect.js';
import { missingRoleOf, roleMissing } from './roles.js';
import { createdName, publicRefs, renameSchema, requalify } from './shadow-names.js';

export interface Shadow {
  readonly db: Kysely<any>;
  /** Empty the shadow (drop everything created in it). */
  reset(): Promise<void>;
  /** Run statements (each a full SQL statement string) in order. */
  apply(statements: string[], options?: ApplyOptions): Promise<void>;
  introspect(): Promise<SchemaIR>;
  close(): Promise<void>;
}

export interface ApplyOptions {
  /**
   * The statements only change objects they create themselves, as the DDL
   * of `createStatements` does; they may name shared objects they leave
   * alone (extension types, functions, operator classes). On a PostgreSQL
   * shadow, `public` and the schemas of installed extensions then come after
   * the scratch schema on the `search_path`, so `gin_trgm_ops` or
   * `uuid_generate_v4()` resolve. Without it (a migration replayed: any SQL
   * at all), the scratch schema stands alone, so a statement naming an
   * object the shadow lacks fails rather than reaching a live one.
   */
  definitionsOnly?: boolean;
}

export interface ShadowOptions {
  /**
   * The live database the shadow stands in for. Alone it only chooses the
   * kind: PGlite → an in-memory PGlite; PostgreSQL → a scratch schema on the
   * same server, reached with the settings the handle was opened with (kept
   * privately in a handle from `openDatabase`). A `DbHandle` made elsewhere
   * needs `url` unless its `redactedUrl` holds no password.
   */
  like?: DbHandle;
  /**
   * Un-redacted URL of the server to put a Postgres shadow on (normally the
   * live database's own URL). Beats `like` for the choice of server; a
   * `pglite:`/`memory://` URL means an in-memory PGlite shadow (a data
   * directory is never opened).
   */
  url?: string;
}

export const SHADOW_SCHEMA_PREFIX = 'ferry_shadow_';

export async function openShadow(options: ShadowOptions = {}): Promise<Shadow> {
  const url = postgresUrl(options);
  return url === null ? openPgliteShadow() : openPostgresShadow(url);
}

/**
 * `ir` as Postgres itself reports it, spelled so that reporting it again
 * changes nothing: reset, apply createStatements(ir), introspect, and repeat
 * with what was reported until it comes back unchanged (see `fixedPoint`).
 */
export async function normalise(shadow: Shadow, ir: SchemaIR): Promise<SchemaIR> {
  return fixedPoint(shadow, await roundTrip(shadow, ir));
}

/**
 * Most rounds `fixedPoint` makes. Every expression seen so far settles after
 * one; a few to spare, and a spelling that never settles is returned as the
 * last round left it (it then shows up as a change, as it did before).
 */
const MAX_ROUNDS = 4;

/**
 * `reported` (what introspection reported) re-created in the shadow and
 * introspected again until it comes back unchanged; the shadow is left
 * holding it.
 *
 * Postgres's deparsed text does not always parse back to the same tree, so
 * a second round can print differently from the first. On a `varchar`
 * column, `role IN ('user', 'assistant')` prints as
 * `((role)::text = ANY ((ARRAY['user'::character varying, ...])::text[]))`;
 * parsing that casts each element instead, and it prints as
 * `((role)::text = ANY (ARRAY[('user'::character varying)::text, ...]))`,
 * which is stable from then on (PostgreSQL 15 and 18 alike). A migration
 * holds the first text, so the database it produced (and a replay of it)
 * reports the second: comparing fixed points on both sides is what makes
 * them agree.
 */
export async function fixedPoint(shadow: Shadow, reported: SchemaIR): Promise<SchemaIR> {
  let current = reported;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const next = await roundTrip(shadow, current);
    if (isDeepStrictEqual(next, current)) return next;
    current = next;
  }
  return current;
}

async function roundTrip(shadow: Shadow, ir: SchemaIR): Promise<SchemaIR> {
  await shadow.reset();
  await shadow.apply(createStatements(withDistribution(ir, new Map())), { definitionsOnly: true });
  // raw() SQL is opaque: kept as declared, or as introspection prints what it made (schema/raw.ts).
  // Citus distribution is not in the catalog the shadow reports: kept as declared (schema/citus.ts).
  return withDistribution(withRaw(await shadow.introspect(), ir.raw), distributionsOf(ir));
}

/** The URL of the Postgres server to shadow on, or null for a PGlite shadow. */
function postgresUrl(options: ShadowOptions): string | null {
  if (options.url !== undefined && options.url.trim() !== '') {
    const target = resolveDatabaseTarget({ url: options.url, env: {} });
    return target.backend === 'postgres' ? target.connectionString : null;
  }
  const like = options.like;
  if (!like || like.backend === 'pglite') return null;
  // The handle's own settings, never the environment: DATABASE_URL may name
  // another server than the one the handle was opened on (--url, a test).
  const own = connectionStringOf(like);
  if (own !== undefined) return own;
  // redactUrl only ever replaces secrets with ****: without one, the redacted URL is the URL.
  if (!like.redactedUrl.includes('****')) return like.redactedUrl;
  throw new FerryError(
    E_BAD_ARGUMENT,
    `A shadow of the PostgreSQL database ${like.redactedUrl} needs its URL with the password: ` +
      'pass openShadow({ like, url }) (this handle was not made by openDatabase and only knows the redacted URL).',
    { details: { url: like.redactedUrl } },
  );
}

// ---------------------------------------------------------------- common

abstract class BaseShadow implements Shadow {
  /** Replaced only by a PGlite shadow that reopens itself with more extensions. */
  protected handle: DbHandle;
  #closing: Promise<void> | undefined;

  constructor(handle: DbHandle) {
    this.handle = handle;
  }

  get db(): Kysely<any> {
    return this.handle.db;
  }

  abstract reset(): Promise<void>;
  protected abstract dispose(): Promise<void>;

  /**
   * A role a statement names that does not exist: a PGlite shadow creates it
   * (returns true) and the statement is run again; a PostgreSQL shadow, on
   * the live server, does not (see roles.ts).
   */
  protected async provideRole(_role: string): Promise<boolean> {
    return false;
  }

  async apply(statements: string[], _options?: ApplyOptions): Promise<void> {
    for (const [i, statement] of statements.entries()) {
      for (let attempt = 0; ; attempt++) {
        try {
          await sql.raw(statement).execute(this.db);
          break;
        } catch (err) {
          const missing = missingExtensionOf(err);
          if (missing !== null) throw extensionUnavailable(missing, this.handle.backend, err);
          const role = missingRoleOf(err);
          // Each retry may reveal the next missing role of the same statement.
          if (role !== null && attempt < 20 && (await this.provideRole(role))) continue;
          if (role !== null)
            throw roleMissing(role, `the server of the shadow database (${this.handle.redactedUrl})`, err);
          throw new FerryError(
            E_QUERY,
            `The shadow database rejected statement ${i + 1} of ${statements.length}: ${(err as Error)?.message ?? String(err)}\n${statement}`,
            { cause: err, details: { statement, index: i } },
          );
        }
      }
    }
  }

  introspect(): Promise<SchemaIR> {
    return introspect(this.db);
  }

  close(): Promise<void> {
    this.#closing ??= this.dispose();
    return this.#closing;
  }
}

// ---------------------------------------------------------------- PGlite

/*
 * Why an image per process rather than one shared instance: initdb in WASM
 * costs ~2.7 s, loading a dumped data dir ~0.6 s, and resetting a live
 * instance a few ms. One shared, reset-on-open instance would be fastest, but
 * two shadows alive at once (parallel work, a caller that forgets close())
 * would then silently share tables and session state (`SET`s run through
 * apply()). Each shadow therefore gets its own instance, loaded from one
 * pristine image made once per process; `reset()` (a few ms) is the fast
 * path for reuse within one shadow, which is what `normalise` does.
 *
 * The image is uncompressed ('none', ~40 MB held in memory): gzip makes it
 * ~4.5 MB but loads ~0.3 s slower every time.
 */
let pristine: Promise<Blob> | undefined;

function pristineImage(): Promise<Blob> {
  if (!pristine) {
    pristine = makeImage();
    // A failed attempt must not poison every later one.
    pristine.catch(() => {
      pristine = undefined;
    });
  }
  return pristine;
}

/**
 * The image is also cached on disk (in the OS temp dir, keyed by the PGlite
 * version), so each CLI run (`ferry migrate new`, `check`) pays ~0.6 s to
 * load it instead of ~3 s for initdb. A missing or unreadable cache is
 * simply rebuilt; it is written to a temp name and renamed into place so a
 * concurrent reader never sees half a file.
 */
async function makeImage(): Promise<Blob> {
  const cache = imageCachePath();
  if (cache) {
    try {
      return new Blob([await readFile(cache)]);
    } catch {
      // Not there yet (or unreadable): build it below.
    }
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = await PGlite.create();
  let image: Blob;
  try {
    image = await pg.dumpDataDir('none');
  } finally {
    await pg.close();
  }
  if (cache) {
    const tmp = `${cache}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, Buffer.from(await image.arrayBuffer()));
      await rename(tmp, cache);
    } catch {
      await rm(tmp, { force: true }).catch(() => {});
    }
  }
  return image;
}

function imageCachePath(): string | null {
  try {
    const require = createRequire(import.meta.url);
    let dir = dirname(require.resolve('@electric-sql/pglite'));
    while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
    const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
    return join(tmpdir(), `ferry-pglite-${version}-pristine.tar`);
  } catch {
    return null;
  }
}

async function openPgliteShadow(): Promise<Shadow> {
  return new PgliteShadow(await openPglite([]));
}

async function openPglite(extensions: readonly string[]): Promise<DbHandle> {
  return openDatabase({ url: 'memory://', loadDataDir: await pristineImage(), extensions });
}

/**
 * PGlite finds an extension only if its bundle was loaded when the instance
 * started. Loading every bundle PGlite ships would cost every shadow ~0.4 s,
 * so the shadow starts with none, and before applying statements that
 * `CREATE EXTENSION` one it has not loaded, reopens itself from the pristine
 * image with it and replays what it applied since the last reset.
 */
class PgliteShadow extends BaseShadow {
  #extensions: string[] = [];
  #sinceReset: string[] = [];
  /** Roles created for policies (PGlite has only its superuser): created again in a reopened instance. */
  #roles: string[] = [];

  protected override async provideRole(role: string): Promise<boolean> {
    await sql.raw(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`).execute(this.db);
    this.#roles.push(role);
    return true;
  }

  override async apply(statements: string[], options?: ApplyOptions): Promise<void> {
    const needed = statements.flatMap(extensionsCreatedIn).filter((n) => n !== 'plpgsql');
    const missing = [...new Set(needed)].filter((n) => !this.#extensions.includes(n));
    if (missing.length > 0) await this.#reopen([...this.#extensions, ...missing]);
    await super.apply(statements, options);
    this.#sinceReset.push(...statements);
  }

  async #reopen(extensions: string[]): Promise<void> {
    const next = await openPglite(extensions);
    try {
      for (const role of this.#roles) await sql.raw(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`).execute(next.db);
      for (const statement of this.#sinceReset) await sql.raw(statement).execute(next.db);
    } catch (err) {
      await next.close().catch(() => {});
      throw err;
    }
    const previous = this.handle;
    this.handle = next;
    this.#extensions = extensions;
    await previous.close();
  }

  async reset(): Promise<void> {
    this.#sinceReset = [];
    // Everything user-made lives in some non-system schema; dropping them all
    // (enums, sequences and extensions included) and recreating an empty
    // `public` gives back a fresh database's layout.
    const { rows } = await sql<{ name: string }>`
      select nspname::text as name from pg_namespace
       where nspname <> 'information_schema' and nspname not like 'pg\\_%'`.execute(this.db);
    for (const { name } of rows) await sql.raw(`DROP SCHEMA ${quoteIdent(name)} CASCADE`).execute(this.db);
    await sql.raw('CREATE SCHEMA public').execute(this.db);
    // Undo session settings an applied statement may have made (search_path...),
    // then restore Ferry's own: the time zone shows in deparsed timestamp defaults.
    await sql.raw('RESET ALL').execute(this.db);
    for (const [name, value] of SESSION_SETTINGS) await sql.raw(`SET ${name} TO '${value}'`).execute(this.db);
  }

  protected dispose(): Promise<void> {
    return this.handle.close();
  }
}

// ---------------------------------------------------------------- PostgreSQL

async function openPostgresShadow(connectionString: string): Promise<Shadow> {
  // Its connections start with a search_path of their own (an `options`
  // startup parameter), which PgBouncer refuses: a shadow needs the direct URL.
  if (resolvePgbouncer(connectionString, undefined).pgbouncer) {
    throw directUrlRequired('A shadow database', redactUrl(connectionString));
  }
  const schema = `${SHADOW_SCHEMA_PREFIX}${randomBytes(6).toString('hex')}`;
  // Every connection of the pool starts with search_path = the scratch schema
  // (a startup option, so a reconnect after an idle timeout gets it too). It
  // goes last in `options`, after anything the URL already sets, so it wins.
  // `ferry.shadow=on` keeps replayed migrations' Citus calls from distributing
  // the scratch tables on a Citus server (schema/citus.ts CITUS_GUARD).
  const url = new URL(connectionString);
  const theirs = url.searchParams.get('options');
  url.searchParams.set('options', `${theirs ? `${theirs} ` : ''}-c search_path=${schema} -c ferry.shadow=on`);
  const handle = await openDatabase({
    url: url.toString(),
    pool: { max: 1, applicationName: 'ferry-shadow' },
  });
  let shared: string[];
  try {
    await sql.raw(`CREATE SCHEMA ${schema}`).execute(handle.db);
    shared = await sharedSchemas(handle.db);
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
  return new PostgresShadow(handle, schema, shared);
}

/** `public` and the schemas extensions are installed in (where their types, functions and opclasses live), if they exist. */
async function sharedSchemas(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select n.nspname::text as name
      from pg_namespace n
     where n.nspname = 'public'
        or n.oid in (select e.extnamespace from pg_extension e)
     order by n.nspname <> 'public', n.nspname`.execute(db);
  return rows.map((r) => r.name).filter((name) => name !== 'pg_catalog' && !name.startsWith(SHADOW_SCHEMA_PREFIX));
}

class PostgresShadow extends BaseShadow {
  readonly #schema: string;
  /** Names (as Postgres folds them) of the tables, views, types, functions and sequences applied statements create. */
  readonly #own = new Set<string>();
  /** Extensions `CREATE EXTENSION` statements applied since the last reset name. */
  readonly #created = new Set<string>();
  /** The scratch schema, then the shared ones (see ApplyOptions). */
  readonly #widePath: string;

  constructor(handle: DbHandle, schema: string, shared: readonly string[]) {
    super(handle);
    this.#schema = schema;
    this.#widePath = [schema, ...shared].map(quoteIdent).join(', ');
  }

  override async apply(statements: string[], options: ApplyOptions = {}): Promise<void> {
    for (const name of statements.flatMap(extensionsCreatedIn)) this.#created.add(name);
    for (const s of statements) {
      const name = createdName(s);
      if (name !== null) this.#own.add(name);
    }
    const moved = new Set(this.#own);
    for (const name of await this.#missingFromPublic(statements)) moved.add(name);
    const local = statements.map((s) => requalify(s, moved, this.#schema));
    if (!options.definitionsOnly) return super.apply(local);
    await sql.raw(`SET search_path TO ${this.#widePath}`).execute(this.db);
    try {
      await super.apply(local);
    } finally {
      await sql.raw(`SET search_path TO ${this.#schema}`).execute(this.db);
    }
  }

  /** The names `statements` qualify with `public.` that are not the shadow's own and that `public` lacks. */
  async #missingFromPublic(statements: readonly string[]): Promise<string[]> {
    const names = [...new Set(statements.flatMap((s) => publicRefs(s).map((r) => r.name)))].filter(
      (n) => !this.#own.has(n),
    );
    if (names.length === 0) return [];
    const { rows } = await sql<{ name: string }>`
      select n as name from unnest(${names}::text[]) n
       where not exists (
         select 1 from pg_namespace ns
          where ns.nspname = 'public'
            and (exists (select 1 from pg_class c where c.relnamespace = ns.oid and c.relname = n)
              or exists (select 1 from pg_proc p where p.pronamespace = ns.oid and p.proname = n)
              or exists (select 1 from pg_type t where t.typnamespace = ns.oid and t.typname = n)
              or exists (select 1 from pg_operator o where o.oprnamespace = ns.oid and o.oprname = n)))`.execute(
      this.db,
    );
    return rows.map((r) => r.name);
  }

  /**
   * With the shared schemas visible (read only), so that names in them print
   * unqualified, as they do when the live database is introspected.
   */
  override introspect(): Promise<SchemaIR> {
    return this.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .setAccessMode('read only')
      .execute(async (trx) => {
        await sql.raw(`SET LOCAL search_path TO ${this.#widePath}`).execute(trx);
        // What Postgres had to qualify (a table a CTE of the same name hides) names the scratch schema:
        // it is `public` in the live database.
        const ir = renameSchema(await introspect(trx, { schema: this.#schema }), this.#schema, 'public');
        // Extensions belong to the whole database, so the shadow reports those its
        // statements created (whether they were there already or not), and one in
        // `public` as the live database (read with schema `public`) reports it.
        const extensions = (ir.extensions ?? [])
          .filter((x) => this.#created.has(x.name))
          .map((x) => (x.schema === 'public' ? { ...x, schema: null } : x));
        if (extensions.length > 0) ir.extensions = extensions;
        else delete ir.extensions;
        return ir;
      });
  }

  async reset(): Promise<void> {
    // CASCADE takes the schema's enums and sequences with it.
    this.#created.clear();
    this.#own.clear();
    await this.#dropSchema();
    await sql.raw(`CREATE SCHEMA ${this.#schema}`).execute(this.db);
    // Back to the startup values: search_path = the scratch schema, Ferry's session settings.
    await sql.raw('RESET ALL').execute(this.db);
  }

  /**
   * Extensions belong to the whole database: one the shadow created (in its
   * schema, first on its search_path) is seen by the live database too, whose
   * `CREATE EXTENSION IF NOT EXISTS` then does nothing and whose objects may
   * come to depend on it. Dropping the schema with CASCADE would take those
   * live objects with it. So such an extension is first moved to `public`, the
   * schema dropped, and the extension then dropped only if nothing (live)
   * depends on it; otherwise it stays where the live database expects it.
   */
  async #dropSchema(): Promise<void> {
    const { rows } = await sql<{ name: string }>`
      select x.extname::text as name from pg_extension x
       where x.extnamespace = (select oid from pg_namespace where nspname = ${this.#schema})
         and x.extrelocatable
         and exists (select 1 from pg_namespace where nspname = 'public')`.execute(this.db);
    for (const { name } of rows) {
      await sql.raw(`ALTER EXTENSION ${quoteIdent(name)} SET SCHEMA public`).execute(this.db);
    }
    await sql.raw(`DROP SCHEMA IF EXISTS ${this.#schema} CASCADE`).execute(this.db);
    for (const { name } of rows) {
      try {
        await sql.raw(`DROP EXTENSION IF EXISTS ${quoteIdent(name)}`).execute(this.db);
      } catch {
        // Something outside the shadow uses it now: it stays, in public.
      }
    }
  }

  protected async dispose(): Promise<void> {
    try {
      await this.#dropSchema();
    } finally {
      await this.handle.close();
    }
  }
}
