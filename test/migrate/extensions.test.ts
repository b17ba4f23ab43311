/**
 * Extensions (issue 17, first slice): `extension()` in the DSL, its DDL,
 * introspection, diff and down migration, `ferry pull`, and PGlite loading
 * the contrib bundles of declared extensions, in the app's database and in
 * the migration shadow. On both backends; `migrate new` uses a PGlite shadow
 * as the CLI does, and the Postgres shadow is exercised too.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openProjectDatabase } from '../../src/cli/database.js';
import { importModule } from '../../src/config.js';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { extensionsCreatedIn, missingExtensionOf, pgliteExtensionClosure } from '../../src/db/pglite-extensions.js';
import { E_EXTENSION_UNAVAILABLE } from '../../src/errors.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { generateMigration, pendingChanges } from '../../src/migrate/generate.js';
import { introspect } from '../../src/migrate/introspect.js';
import { renderSchemaModule } from '../../src/migrate/pull.js';
import { Migrator } from '../../src/migrate/runner.js';
import { normalise, openShadow, type Shadow } from '../../src/migrate/shadow.js';
import { customType, integer, serial, text } from '../../src/schema/column.js';
import { createStatements } from '../../src/schema/ddl.js';
import { extension } from '../../src/schema/extension.js';
import type { SchemaIR } from '../../src/schema/ir.js';
import { defineSchema } from '../../src/schema/schema.js';
import { asc, index, table } from '../../src/schema/table.js';
import { describeEachBackend, freshPgliteDatabase } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { tempDirs } from '../support/temp-dirs.js';

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;
const newDir = tempDirs('ferry-ext-');

/** A GiST index over a scalar column (needs btree_gist) and a trigram GIN index (needs pg_trgm). */
function docsTable() {
  return table('docs', { id: serial().primaryKey(), title: text().notNull(), room: integer().notNull() }, (t) => [
    index('docs_title_trgm').using('gin').on(asc(t.title).opclass('gin_trgm_ops')),
    index('docs_room_gist').using('gist').on(t.room),
  ]);
}

const withExtensions = () =>
  defineSchema({ trgm: extension('pg_trgm'), gist: extension('btree_gist'), docs: docsTable() });
const withoutExtensions = () => defineSchema({ docs: table('docs', { id: serial().primaryKey() }) });

describe('extension() DSL, DDL and diff', () => {
  it('is part of the IR, sorted, and created before everything else', () => {
    const ir = defineSchema({
      docs: docsTable(),
      b: extension('pg_trgm', { version: '1.6' }),
      a: extension('btree_gist', { schema: 'ext' }),
      c: extension('uuid-ossp'),
    }).toIR();
    expect(ir.extensions).toEqual([
      { name: 'btree_gist', schema: 'ext', version: null },
      { name: 'pg_trgm', schema: null, version: '1.6' },
      { name: 'uuid-ossp', schema: null, version: null },
    ]);
    const ddl = createStatements(ir);
    expect(ddl.slice(0, 3)).toEqual([
      'CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA ext',
      "CREATE EXTENSION IF NOT EXISTS pg_trgm VERSION '1.6'",
      'CREATE EXTENSION IF NOT EXISTS "uuid-ossp"',
    ]);
    expect(ddl.slice(3).some((s) => /EXTENSION/.test(s))).toBe(false);
    // A schema without extensions keeps the IR it always had.
    expect('extensions' in withoutExtensions().toIR()).toBe(false);
  });

  it('refuses the same extension declared twice with different options', () => {
    expect(() => defineSchema({ a: extension('pg_trgm'), b: extension('pg_trgm', { version: '1.5' }) })).toThrow(
      /declared twice/,
    );
  });

  it('diffs add, drop, version and schema changes; adds come first and drops last', () => {
    const base: SchemaIR = withExtensions().toIR();
    const none: SchemaIR = { ...base, extensions: [] };
    const add = diffSchemas({ enums: [], tables: [] }, base);
    expect(add[0]!.up).toEqual(['CREATE EXTENSION IF NOT EXISTS btree_gist']);
    expect(add[1]!.up).toEqual(['CREATE EXTENSION IF NOT EXISTS pg_trgm']);
    const drop = diffSchemas(base, { enums: [], tables: [] });
    expect(drop.at(-1)!.up).toEqual(['DROP EXTENSION IF EXISTS pg_trgm']);
    expect(drop.at(-1)!.down).toEqual(['CREATE EXTENSION IF NOT EXISTS pg_trgm']);
    expect(drop.at(-2)!.up).toEqual(['DROP EXTENSION IF EXISTS btree_gist']);
    expect(drop.findIndex((c) => c.description === 'drop table docs')).toBeLessThan(drop.length - 2);
    expect(diffSchemas(none, none)).toEqual([]);

    const pinned: SchemaIR = { ...base, extensions: [{ name: 'pg_trgm', schema: 'ext', version: '1.5' }] };
    const unpinned: SchemaIR = { ...base, extensions: [{ name: 'pg_trgm', schema: null, version: null }] };
    const alter = diffSchemas(pinned, unpinned);
    expect(alter.map((c) => c.up)).toEqual([
      ['ALTER EXTENSION pg_trgm UPDATE'],
      ["DO $$ BEGIN EXECUTE format('ALTER EXTENSION %I SET SCHEMA %I', 'pg_trgm', current_schema()); END $$"],
    ]);
    expect(alter.map((c) => c.down)).toEqual([
      ["ALTER EXTENSION pg_trgm UPDATE TO '1.5'"],
      ['ALTER EXTENSION pg_trgm SET SCHEMA ext'],
    ]);
  });

  it('finds the extensions a script creates and the one an error says is missing', () => {
    expect(
      extensionsCreatedIn('create extension if not exists pg_trgm;\nCREATE EXTENSION "uuid-ossp" WITH SCHEMA x;'),
    ).toEqual(['pg_trgm', 'uuid-ossp']);
    expect(pgliteExtensionClosure(['earthdistance', 'plpgsql', 'cube'])).toEqual(['cube', 'earthdistance']);
    expect(missingExtensionOf(new Error('extension "postgis" is not available'))).toBe('postgis');
    expect(
      missingExtensionOf(
        new Error('could not open extension control file "/usr/share/postgresql/15/extension/postgis.control": x'),
      ),
    ).toBe('postgis');
    expect(missingExtensionOf(new Error('syntax error'))).toBeNull();
  });
});

describeEachBackend('extensions', (t) => {
  let handle: DbHandle;
  /** What `migrate new` uses: an in-memory PGlite, whatever the live database. */
  let pgliteShadow: Shadow;
  /** What `migrate check` uses: a shadow like the live database. */
  let likeShadow: Shadow;

  beforeAll(async () => {
    // PGlite needs the bundles of extensions that will be created; Postgres ignores the option.
    handle = await openDatabase({ url: t.url(), extensions: ['pg_trgm', 'btree_gist', 'citext'] });
    pgliteShadow = await openShadow();
    likeShadow = await openShadow({ like: handle, url: t.url() });
  });
  afterAll(async () => {
    await pgliteShadow?.close();
    await likeShadow?.close();
    await handle?.close();
  });

  it('round trip: DSL -> new -> up -> introspect shows no difference; down drops the extensions last', async () => {
    const dir = newDir();
    const schema = withExtensions();
    const { planned } = await generateMigration({ shadow: pgliteShadow, schema, dir, name: 'init' });
    const main = planned.find((m) => m.phase === 'main')!;
    const up = main.up.split('\n').filter((l) => l.endsWith(';'));
    expect(up.slice(0, 2)).toEqual([
      'CREATE EXTENSION IF NOT EXISTS btree_gist;',
      'CREATE EXTENSION IF NOT EXISTS pg_trgm;',
    ]);
    const down = main.down.split('\n').filter((l) => l.endsWith(';'));
    expect(down.slice(-2)).toEqual(['DROP EXTENSION IF EXISTS pg_trgm;', 'DROP EXTENSION IF EXISTS btree_gist;']);

    const migrator = new Migrator(handle.db, { dir });
    expect((await migrator.up()).ok).toBe(true);
    const live = await introspect(handle.db);
    expect(live.extensions).toEqual([
      { name: 'btree_gist', schema: null, version: null },
      { name: 'pg_trgm', schema: null, version: null },
    ]);
    expect(live.tables.find((x) => x.name === 'docs')!.indexes.map((ix) => [ix.name, ix.method])).toEqual([
      ['docs_room_gist', 'gist'],
      ['docs_title_trgm', 'gin'],
    ]);
    // The indexes work: a trigram similarity search through the GIN index's operators.
    await sql`insert into docs (title, room) values ('ferry migrations', 1), ('other', 2)`.execute(handle.db);
    const { rows } = await sql<{ title: string }>`select title from docs where title % 'ferry migration'`.execute(
      handle.db,
    );
    expect(rows.map((r) => r.title)).toEqual(['ferry migrations']);

    // Nothing left to generate, and the database is what the shadow says the DSL is.
    const pending = await pendingChanges(pgliteShadow, schema, dir);
    expect(pending.changes).toEqual([]);
    expect(live).toEqual(pending.target);
    // The shadow like the live database agrees too (on Postgres, a scratch schema of the same database).
    expect(await normalise(likeShadow, schema.toIR())).toEqual(live);
    // On Postgres its tables use the live database's pg_trgm, which could not be dropped while they exist.
    await likeShadow.reset();

    const undone = await migrator.down({ all: true });
    expect(undone.results.map((r) => r.error?.message ?? null)).toEqual([null]);
    expect((await introspect(handle.db)).extensions).toBeUndefined();
  });

  it("a dump's public.x naming an extension's object public lacks until the migration runs normalises in the shadow", async () => {
    // A dump written with an empty search_path qualifies extension types and functions: `email public.citext`.
    await sql`drop extension if exists citext`.execute(handle.db);
    const schema = defineSchema({
      citext: extension('citext'),
      users: table('users_ci', { id: integer().primaryKey(), email: customType('public.citext') }),
    });
    const target = await normalise(likeShadow, schema.toIR());
    expect(target.tables.find((x) => x.name === 'users_ci')!.columns[1]).toMatchObject({
      name: 'email',
      type: 'citext',
    });
    await likeShadow.reset();
  });

  it('removing an extension from the schema drops it after what used it, and down brings it back first', async () => {
    const dir = newDir();
    await generateMigration({ shadow: pgliteShadow, schema: withExtensions(), dir, name: 'init' });
    const { planned } = await generateMigration({
      shadow: pgliteShadow,
      schema: withoutExtensions(),
      dir,
      name: 'drop',
      // A later folder than init's, even within the same second.
      now: new Date(Date.now() + 10_000),
    });
    const main = planned.find((m) => m.phase === 'main')!;
    const up = main.up.split('\n').filter((l) => l.endsWith(';'));
    expect(up.slice(-2)).toEqual(['DROP EXTENSION IF EXISTS btree_gist;', 'DROP EXTENSION IF EXISTS pg_trgm;']);
    expect(up.findIndex((l) => l.startsWith('DROP INDEX'))).toBeLessThan(up.length - 2);
    const down = main.down.split('\n').filter((l) => l.endsWith(';'));
    expect(down.slice(0, 2)).toEqual([
      'CREATE EXTENSION IF NOT EXISTS pg_trgm;',
      'CREATE EXTENSION IF NOT EXISTS btree_gist;',
    ]);

    const migrator = new Migrator(handle.db, { dir });
    const applied = await migrator.up();
    expect(applied.results.map((r) => r.error?.message ?? r.status)).toEqual(['applied', 'applied']);
    expect((await introspect(handle.db)).extensions).toBeUndefined();
    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect((await introspect(handle.db)).extensions?.map((x) => x.name)).toEqual(['btree_gist', 'pg_trgm']);
    expect((await migrator.down({ all: true })).ok).toBe(true);
  });

  it('an extension the backend cannot provide is E_EXTENSION_UNAVAILABLE naming it and the backend', async () => {
    const ir = defineSchema({ x: extension('no_such_extension'), docs: docsTable() }).toIR();
    const err = await expectFerryError(
      normalise(pgliteShadow, ir),
      E_EXTENSION_UNAVAILABLE,
      /"no_such_extension".*PGlite/,
    );
    expect(err.details).toEqual({ extension: 'no_such_extension', backend: 'pglite' });
    const like = await expectFerryError(normalise(likeShadow, ir), E_EXTENSION_UNAVAILABLE, /"no_such_extension"/);
    expect(like.details).toEqual({ extension: 'no_such_extension', backend: t.backend });
    // The shadow is still usable afterwards.
    expect((await normalise(pgliteShadow, withExtensions().toIR())).extensions).toHaveLength(2);
  });

  it('a shadow like the live database reports the extensions its own statements create, not all it can see', async () => {
    for (const s of createStatements(withExtensions().toIR())) await sql.raw(s).execute(handle.db);
    try {
      expect((await normalise(likeShadow, withoutExtensions().toIR())).extensions).toBeUndefined();
      expect((await normalise(likeShadow, withExtensions().toIR())).extensions).toEqual([
        { name: 'btree_gist', schema: null, version: null },
        { name: 'pg_trgm', schema: null, version: null },
      ]);
    } finally {
      await likeShadow.reset();
      await sql.raw('DROP TABLE docs; DROP EXTENSION pg_trgm; DROP EXTENSION btree_gist').execute(handle.db);
    }
  });

  it('an extension the shadow created that the live database came to use survives the shadow', async () => {
    // On Postgres the shadow's citext is visible to the live database, whose CREATE EXTENSION then does nothing.
    await normalise(likeShadow, defineSchema({ c: extension('citext') }).toIR());
    await sql`create extension if not exists citext`.execute(handle.db);
    // Wherever it is (on Postgres: the shadow's schema, not on the live search_path).
    const { rows: at } = await sql<{ type: string }>`
      select format('%I.citext', n.nspname) as type from pg_extension x
        join pg_namespace n on n.oid = x.extnamespace where x.extname = 'citext'`.execute(handle.db);
    await sql.raw(`create table names (name ${at[0]!.type} primary key)`).execute(handle.db);
    await sql`insert into names values ('Ferry')`.execute(handle.db);
    await likeShadow.reset();
    try {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from names where name = 'FERRY'`.execute(
        handle.db,
      );
      expect(rows[0]!.n).toBe(1);
      expect((await introspect(handle.db)).extensions).toEqual([{ name: 'citext', schema: null, version: null }]);
    } finally {
      await sql.raw('DROP TABLE names; DROP EXTENSION citext').execute(handle.db);
    }
  });

  it('ferry pull writes extension() calls that reproduce the database', async () => {
    for (const s of createStatements(withExtensions().toIR())) await sql.raw(s).execute(handle.db);
    try {
      const live = await introspect(handle.db);
      const text = renderSchemaModule(live, { importFrom: srcIndex });
      expect(text).toContain('export const btreeGistExtension = extension("btree_gist");');
      expect(text).toContain('export const pgTrgmExtension = extension("pg_trgm");');
      const file = join(newDir(), 'schema.ts');
      writeFileSync(file, text);
      const pulled = defineSchema(await importModule(file, 'pulled schema'));
      expect(pulled.extensions.map((x) => x.name)).toEqual(['btree_gist', 'pg_trgm']);
      expect(await normalise(pgliteShadow, pulled.toIR())).toEqual(live);
      expect(readFileSync(file, 'utf8').indexOf('extension(')).toBeLessThan(
        readFileSync(file, 'utf8').indexOf('table('),
      );
    } finally {
      await sql.raw('DROP TABLE docs; DROP EXTENSION pg_trgm; DROP EXTENSION btree_gist').execute(handle.db);
    }
  });
});

describe('PGlite databases load the bundles of their extensions', () => {
  it('reopens a data dir with its installed extensions without being told; refuses one PGlite lacks', async () => {
    const { url, cleanup } = await freshPgliteDatabase();
    try {
      const first = await openDatabase({ url, extensions: ['pg_trgm'] });
      await sql`create extension pg_trgm`.execute(first.db);
      await first.close();
      const again = await openDatabase({ url });
      try {
        const { rows } = await sql<{ s: number }>`select similarity('ferry', 'ferries') > 0 as s`.execute(again.db);
        expect(rows[0]!.s).toBe(true);
      } finally {
        await again.close();
      }
      await expectFerryError(
        openDatabase({ url, extensions: ['postgis'] }),
        E_EXTENSION_UNAVAILABLE,
        /"postgis".*PGlite/,
      );
      // The refusal released the data dir.
      await (await openDatabase({ url })).close();
    } finally {
      await cleanup();
    }
  });

  it('the CLI opens an embedded project database with the bundles its migrations create', async () => {
    const { url, cleanup } = await freshPgliteDatabase();
    const migrationsDir = newDir();
    mkdirSync(join(migrationsDir, '20240101000000_trgm'));
    writeFileSync(
      join(migrationsDir, '20240101000000_trgm', 'up.sql'),
      'CREATE EXTENSION IF NOT EXISTS pg_trgm;\nCREATE TABLE t (s text);\nCREATE INDEX t_s ON t USING gin (s gin_trgm_ops);\n',
    );
    writeFileSync(join(migrationsDir, '20240101000000_trgm', 'down.sql'), 'DROP TABLE t;\nDROP EXTENSION pg_trgm;\n');
    const dataDir = url.slice('pglite:'.length);
    const handle = await openProjectDatabase({
      path: null,
      dir: migrationsDir,
      schemaPath: join(migrationsDir, 'schema.ts'),
      migrationsDir,
      dataDir,
    });
    try {
      // (A DATABASE_URL in the environment would win over dataDir: then this test is not about PGlite.)
      expect(handle.backend).toBe('pglite');
      const result = await new Migrator(handle.db, { dir: migrationsDir }).up();
      expect(result.results.map((r) => r.error?.message ?? r.status)).toEqual(['applied']);
    } finally {
      await handle.close();
      await cleanup();
    }
  });
});
