/**
 * Functions and triggers (issue 17): `fn()` and `trigger()` in the DSL, their
 * DDL and place in it (a function a CHECK calls before the table, one over a
 * table's row type after it, triggers last), introspection, diff (`CREATE OR
 * REPLACE` where Postgres allows it, else drop and create; down migrations
 * restore the previous definition exactly), and `ferry pull`. On both
 * backends, each with a shadow like its database (a scratch schema on
 * PostgreSQL, so names must come back unqualified there too).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { importModule } from '../../src/config.js';
import type { DbHandle } from '../../src/db/open.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { generateMigration, pendingChanges } from '../../src/migrate/generate.js';
import { introspect } from '../../src/migrate/introspect.js';
import { renderSchemaModule } from '../../src/migrate/pull.js';
import { Migrator } from '../../src/migrate/runner.js';
import { normalise, type Shadow } from '../../src/migrate/shadow.js';
import { bigserial, customType, integer, jsonb, serial, text, timestamptz } from '../../src/schema/column.js';
import { createStatements } from '../../src/schema/ddl.js';
import { fn } from '../../src/schema/function.js';
import type { SchemaIR } from '../../src/schema/ir.js';
import { defineSchema } from '../../src/schema/schema.js';
import { sql as dsl } from '../../src/schema/sql.js';
import { check, index, table } from '../../src/schema/table.js';
import { trigger, tsvectorTrigger } from '../../src/schema/trigger.js';
import { view } from '../../src/schema/view.js';
import { describeEachBackend } from '../support/backends.js';
import { migrateSuite } from '../support/migrate-suite.js';
import { tempDirs } from '../support/temp-dirs.js';

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;
const newDir = tempDirs('ferry-fn-');

interface Version {
  slugArg: string;
  tagLimit: number;
  stateArg: string;
  searchConfig: string;
  touchColumns: string[];
  touchComment: string;
  second: 'numeric' | 'bigint';
}
const V1: Version = {
  slugArg: 'title',
  tagLimit: 100,
  stateArg: 'job',
  searchConfig: 'pg_catalog.english',
  touchColumns: ['title'],
  touchComment: 'keeps search2 current',
  second: 'numeric',
};
const V2: Version = {
  slugArg: 'txt',
  tagLimit: 200,
  stateArg: 'j',
  searchConfig: 'pg_catalog.simple',
  touchColumns: ['title', 'body'],
  touchComment: 'keeps search2 current (title, body)',
  second: 'bigint',
};

/** The Que job queue's shapes (a function in a CHECK, one over the table's row type) and a search table kept by triggers. */
function schemaOf(v: Version) {
  const validateTags = fn('que_validate_tags', {
    args: [{ name: 'tags_array', type: 'jsonb' }],
    returns: 'boolean',
    volatility: 'immutable',
    body: `\n  SELECT bool_and(jsonb_typeof(value) = 'string' AND char_length(value::text) <= ${v.tagLimit})\n  FROM jsonb_array_elements(tags_array)\n`,
    comment: 'Que: tags are short strings',
  });
  const jobs = table(
    'que_jobs',
    {
      id: bigserial().primaryKey(),
      run_at: timestamptz().notNull().default(dsl`now()`),
      error_count: integer().notNull().default(dsl`0`),
      finished_at: timestamptz(),
      tags: jsonb().notNull().default(dsl`'[]'::jsonb`),
    },
    () => [check('valid_tags', dsl`que_validate_tags(tags)`)],
  );
  const jobState = fn('que_job_state', {
    args: [{ name: v.stateArg, type: jobs }],
    returns: 'text',
    volatility: 'stable',
    body: `SELECT CASE WHEN $1.finished_at IS NOT NULL THEN 'finished' WHEN $1.error_count > 0 THEN 'errored' ELSE 'ready' END`,
  });
  // A view calling the row-type function: dropped before the function is recreated (V1 -> V2), back after.
  const jobStates = view('que_job_states', 'SELECT j.id, que_job_state(j.*) AS state FROM que_jobs j');
  // Counts jobs in a body created before que_jobs (check_function_bodies is off, as in pg_dump's output).
  const countJobs = fn('count_jobs', {
    returns: 'bigint',
    security: 'definer',
    setConfig: { search_path: 'public, pg_temp' },
    body: 'SELECT count(*) FROM que_jobs',
  });
  const addOne = fn('add_one', {
    args: [{ type: 'integer' }],
    returns: 'integer',
    volatility: 'immutable',
    strict: true,
    parallel: 'safe',
    body: 'SELECT $1 + 1',
  });
  const addOneMore = fn('add_one', { args: [{ type: v.second }], returns: v.second, body: 'SELECT $1 + 1' });
  const tsvector = () => customType('tsvector');
  // Called by a check, an expression index and a default of posts: its argument's new name (V2) makes
  // Postgres drop and create it, which it refuses while they exist.
  const slugify = fn('slugify', {
    args: [{ name: v.slugArg, type: 'text' }],
    returns: 'text',
    volatility: 'immutable',
    body: "SELECT lower(regexp_replace($1, '[^a-z0-9]+', '-', 'gi'))",
  });
  const posts = table(
    'posts',
    {
      id: serial().primaryKey(),
      title: text(),
      body: text(),
      search: tsvector(),
      search2: tsvector(),
      slug: text().notNull().default(dsl`slugify('untitled'::text)`),
    },
    () => [
      check('slug_ok', dsl`slugify(slug) = slug`).comment('a slug is its own slug'),
      index('posts_title_slug').on(dsl`slugify(title)`).comment('finds posts by slug'),
    ],
  );
  const search2Update = fn('posts_search2_update', {
    returns: 'trigger',
    body: `\nBEGIN\n  NEW.search2 := to_tsvector('simple', coalesce(NEW.title, '') || ' ' || coalesce(NEW.body, ''));\n  RETURN NEW;\nEND\n`,
  });
  return defineSchema({
    validateTags,
    jobs,
    jobState,
    jobStates,
    countJobs,
    addOne,
    addOneMore,
    slugify,
    posts,
    search2Update,
    postsSearch: tsvectorTrigger('posts_search', posts, {
      column: 'search',
      config: v.searchConfig,
      from: ['title', 'body'],
    }),
    postsSearch2: trigger('posts_search2', posts, {
      timing: 'before',
      events: ['insert'],
      forEach: 'row',
      fn: search2Update,
    }),
    postsTouch: trigger('posts_touch', posts, {
      timing: 'before',
      events: [{ update: v.touchColumns }],
      forEach: 'row',
      when: 'OLD.* IS DISTINCT FROM NEW.*',
      fn: search2Update,
      comment: v.touchComment,
    }),
  });
}

describe('fn() and trigger(): DSL, DDL and diff', () => {
  it('compiles to IR; overloads are told apart by argument types; declared twice differently is an error', () => {
    const ir = schemaOf(V1).toIR();
    expect(ir.functions?.map((f) => `${f.name}(${f.argumentTypes})`)).toEqual([
      'add_one(integer)',
      'add_one(numeric)',
      'count_jobs()',
      'posts_search2_update()',
      'que_job_state(que_jobs)',
      'que_validate_tags(jsonb)',
      'slugify(text)',
    ]);
    expect(ir.functions?.find((f) => f.name === 'posts_search2_update')?.language).toBe('plpgsql');
    expect(ir.triggers?.find((t) => t.name === 'posts_search')).toEqual({
      name: 'posts_search',
      table: 'posts',
      timing: 'before',
      events: ['insert', 'update'],
      updateOf: [],
      forEach: 'row',
      when: null,
      function: 'tsvector_update_trigger',
      args: ['search', 'pg_catalog.english', 'title', 'body'],
      comment: null,
    });
    const f = fn('f', { returns: 'integer', body: 'SELECT 1' });
    expect(() => defineSchema({ f, g: fn('f', { returns: 'integer', body: 'SELECT 2' }) })).toThrow(/declared twice/);
    expect(() =>
      defineSchema({ f, g: fn('f', { args: [{ type: 'text' }], returns: 'integer', body: 'SELECT 2' }) }),
    ).not.toThrow();
    expect(() =>
      defineSchema({ t: trigger('t', 'nope', { timing: 'after', events: ['insert'], fn: 'f' }) }).toIR(),
    ).toThrow(/not a table or \(plain\) view exported/);
    expect(() => trigger('t', 'x', { timing: 'after', events: [], fn: 'f' })).toThrow(/at least one event/);
    // A schema without functions or triggers keeps the IR it always had.
    const plain = defineSchema({ t: table('t', { id: serial() }) }).toIR();
    expect('functions' in plain || 'triggers' in plain).toBe(false);
  });

  it('places a function a CHECK calls before its table, one over a row type after it, triggers last', () => {
    const ddl = createStatements(schemaOf(V1).toIR());
    const at = (prefix: string) => ddl.findIndex((s) => s.startsWith(prefix));
    expect(ddl[0]).toBe('SET check_function_bodies = false');
    expect(at('CREATE FUNCTION que_validate_tags(')).toBeLessThan(at('CREATE TABLE que_jobs'));
    expect(at('CREATE FUNCTION que_job_state(')).toBeGreaterThan(at('CREATE TABLE que_jobs'));
    expect(at('CREATE TRIGGER posts_touch')).toBeGreaterThan(at('CREATE FUNCTION posts_search2_update'));
    expect(ddl).toContain(
      'CREATE TRIGGER posts_touch BEFORE UPDATE OF title ON posts FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION posts_search2_update()',
    );
    expect(ddl).toContain("COMMENT ON FUNCTION que_validate_tags(jsonb) IS 'Que: tags are short strings'");
  });

  it('replaces in place when it can, else drops and creates (its triggers with it); down is the exact inverse', () => {
    const a = schemaOf(V1).toIR();
    const b = schemaOf(V2).toIR();
    const changes = diffSchemas(a, b);
    const d = changes.map((c) => c.description);
    expect(d).toContain('replace function que_validate_tags(jsonb)');
    expect(d).toContain('drop function que_job_state(que_jobs)');
    expect(d).toContain('create function que_job_state(que_jobs)');
    expect(d).toContain('drop function add_one(numeric)');
    expect(d).toContain('create function add_one(bigint)');
    expect(d.indexOf('drop function que_job_state(que_jobs)')).toBeLessThan(
      d.indexOf('create function que_job_state(que_jobs)'),
    );
    // What calls slugify goes before it is dropped and comes back once it is created again.
    for (const what of ['drop check slug_ok', 'drop index posts_title_slug', 'drop default of posts.slug']) {
      expect(d.indexOf(what), what).toBeGreaterThanOrEqual(0);
      expect(d.indexOf(what), what).toBeLessThan(d.indexOf('drop function slugify(text)'));
    }
    for (const what of [
      'add check slug_ok (not yet validated)',
      'create index posts_title_slug concurrently',
      'set default of posts.slug',
    ]) {
      expect(d.indexOf(what), what).toBeGreaterThan(d.indexOf('create function slugify(text)'));
    }
    // The view calling it goes first and comes back once it exists again.
    expect(d.indexOf('drop view que_job_states')).toBeLessThan(d.indexOf('drop function que_job_state(que_jobs)'));
    expect(d.indexOf('create view que_job_states')).toBeGreaterThan(
      d.indexOf('create function que_job_state(que_jobs)'),
    );
    const replace = changes.find((c) => c.description === 'replace function que_validate_tags(jsonb)')!;
    expect(replace.up[1]).toMatch(/^CREATE OR REPLACE FUNCTION que_validate_tags\(tags_array jsonb\) RETURNS boolean/);
    expect(replace.up[1]).toContain('<= 200');
    expect(replace.down[1]).toContain('<= 100');
    // A trigger's function dropped and created again takes the trigger along.
    const withTrigger = (args: string): SchemaIR => ({
      enums: [],
      tables: [a.tables.find((t) => t.name === 'posts')!],
      functions: [{ ...a.functions!.find((f) => f.name === 'posts_search2_update')!, arguments: args }],
      triggers: a.triggers!.filter((t) => t.name === 'posts_search2'),
    });
    const redo = diffSchemas(withTrigger(''), withTrigger('VARIADIC x text[]')).map((c) => c.description);
    expect(redo).toEqual([
      'drop trigger posts.posts_search2',
      'drop function posts_search2_update()',
      'create function posts_search2_update()',
      'create trigger posts.posts_search2',
    ]);
    expect(diffSchemas(a, a)).toEqual([]);
    // Everything gone: the view, triggers first, the row-type function before its table, the rest after the tables.
    const gone = diffSchemas(a, { enums: [], tables: [] }).map((c) => c.description);
    expect(gone.slice(0, 4)).toEqual([
      'drop view que_job_states',
      'drop trigger posts.posts_search',
      'drop trigger posts.posts_search2',
      'drop trigger posts.posts_touch',
    ]);
    expect(gone.indexOf('drop function que_job_state(que_jobs)')).toBeLessThan(gone.indexOf('drop table que_jobs'));
    expect(gone.indexOf('drop function que_validate_tags(jsonb)')).toBeGreaterThan(gone.indexOf('drop table que_jobs'));
  });
});

describeEachBackend('functions and triggers', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  // pg_trgm: on PGlite, CREATE EXTENSION finds only the bundles loaded at open.
  migrateSuite(t, { extensions: ['pg_trgm'], shadow: 'like' }, (h, s) => {
    handle = h;
    shadow = s;
  });

  it('round trip: DSL -> new -> up -> introspect; changes go up and come back down exactly', async () => {
    const dir = newDir();
    await generateMigration({ shadow, schema: schemaOf(V1), dir, name: 'init' });
    const migrator = new Migrator(handle.db, { dir });
    const up1 = await migrator.up();
    expect(up1.ok, JSON.stringify(up1)).toBe(true);
    const live1 = await introspect(handle.db);
    const pending = await pendingChanges(shadow, schemaOf(V1), dir);
    expect(pending.changes).toEqual([]);
    expect(live1).toEqual(pending.target);
    expect(live1.functions).toHaveLength(7);
    expect(live1.functions?.find((f) => f.name === 'count_jobs')).toMatchObject({
      security: 'definer',
      setConfig: [['search_path', 'public, pg_temp']],
      returns: 'bigint',
    });
    expect(live1.functions?.find((f) => f.name === 'que_job_state')?.arguments).toBe('job que_jobs');
    expect(live1.triggers?.find((x) => x.name === 'posts_touch')).toMatchObject({
      when: '(old.* IS DISTINCT FROM new.*)',
      updateOf: ['title'],
      comment: 'keeps search2 current',
    });

    // They work: the CHECK calls the function, the row-type function reads a row, the triggers fill the vectors.
    await expect(sql`insert into que_jobs (tags) values ('[1]')`.execute(handle.db)).rejects.toThrow(/valid_tags/);
    await sql`insert into que_jobs (tags, error_count) values ('["a"]', 2)`.execute(handle.db);
    const { rows: states } = await sql<{ s: string; n: string; a: number }>`
      select que_job_state(j) as s, count_jobs()::text as n, add_one(41) as a from que_jobs j`.execute(handle.db);
    expect(states).toEqual([{ s: 'errored', n: '1', a: 42 }]);
    await sql`insert into posts (title, body) values ('Running dogs', 'quickly')`.execute(handle.db);
    await sql`update posts set title = 'Jumping cats'`.execute(handle.db);
    const { rows: posts } = await sql<{ search: string; search2: string }>`
      select search::text, search2::text from posts`.execute(handle.db);
    expect(posts).toEqual([{ search: "'cat':2 'jump':1 'quick':3", search2: "'cats':2 'jumping':1 'quickly':3" }]);
    await sql`delete from posts; delete from que_jobs`.execute(handle.db);

    const change = await generateMigration({
      shadow,
      schema: schemaOf(V2),
      dir,
      name: 'change',
      now: new Date(Date.now() + 10_000),
    });
    // main, validate (the re-added check), concurrent (the re-built index), attach (its comment)
    expect(change.written).toHaveLength(4);
    const up2 = await migrator.up();
    expect(up2.ok, JSON.stringify(up2)).toBe(true);
    const live2 = await introspect(handle.db);
    expect((await pendingChanges(shadow, schemaOf(V2), dir)).changes).toEqual([]);
    expect(live2.functions?.map((f) => `${f.name}(${f.argumentTypes})`)).toContain('add_one(bigint)');
    expect(live2.functions?.find((f) => f.name === 'que_job_state')?.arguments).toBe('j que_jobs');
    expect(live2.triggers?.find((x) => x.name === 'posts_search')?.args[1]).toBe('pg_catalog.simple');

    expect((await migrator.down({ steps: change.written.length })).ok).toBe(true);
    expect(await introspect(handle.db)).toEqual(live1);
    expect((await migrator.down({ all: true })).ok).toBe(true);
    const empty = await introspect(handle.db);
    expect(empty.functions).toBeUndefined();
    expect(empty.triggers).toBeUndefined();
    expect(empty.tables).toEqual([]);
  });

  it('pull writes fn() and trigger() that create the same functions and triggers; extension functions are not pulled', async () => {
    await sql
      .raw(`
        CREATE EXTENSION pg_trgm;
        CREATE TABLE docs (id integer, title text, tsv tsvector);
        CREATE FUNCTION docs_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        COMMENT ON FUNCTION docs_guard() IS 'guards docs';
        CREATE FUNCTION pick(a integer, b integer DEFAULT 2) RETURNS SETOF docs LANGUAGE sql STABLE AS 'SELECT * FROM docs WHERE id IN (a, b)';
        CREATE TRIGGER docs_tsv BEFORE INSERT OR UPDATE OF title ON docs FOR EACH ROW
          EXECUTE FUNCTION tsvector_update_trigger(tsv, 'pg_catalog.english', title);
        CREATE TRIGGER docs_guard AFTER DELETE OR TRUNCATE ON docs FOR EACH STATEMENT EXECUTE FUNCTION docs_guard('it''s', 'x');
        COMMENT ON TRIGGER docs_guard ON docs IS 'say no';`)
      .execute(handle.db);
    try {
      const live = await introspect(handle.db);
      // similarity(), show_trgm()... belong to pg_trgm.
      expect(live.extensions?.map((x) => x.name)).toEqual(['pg_trgm']);
      expect(live.functions?.map((f) => f.name)).toEqual(['docs_guard', 'pick']);
      expect(live.triggers?.find((x) => x.name === 'docs_guard')).toMatchObject({
        events: ['delete', 'truncate'],
        forEach: 'statement',
        args: ["it's", 'x'],
        comment: 'say no',
      });
      const text = renderSchemaModule(live, { importFrom: srcIndex });
      expect(text).toContain('export const docsGuardFn = fn("docs_guard", {');
      expect(text).toContain('export const docsTsvTrigger = trigger("docs_tsv", docs, {');
      const file = join(newDir(), 'schema.ts');
      writeFileSync(file, text);
      const pulled = defineSchema(await importModule(file, 'pulled schema'));
      expect(await normalise(shadow, pulled.toIR())).toEqual(live);
    } finally {
      await sql.raw('DROP TABLE docs CASCADE; DROP FUNCTION docs_guard(); DROP EXTENSION pg_trgm').execute(handle.db);
    }
  });
});
