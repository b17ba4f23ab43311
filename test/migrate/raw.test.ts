/**
 * `raw(upSql, downSql)` (issue 17): SQL for what Ferry does not model. It is
 * run once when it appears, undone when it goes or changes (markers in the
 * migrations say what is applied), and `ferry pull` writes what Postgres
 * can print of unmodelled objects (internal/C functions, procedures,
 * constraint triggers) as raw() with a warning. On both backends.
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
import { pullWarnings, renderSchemaModule } from '../../src/migrate/pull.js';
import { Migrator } from '../../src/migrate/runner.js';
import { normalise, type Shadow } from '../../src/migrate/shadow.js';
import { integer, text } from '../../src/schema/column.js';
import { fn } from '../../src/schema/function.js';
import { raw, rawFromMigrations } from '../../src/schema/raw.js';
import { defineSchema } from '../../src/schema/schema.js';
import { table } from '../../src/schema/table.js';
import { describeEachBackend } from '../support/backends.js';
import { migrateSuite } from '../support/migrate-suite.js';
import { tempDirs } from '../support/temp-dirs.js';

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;
const newDir = tempDirs('ferry-raw-');

/** A text search configuration (before the tables) and a constraint trigger (last), neither modelled. */
function schemaOf(copyFrom: 'english' | 'simple') {
  const noop = fn('noop', { returns: 'trigger', body: 'BEGIN RETURN NULL; END' });
  const docs = table('docs', { id: integer(), body: text() });
  return defineSchema({
    docs,
    noop,
    config: raw(
      `CREATE TEXT SEARCH CONFIGURATION my_config (COPY = pg_catalog.${copyFrom});`,
      'DROP TEXT SEARCH CONFIGURATION my_config',
      { name: 'my_config' },
    ),
    check: raw(
      'CREATE CONSTRAINT TRIGGER docs_check AFTER INSERT ON docs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION noop()',
      'DROP TRIGGER docs_check ON docs',
      { name: 'trigger docs.docs_check', last: true },
    ),
  });
}

describe('raw(): DSL and diff', () => {
  it('keeps the SQL as written (trailing semicolons off), in declaration order; needs both directions', () => {
    const ir = schemaOf('english').toIR();
    expect(ir.raw?.map((r) => r.name)).toEqual(['my_config', 'trigger docs.docs_check']);
    expect(ir.raw?.[0]?.up).toBe('CREATE TEXT SEARCH CONFIGURATION my_config (COPY = pg_catalog.english)');
    expect(ir.raw?.[1]?.last).toBe(true);
    expect(raw('SELECT 1', 'SELECT 2').name).toMatch(/^raw [0-9a-f]{12}$/);
    expect(() => raw('CREATE CAST (a AS b) WITH INOUT', '  ;')).toThrow(/say how to undo it/);
    expect(() => defineSchema({ a: raw('A', 'B', { name: 'x' }), b: raw('C', 'D', { name: 'x' }) })).toThrow(
      /Two raw\(\) are named "x"/,
    );
  });

  it('runs new raws before the tables (last ones after the triggers); a changed one is undone, then done again', () => {
    const a = schemaOf('english').toIR();
    const fromEmpty = diffSchemas({ enums: [], tables: [] }, a).map((c) => c.description);
    expect(fromEmpty.indexOf('raw my_config')).toBeLessThan(fromEmpty.indexOf('create table docs'));
    expect(fromEmpty.at(-1)).toBe('raw trigger docs.docs_check');
    const changed = diffSchemas(a, schemaOf('simple').toIR());
    expect(changed.map((c) => c.description)).toEqual(['undo raw my_config', 'raw my_config']);
    expect(changed[0]!.up).toEqual(['-- raw() undone: "my_config"', 'DROP TEXT SEARCH CONFIGURATION my_config']);
    expect(changed[1]!.down).toEqual(['DROP TEXT SEARCH CONFIGURATION my_config']);
    const gone = diffSchemas(a, { enums: [], tables: [] }).map((c) => c.description);
    expect(gone[0]).toBe('undo raw trigger docs.docs_check');
    expect(gone.indexOf('undo raw my_config')).toBeGreaterThan(gone.indexOf('drop table docs'));
    expect(diffSchemas(a, a)).toEqual([]);
  });

  it('reads what the migrations applied from their markers, the last marker of a name winning', () => {
    const r = { name: 'x', up: 'CREATE A', down: 'DROP A' };
    const ups = [
      `-- raw() applied: ${JSON.stringify(r)};\nCREATE A;`,
      `-- raw() applied: ${JSON.stringify({ ...r, name: 'y' })};`,
      '-- raw() undone: "x";\nDROP A;',
      '-- raw() applied: {not json;',
    ];
    expect(rawFromMigrations(ups).map((x) => x.name)).toEqual(['y']);
    expect(rawFromMigrations(ups.slice(0, 1))).toEqual([r]);
  });
});

describeEachBackend('raw()', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  migrateSuite(t, { shadow: 'like' }, (h, s) => {
    handle = h;
    shadow = s;
  });

  const configSource = async () => {
    const { rows } = await sql<{ dicts: string }>`
      select (select string_agg(distinct d.dictname::text, ',') from pg_ts_config_map m
                join pg_ts_dict d on d.oid = m.mapdict where m.mapcfg = c.oid) as dicts
        from pg_ts_config c
       where c.cfgname = 'my_config' and c.cfgnamespace = current_schema()::regnamespace`.execute(handle.db);
    return rows;
  };

  it('applies once, is not re-emitted, changes up and back down, and goes away', async () => {
    const dir = newDir();
    await generateMigration({ shadow, schema: schemaOf('english'), dir, name: 'init' });
    const migrator = new Migrator(handle.db, { dir });
    const up1 = await migrator.up();
    expect(up1.ok, JSON.stringify(up1)).toBe(true);
    expect(await configSource()).toEqual([{ dicts: 'english_stem,simple' }]);
    const live1 = await introspect(handle.db);
    // The constraint trigger is reported (as raw SQL), the text search configuration is not visible at all.
    expect(live1.raw?.map((r) => r.name)).toEqual(['trigger docs.docs_check']);
    expect(live1.triggers).toBeUndefined();
    expect((await pendingChanges(shadow, schemaOf('english'), dir)).changes).toEqual([]);

    await generateMigration({
      shadow,
      schema: schemaOf('simple'),
      dir,
      name: 'change',
      now: new Date(Date.now() + 10_000),
    });
    expect((await migrator.up()).ok).toBe(true);
    expect((await pendingChanges(shadow, schemaOf('simple'), dir)).changes).toEqual([]);
    expect(await configSource()).toEqual([{ dicts: 'simple' }]);
    expect((await migrator.down({ steps: 1 })).ok).toBe(true);
    expect(await configSource()).toEqual([{ dicts: 'english_stem,simple' }]);
    expect(await introspect(handle.db)).toEqual(live1);

    expect((await migrator.down({ all: true })).ok).toBe(true);
    expect(await configSource()).toEqual([]);
    const empty = await introspect(handle.db);
    expect(empty.raw).toBeUndefined();
    expect(empty.tables).toEqual([]);
  });

  it('pull writes unmodelled functions, procedures and constraint triggers as raw() with a warning', async () => {
    await sql
      .raw(`
        CREATE TABLE things (id integer, name text);
        CREATE FUNCTION my_upper(text) RETURNS text LANGUAGE internal IMMUTABLE STRICT AS 'upper';
        COMMENT ON FUNCTION my_upper(text) IS 'the built-in one';
        CREATE PROCEDURE add_thing(n text) LANGUAGE sql AS $$ INSERT INTO things (name) VALUES (n) $$;
        CREATE FUNCTION things_check() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER things_check AFTER INSERT ON things DEFERRABLE FOR EACH ROW EXECUTE FUNCTION things_check();`)
      .execute(handle.db);
    try {
      const live = await introspect(handle.db);
      expect(live.raw?.map((r) => r.name)).toEqual([
        'function my_upper(text)',
        'procedure add_thing(text)',
        'trigger things.things_check',
      ]);
      expect(live.raw?.[0]?.up).toMatch(/^CREATE OR REPLACE FUNCTION my_upper\(text\)/);
      expect(live.functions?.map((f) => f.name)).toEqual(['things_check']);
      expect(pullWarnings(live)).toHaveLength(3);
      const text = renderSchemaModule(live, { importFrom: srcIndex });
      expect(text).toContain('// WARNING: Ferry does not model procedure add_thing(text)');
      const file = join(newDir(), 'schema.ts');
      writeFileSync(file, text);
      const pulled = defineSchema(await importModule(file, 'pulled schema'));
      expect(await normalise(shadow, pulled.toIR())).toEqual(live);
    } finally {
      await sql
        .raw(
          'DROP TABLE things; DROP FUNCTION my_upper(text); DROP PROCEDURE add_thing(text); DROP FUNCTION things_check()',
        )
        .execute(handle.db);
    }
  });
});
