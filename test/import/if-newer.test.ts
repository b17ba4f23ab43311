/**
 * onConflict `{ update: 'if-newer', by }`: a backfill running beside live
 * writes never overwrites a row the app wrote after the source was read.
 * Stored rows older, newer, as new, absent, and with a null version on
 * either side; the report's `stale` count; a rerun; verify counting the
 * kept rows as `newer`, not as differences. On Postgres and PGlite.
 */
import { sql } from 'kysely';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import { defineImport } from '../../src/import/define.js';
import { runImport } from '../../src/import/loader.js';
import { memory } from '../../src/import/sources/memory.js';
import { verifyImport } from '../../src/import/verify.js';
import { defineSchema, integer, renderCreateSql, table, text, timestamptz } from '../../src/schema/index.js';
import { describeEachBackend } from '../support/backends.js';
import { recreateSchema } from '../support/schema-reset.js';

const docs = table('docs', {
  id: integer().primaryKey(),
  body: text().notNull(),
  updated_at: timestamptz(),
});
const model = { docs };
const schema = defineSchema(model);

type Doc = { id: number; body: string; updated_at: Date | null };
const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-02-01T00:00:00Z');
const T2 = new Date('2026-03-01T00:00:00Z');

/** What the app holds in the database when the backfill starts (written live), by id. */
const STORED: Doc[] = [
  { id: 1, body: 'old', updated_at: T0 }, // older: updated
  { id: 2, body: 'old', updated_at: T0 }, // older: updated
  { id: 3, body: 'old', updated_at: T0 }, // older: updated
  { id: 4, body: 'live', updated_at: T2 }, // newer: kept
  { id: 5, body: 'live', updated_at: T2 }, // newer: kept
  { id: 6, body: 'live', updated_at: T2 }, // newer: kept
  { id: 7, body: 'live', updated_at: T1 }, // as new, other content: kept (only strictly newer replaces)
  { id: 8, body: 'old', updated_at: null }, // stored null is older than anything: updated
  { id: 9, body: 'live', updated_at: T0 }, // incoming null is newer than nothing: kept
  { id: 10, body: 'old', updated_at: null }, // both null: stored null is older, updated
  { id: 11, body: 'source', updated_at: T1 }, // identical: unchanged
];

/** The legacy source: every id, 1..14 (12..14 absent from the table). */
const SOURCE: Doc[] = Array.from({ length: 14 }, (_, i) => ({
  id: i + 1,
  body: 'source',
  updated_at: i + 1 === 9 || i + 1 === 10 ? null : T1,
}));

function definition(onConflict: 'update' | { update: 'if-newer'; by: 'updated_at' }) {
  return defineImport({
    name: 'if-newer',
    schema: model,
    source: memory({ docs: SOURCE }, { exports: ['docs'] }),
    tables: { docs: { key: ['id'], onConflict } },
    map: (rec) => ({ docs: rec.value as Doc }),
  });
}
const IF_NEWER = { update: 'if-newer', by: 'updated_at' } as const;

// Typed by the schema: `by` must be a column of the table (checked by tsc, never run).
export const _byIsAColumn = () =>
  defineImport({
    schema: model,
    source: memory({ docs: [] }),
    // @ts-expect-error: "nope" is not a column of docs
    tables: { docs: { key: ['id'], onConflict: { update: 'if-newer', by: 'nope' } } },
    map: () => undefined,
  });

describeEachBackend('import onConflict if-newer', (t) => {
  let db: DbHandle;
  beforeAll(async () => {
    db = await t.open();
  });
  beforeEach(async () => {
    await recreateSchema(db, renderCreateSql(schema.toIR()));
    await db.db.insertInto('docs').values(STORED).execute();
  });

  const rows = async () =>
    (await sql<Doc>`select id, body, updated_at from docs order by id`.execute(db.db)).rows.map((r) => ({
      ...r,
      updated_at: r.updated_at && new Date(r.updated_at).toISOString(),
    }));

  it('updates older rows, keeps newer ones, inserts absent ones; a rerun changes nothing; verify is clean', async () => {
    const report = await runImport({ db, definition: definition(IF_NEWER), batchSize: 4 });
    expect(report.tables.docs).toMatchObject({ inserted: 3, updated: 5, stale: 5, unchanged: 1, rejected: 0 });
    const kept = new Set([4, 5, 6, 7, 9]);
    const stored = new Map(STORED.map((d) => [d.id, d]));
    const expected = SOURCE.map((d) => (kept.has(d.id) ? (stored.get(d.id) as Doc) : d)).map((d) => ({
      ...d,
      updated_at: d.updated_at?.toISOString() ?? null,
    }));
    expect(await rows()).toEqual(expected);

    const verified = await verifyImport({ db, definition: definition(IF_NEWER) });
    expect(verified.ok).toBe(true);
    expect(verified.tables[0]).toMatchObject({
      missing: 0,
      different: 0,
      extra: 0,
      newer: 5,
      expected: 14,
      actual: 14,
    });
    expect(verified.tables[0]?.sourceChecksum).toBe(verified.tables[0]?.databaseChecksum);

    const rerun = await runImport({ db, definition: definition(IF_NEWER), batchSize: 4 });
    expect(rerun.tables.docs).toMatchObject({ inserted: 0, updated: 0, stale: 5, unchanged: 9 });
    expect(await rows()).toEqual(expected);
  });

  it('verify still reports a row the table holds in an older version, and a plain update overwrites newer rows', async () => {
    await runImport({ db, definition: definition(IF_NEWER) });
    // An older stored row with other content is a real difference (the import would have updated it).
    await db.db.updateTable('docs').set({ body: 'tampered', updated_at: T0 }).where('id', '=', 12).execute();
    const verified = await verifyImport({ db, definition: definition(IF_NEWER) });
    expect(verified.ok).toBe(false);
    expect(verified.tables[0]).toMatchObject({ different: 1, newer: 5 });
    expect(verified.tables[0]?.examples).toEqual([{ kind: 'different', key: { id: 12 } }]);

    // Without the guard every row takes the source's version, and verify then sees no newer row.
    const plain = await runImport({ db, definition: definition('update') });
    expect(plain.tables.docs).toMatchObject({ updated: 6, stale: 0 });
    expect((await rows()).every((r) => r.body === 'source')).toBe(true);
    expect((await verifyImport({ db, definition: definition('update') })).tables[0]).toMatchObject({
      newer: 0,
      different: 0,
    });
  });

  // PGlite has one connection: the app's writes would wait for the import's session, so no race to test there.
  it.runIf(t.backend === 'postgres')('a backfill racing live writes never overwrites a row the app wrote', async () => {
    await sql`truncate docs`.execute(db.db);
    const N = 2000;
    const source: Doc[] = Array.from({ length: N }, (_, i) => ({ id: i + 1, body: 'source', updated_at: T1 }));
    const backfill = defineImport({
      name: 'if-newer-race',
      schema: model,
      source: memory({ docs: source }, { exports: ['docs'] }),
      tables: { docs: { key: ['id'], onConflict: IF_NEWER } },
      map: (rec) => ({ docs: rec.value as Doc }),
    });
    const live = new Set<number>();
    let importing = true;
    let duringImport = 0;
    let next = 7;
    let firstWrite: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      firstWrite = resolve;
    });
    // The app: writes newer versions of rows, some already backfilled, some not yet, some absent from the table.
    const app = (async () => {
      while (importing) {
        next = (next * 7919 + 13) % N;
        const id = next + 1;
        await sql`insert into docs (id, body, updated_at) values (${id}, 'live', ${T2})
                  on conflict (id) do update set body = 'live', updated_at = ${T2}`.execute(db.db);
        live.add(id);
        if (live.size === 1) firstWrite();
        else if (importing) duringImport++;
      }
    })();
    let report: Awaited<ReturnType<typeof runImport>>;
    try {
      // One row is written live before the backfill starts: at least one backfilled row is stale.
      await started;
      report = await runImport({ db, definition: backfill, batchSize: 50 });
    } finally {
      importing = false;
      await app;
    }
    expect(duringImport).toBeGreaterThan(0);
    const stored = (await sql<{ id: number; body: string }>`select id, body from docs`.execute(db.db)).rows;
    expect(stored.length).toBe(N);
    const overwritten = stored.filter((r) => live.has(r.id) && r.body !== 'live').map((r) => r.id);
    expect(overwritten).toEqual([]);
    const stale = report.tables.docs?.stale ?? 0;
    expect(stale).toBeGreaterThan(0);
    expect(stale).toBeLessThanOrEqual(live.size);
    const verified = await verifyImport({ db, definition: backfill });
    expect(verified.tables[0]).toMatchObject({ missing: 0, different: 0, extra: 0, newer: live.size });
    expect(verified.ok).toBe(true);
  });

  describe('definition checks', () => {
    const bad = (onConflict: unknown) =>
      runImport({
        db,
        definition: defineImport({
          schema: model,
          source: memory({ docs: [] }, { exports: ['docs'] }),
          tables: { docs: { key: ['id'], onConflict: onConflict as never } },
          map: () => undefined,
        }),
      });
    it.each([
      [{ update: 'if-newer', by: 'nope' }, /no column "nope"/],
      [{ update: 'if-newer', by: 'id' }, /part of the key/],
      [{ update: 'if-newer', by: 'body' }, /timestamp, date or number/],
      [{ update: 'newest', by: 'updated_at' }, /'if-newer'/],
    ])('refuses %j', async (onConflict, message) => {
      await expect(bad(onConflict)).rejects.toMatchObject({ code: 'E_IMPORT_DEFINITION', message });
    });
  });
});
