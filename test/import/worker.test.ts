/**
 * Batches prepared in a worker thread (`worker` option; `ferry import
 * --worker`): the same rows, rejects and report as on the main thread, from
 * an import file the worker loads itself; a source cut short still fails
 * before anything commits; the worker must read what the caller's definition
 * reads; its failures (a module that does not load, running out of its heap)
 * come back as Ferry errors that say what to do.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import type { DefinedImport } from '../../src/import/define.js';
import { type ImportOptions, type ImportReport, runImport } from '../../src/import/loader.js';
import { withImportFileDir } from '../../src/import/sources/common.js';
import { readRejects } from '../../src/import/state.js';
import { type VerifyReport, verifyImport } from '../../src/import/verify.js';
import { renderCreateSql } from '../../src/schema/index.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { recreateSchema } from '../support/schema-reset.js';

const srcUrl = (path: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)));

/** A TinyDB file: users (a duplicate, a bad email), posts (an orphan, a post a map() refuses, a non-object). */
function tinyDb(users: number, posts: number): string {
  const u: Record<string, unknown> = {};
  for (let i = 1; i <= users; i++)
    u[i] = { name: `user${i % (users - 1) || users}`, email: i === 4 ? 'nope' : `u${i}@x.org` };
  const p: Record<string, unknown> = {};
  for (let i = 1; i <= posts; i++) {
    if (i === 9) p[i] = 'not a document';
    else
      p[i] = { author: i === 7 ? 'ghost' : `user${(i % (users - 1)) + 1}`, title: i === 11 ? '' : `post ${i}`, n: i };
  }
  return JSON.stringify({ users: u, posts: p });
}

/** An import file over `dataFile`, as a user writes one (default export). */
function importFile(dataFile: string, extra = ''): string {
  return `
import { defineImport, tinydb } from ${srcUrl('import/index.js')};
import { table, text, integer, uuid, defineSchema } from ${srcUrl('schema/index.js')};
const users = table('w_users', { id: uuid().primaryKey(), name: text().notNull().unique(), email: text().notNull() });
const posts = table('w_posts', {
  id: uuid().primaryKey(),
  author_id: uuid().notNull().references(() => users.columns.id),
  title: text().notNull(),
  n: integer().notNull(),
});
export const model = { w_users: users, w_posts: posts };
export const schema = defineSchema(model);
${extra}
export default defineImport({
  name: 'worker-test',
  schema: model,
  source: tinydb(${JSON.stringify(dataFile)}),
  tables: { w_users: { key: ['name'] }, w_posts: { key: ['id'] } },
  map(doc, ctx) {
    if (ctx.loc.table === 'users') {
      if (!String(doc.email).includes('@')) ctx.reject('email has no @', { column: 'email' });
      return { w_users: { id: ctx.uuid('user', doc.name), name: doc.name, email: doc.email } };
    }
    if (doc.title === '') ctx.reject('a post needs a title');
    return { w_posts: { id: ctx.uuid('post', ctx.loc.key), author_id: ctx.uuid('user', doc.author), title: doc.title, n: doc.n } };
  },
});
`;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-worker-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes the data and the import file; returns the module's path and its loaded exports. */
async function fixture(name: string, data: string, extra = '') {
  const dataFile = join(dir, `${name}.json`);
  writeFileSync(dataFile, data);
  const module = join(dir, `${name}.import.ts`);
  writeFileSync(module, importFile(dataFile, extra));
  // Loaded as `ferry import` loads an import file (and the worker does): paths shown relative to its folder.
  const mod = (await withImportFileDir(dir, () => import(module))) as {
    default: DefinedImport;
    schema: { toIR(): never };
  };
  return { module, dataFile, definition: mod.default, schema: mod.schema };
}

describeEachBackend('batches prepared in a worker thread', (t) => {
  let db: DbHandle;
  beforeAll(async () => {
    db = await t.open();
  });

  async function fresh(schema: { toIR(): never }) {
    await recreateSchema(db, renderCreateSql(schema.toIR()));
  }

  async function contents() {
    return db.session(async (s) => ({
      users: (await s.query('select id, name, email from w_users order by name')).rows,
      posts: (await s.query('select id, author_id, title, n from w_posts order by n')).rows,
    }));
  }

  // keyMemoryBytes: held by the thread that prepared the batches, so only the main thread reports it.
  const comparable = (r: ImportReport) => ({
    ...r,
    runId: null,
    durationMs: null,
    recordsPerSecond: null,
    keyMemoryBytes: null,
  });

  let f: Awaited<ReturnType<typeof fixture>>;
  beforeEach(async () => {
    f ??= await fixture('same', tinyDb(40, 300));
  });

  it('writes the same rows, rejects and report as preparing on the main thread', async () => {
    const run = async (worker: ImportOptions['worker']) => {
      await fresh(f.schema);
      const report = await runImport({ db, definition: f.definition, batchSize: 17, rejectsFile: null, worker });
      const rejects = await db.session((s) => readRejects(s, 'worker-test', report.runId));
      return { report: comparable(report), rows: await contents(), rejects };
    };
    const here = await run(undefined);
    const there = await run({ module: f.module });
    expect(there).toEqual(here);
    // The fixture exercises each kind of outcome.
    expect(here.rows.users.length).toBe(38);
    expect(here.rows.posts.length).toBeGreaterThan(250);
    const reasons = here.rejects.map((r) => r.reason).join('\n');
    expect(reasons).toMatch(/email has no @/);
    expect(reasons).toMatch(/a post needs a title/);
    expect(reasons).toMatch(/not an object/);
    expect(reasons).toMatch(/foreign key/);
    expect(here.report.tables.w_users?.duplicates).toBe(1);
  });

  it('verifies with the source mapped in the worker: the same report, and a difference is still found', async () => {
    await fresh(f.schema);
    await runImport({ db, definition: f.definition, rejectsFile: null });
    const strip = (r: VerifyReport) => ({ ...r, durationMs: null });
    const here = await verifyImport({ db, definition: f.definition });
    const there = await verifyImport({ db, definition: f.definition, worker: { module: f.module } });
    expect(here.ok).toBe(true);
    expect(strip(there)).toEqual(strip(here));
    await db.session((s) => s.query(`update w_posts set title = 'changed' where n = 5`));
    const changed = await verifyImport({ db, definition: f.definition, worker: { module: f.module } });
    expect(changed.ok).toBe(false);
    expect(changed.tables.find((t) => t.table === 'w_posts')?.different).toBe(1);
  });

  it('resumes in the worker where the main thread stopped', async () => {
    await fresh(f.schema);
    // --max-rejects stops the run after a batch and keeps what it imported: a deterministic place to resume from.
    await expectFerryError(
      runImport({ db, definition: f.definition, batchSize: 20, rejectsFile: null, maxRejects: 1 }),
      'E_IMPORT_MAX_REJECTS',
    );
    const resumed = await runImport({
      db,
      definition: f.definition,
      batchSize: 20,
      rejectsFile: null,
      worker: { module: f.module },
    });
    expect(resumed.resumedFrom).toBeGreaterThan(0);
    const rows = await contents();
    const rejects = await db.session((s) => readRejects(s, 'worker-test', resumed.runId));
    await fresh(f.schema);
    const whole = await runImport({ db, definition: f.definition, batchSize: 20, rejectsFile: null });
    expect(rows).toEqual(await contents());
    expect(rejects).toEqual(await db.session((s) => readRejects(s, 'worker-test', whole.runId)));
  });

  it('fails a source cut short before committing anything, naming file and line', async () => {
    const whole = tinyDb(40, 300);
    const cut = await fixture('cut', whole.slice(0, Math.floor(whole.length * 0.8)));
    await fresh(cut.schema);
    await expectFerryError(
      runImport({ db, definition: cut.definition, batchSize: 10, rejectsFile: null, worker: { module: cut.module } }),
      'E_SOURCE_MALFORMED',
      /cut\.json:1:\d+/,
    );
    expect(await contents()).toEqual({ users: [], posts: [] });

    // --partial: the worker's fault comes back in the report, as on the main thread.
    const report = await runImport({
      db,
      definition: cut.definition,
      batchSize: 10,
      rejectsFile: null,
      partial: true,
      worker: { module: cut.module },
    });
    expect(report.partial).toHaveLength(1);
    expect(report.partial?.[0]?.file).toMatch(/cut\.json$/);
    expect(report.records).toBeGreaterThan(0);
  });

  it('refuses a module that reads other files than the definition it was given', async () => {
    const other = await fixture('other', tinyDb(10, 10));
    await fresh(f.schema);
    await expectFerryError(
      runImport({ db, definition: f.definition, rejectsFile: null, worker: { module: other.module } }),
      'E_IMPORT_DEFINITION',
      /other\.import\.ts.*reads other files/,
    );
    expect(await contents()).toEqual({ users: [], posts: [] });
  });

  it('says which import file the worker could not load', async () => {
    const broken = join(dir, 'broken.import.ts');
    writeFileSync(broken, 'export default (;\n');
    await fresh(f.schema);
    await expectFerryError(
      runImport({ db, definition: f.definition, rejectsFile: null, worker: { module: broken } }),
      'E_CONFIG',
      /Could not load the import file .*broken\.import\.ts/,
    );
  });

  it('stops with E_OUT_OF_MEMORY, naming the setting, when map() outgrows the worker heap', async () => {
    const hoarder = await fixture('hoarder', tinyDb(40, 300));
    const definition = hoarder.definition;
    await fresh(hoarder.schema);
    // The worker's own copy of the module hoards: a 600 KB array per record against a 32 MB heap.
    writeFileSync(
      hoarder.module,
      importFile(hoarder.dataFile, 'const hoard: number[][] = [];').replace(
        'map(doc, ctx) {',
        'map(doc, ctx) {\n    hoard.push(new Array(75_000).fill(0.5));',
      ),
    );
    await expectFerryError(
      runImport({ db, definition, rejectsFile: null, worker: { module: hoarder.module, maxHeapMb: 32 } }),
      'E_OUT_OF_MEMORY',
      /FERRY_MAX_HEAP_MB=128/,
    );
  });
});
