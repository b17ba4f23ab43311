import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import { E_BAD_ARGUMENT, E_QUERY } from '../../src/errors.js';
import { introspect } from '../../src/migrate/introspect.js';
import { normalise, openShadow, type Shadow } from '../../src/migrate/shadow.js';
import { createStatements } from '../../src/schema/ddl.js';
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

  if (t.backend === 'postgres') {
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

  it('asks for the URL when the handle only knows a redacted one', async () => {
    await expectFerryError(
      openShadow({ like: passwordProtected as DbHandle, env: {} }),
      E_BAD_ARGUMENT,
      /openShadow\(\{ like, url \}\)/,
    );
    await expectFerryError(
      openShadow({ like: passwordProtected as DbHandle, env: { DATABASE_URL: 'postgres://app:pw@elsewhere/app' } }),
      E_BAD_ARGUMENT,
    );
  });
});
