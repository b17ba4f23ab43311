import { inspect } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { E_BAD_ARGUMENT, E_QUERY } from '../../src/errors.js';
import { introspect } from '../../src/migrate/introspect.js';
import { normalise, openShadow, type Shadow } from '../../src/migrate/shadow.js';
import { createStatements } from '../../src/schema/ddl.js';
import { asc, check, sql as ddl, index, table, text, uuid } from '../../src/schema/index.js';
import { defineSchema } from '../../src/schema/schema.js';
import * as fixtures from '../schema/fixtures.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { applyAll, canonicalIR } from './introspect-support.js';

const dsl = defineSchema(fixtures).toIR();

const currentSchema = async (db: Shadow['db']) =>
  (await sql<{ name: string }>`select current_schema() as name`.execute(db)).rows[0]?.name;

const schemaExists = async (db: DbHandle['db'], name: string) =>
  (await sql<{ n: number }>`select count(*)::int as n from pg_namespace where nspname = ${name}`.execute(db)).rows[0]
    ?.n === 1;

describeEachBackend('shadow', (t) => {
  let live: DbHandle;
  let shadow: Shadow;

  beforeAll(async () => {
    live = await t.open();
    await applyAll(live, createStatements(dsl));
    shadow = await openShadow({ like: live, url: t.url() });
  });
  afterAll(() => shadow?.close());

  it('is the same kind of database as the live one', async () => {
    const version = (db: DbHandle['db']) =>
      sql<{ v: string }>`show server_version`.execute(db).then((r) => r.rows[0]?.v);
    expect(await version(shadow.db)).toBe(await version(live.db));
  });

  it('normalises the DSL into exactly what introspecting a real database of it reports', async () => {
    expect(await normalise(shadow, dsl)).toEqual(await introspect(live.db));
  });

  it('is repeatable: normalising twice (or what it reported) gives the same', async () => {
    const once = await normalise(shadow, dsl);
    expect(await normalise(shadow, dsl)).toEqual(once);
    expect(await normalise(shadow, once)).toEqual(once);
    expect(await normalise(shadow, canonicalIR)).toEqual(canonicalIR);
  });

  it('reset really empties it', async () => {
    await normalise(shadow, dsl);
    await shadow.apply(['CREATE SEQUENCE stray_seq', "CREATE TYPE stray AS ENUM ('x')"]);
    await shadow.reset();
    expect(await shadow.introspect()).toEqual({ enums: [], tables: [] });
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = current_schema()`.execute(shadow.db);
    expect(rows[0]?.n).toBe(0);
    // Usable again straight away.
    await shadow.apply(createStatements(canonicalIR));
    expect(await shadow.introspect()).toEqual(canonicalIR);
  });

  it('reports a rejected statement with its text', async () => {
    await shadow.reset();
    const err = await expectFerryError(
      shadow.apply(['CREATE TABLE ok (id integer)', 'CREATE TABLE broken (id no_such_type)']),
      E_QUERY,
      /statement 2 of 2.*no_such_type/s,
    );
    expect(err.details).toMatchObject({ index: 1 });
  });

  it('never touches the live database', async () => {
    const before = await introspect(live.db);
    await normalise(shadow, canonicalIR);
    await shadow.apply(['CREATE TABLE shadow_only (id integer)']);
    expect(await introspect(live.db)).toEqual(before);
  });

  it('normalises a default of gen_random_uuid() (core) as the live database reports it', async () => {
    const ir = defineSchema([
      table('tokens', { id: uuid().primaryKey().default(ddl`gen_random_uuid()`), name: text() }),
    ]).toIR();
    const normalised = await normalise(shadow, ir);
    expect(normalised.tables[0]!.columns[0]!.default).toBe('gen_random_uuid()');
    expect(await normalise(shadow, normalised)).toEqual(normalised);
  });

  if (t.backend === 'postgres') {
    it('sees extensions and functions in public when normalising, printed as the live database prints them', async () => {
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from pg_available_extensions where name = 'pg_trgm'`.execute(live.db);
      const trgm = rows[0]!.n === 1;
      if (trgm) await sql`create extension if not exists pg_trgm`.execute(live.db);
      await sql
        .raw(`create or replace function public.ferry_test_slug(t text) returns text
        language sql immutable as $$ select lower(t) $$`)
        .execute(live.db);
      const other = await openShadow({ like: live, url: t.url() });
      try {
        const ir = defineSchema([
          table(
            'documents',
            {
              id: uuid().primaryKey().default(ddl`gen_random_uuid()`),
              title: text().notNull(),
              slug: text(),
            },
            (d) => [
              check('documents_slug_check', ddl`${d.slug} = ferry_test_slug(${d.slug})`),
              ...(trgm ? [index('documents_title_trgm').using('gin').on(asc(d.title).opclass('gin_trgm_ops'))] : []),
            ],
          ),
        ]).toIR();
        const normalised = await normalise(other, ir);
        // The same DDL on a real database (with public on its search_path) reports the same.
        await sql`create schema ferry_test_live`.execute(live.db);
        try {
          await live.db.connection().execute(async (conn) => {
            await sql`set search_path to ferry_test_live, public`.execute(conn);
            try {
              for (const s of createStatements(ir)) await sql.raw(s).execute(conn);
              // Extensions aside: they belong to the whole database (pg_trgm, created above, is not
              // the DSL's), and the shadow reports only those its own statements create.
              const { extensions, ...reported } = await introspect(conn, { schema: 'ferry_test_live' });
              expect(extensions?.map((x) => x.name) ?? []).toEqual(trgm ? ['pg_trgm'] : []);
              expect(normalised).toEqual(reported);
            } finally {
              await sql`reset search_path`.execute(conn);
            }
          });
        } finally {
          await sql`drop schema ferry_test_live cascade`.execute(live.db);
        }
        const doc = normalised.tables[0]!;
        expect(doc.checks[0]!.expression).toBe('(slug = ferry_test_slug(slug))');
        if (trgm) expect(doc.indexes[0]!.keys[0]!.opclass).toBe('gin_trgm_ops');
        expect(await normalise(other, normalised)).toEqual(normalised);
        // Replaying arbitrary SQL still sees the scratch schema alone.
        await expectFerryError(other.apply(["SELECT ferry_test_slug('x')"]), E_QUERY, /does not exist/);
      } finally {
        await other.close();
        await sql`drop function public.ferry_test_slug(text)`.execute(live.db);
      }
    });

    it('lives in a scratch schema of its own, dropped on close', async () => {
      const other = await openShadow({ like: live, url: t.url() });
      const name = await currentSchema(other.db);
      expect(name).toMatch(/^ferry_shadow_[0-9a-f]{12}$/);
      expect(name).not.toBe(await currentSchema(shadow.db));
      // The same names as the live tables, side by side with them.
      await normalise(other, dsl);
      await expectFerryError(other.apply(['DROP TABLE accounts CASCADE', 'DROP TABLE accounts']), E_QUERY);
      expect(await schemaExists(live.db, name!)).toBe(true);
      await other.close();
      await other.close(); // idempotent
      expect(await schemaExists(live.db, name!)).toBe(false);
      expect((await introspect(live.db)).tables.map((x) => x.name)).toEqual([
        'accounts',
        'events',
        'grants',
        'memberships',
        'tag_links',
        'tags',
      ]);
    });

    it('needs no URL when the live URL holds no password', async () => {
      expect(live.redactedUrl).not.toContain('****');
      const other = await openShadow({ like: live });
      try {
        expect(await currentSchema(other.db)).toMatch(/^ferry_shadow_/);
      } finally {
        await other.close();
      }
    });

    it("opens on the handle's own password-bearing settings, never DATABASE_URL", async () => {
      const url = new URL(t.url());
      url.password = 'postgres'; // trust auth ignores it; only the redaction sees it
      const handle = await openDatabase({ url: url.href, env: {} });
      const saved = process.env.DATABASE_URL;
      // Another server in the environment must not matter (the old code fell back to it).
      process.env.DATABASE_URL = 'postgresql://other:elsewhere@127.0.0.1:1/nope';
      try {
        expect(handle.redactedUrl).toContain(':****@');
        const other = await openShadow({ like: handle });
        try {
          expect(await currentSchema(other.db)).toMatch(/^ferry_shadow_/);
        } finally {
          await other.close();
        }
        // The settings are private: not enumerable, not shown by util.inspect.
        const shown = inspect(handle, { showHidden: true, depth: Number.POSITIVE_INFINITY });
        expect(shown).toContain(handle.redactedUrl);
        expect(shown).not.toContain(':postgres@');
        expect(JSON.stringify(Object.entries(handle).filter(([k]) => k !== 'db' && k !== 'dialect'))).not.toContain(
          ':postgres@',
        );
      } finally {
        if (saved === undefined) delete process.env.DATABASE_URL;
        else process.env.DATABASE_URL = saved;
        await handle.close();
      }
    });
  } else {
    it('is an in-memory PGlite of its own, also without `like`', async () => {
      const [a, b] = await Promise.all([openShadow(), openShadow({ url: 'memory://' })]);
      try {
        await a.apply(createStatements(canonicalIR));
        expect(await a.introspect()).toEqual(canonicalIR);
        expect(await b.introspect()).toEqual({ enums: [], tables: [] });
        expect(await currentSchema(a.db)).toBe('public');
      } finally {
        await a.close();
        await b.close();
      }
    });
  }
});

describe('openShadow without a usable URL', () => {
  const passwordProtected = { backend: 'postgres', redactedUrl: 'postgresql://app:****@db.internal:5432/app' };

  it('asks for the URL when a handle not made by openDatabase only knows a redacted one', async () => {
    await expectFerryError(
      openShadow({ like: passwordProtected as DbHandle }),
      E_BAD_ARGUMENT,
      /openShadow\(\{ like, url \}\)/,
    );
  });
});
