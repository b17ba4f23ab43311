import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { importModule } from '../../src/config.js';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { introspect } from '../../src/migrate/introspect.js';
import { renderSchemaModule } from '../../src/migrate/pull.js';
import { normalise, openShadow, type Shadow } from '../../src/migrate/shadow.js';
import { createStatements } from '../../src/schema/ddl.js';
import { defineSchema } from '../../src/schema/schema.js';
import * as fixtures from '../schema/fixtures.js';
import { describeEachBackend } from '../support/backends.js';

const srcIndex = new URL('../../src/index.ts', import.meta.url).pathname;

describeEachBackend('ferry pull', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  const dir = mkdtempSync(join(tmpdir(), 'ferry-pull-'));
  beforeAll(async () => {
    handle = await openDatabase({ url: t.url() });
    shadow = await openShadow({ like: handle, url: t.url() });
  });
  afterAll(async () => {
    await shadow?.close();
    await handle?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a DSL module that reproduces the database exactly', async () => {
    for (const s of createStatements(defineSchema(fixtures).toIR())) await sql.raw(s).execute(handle.db);
    // Things the DSL has no builder for, and names that are not JS identifiers.
    await sql`create table "odd-name" ("my col" text, "default" int4range, fts tsvector)`.execute(handle.db);
    await sql`create table "index" (id int primary key)`.execute(handle.db);
    const live = await introspect(handle.db);

    const file = join(dir, 'schema.ts');
    writeFileSync(file, renderSchemaModule(live, { importFrom: srcIndex }));
    const module = await importModule(file, 'pulled schema');
    const pulled = defineSchema(module);
    expect(pulled.tables.map((x) => x.name).sort()).toEqual(live.tables.map((x) => x.name));
    expect(await normalise(shadow, pulled.toIR())).toEqual(live);
  });
});
