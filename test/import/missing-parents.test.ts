/**
 * Orphans in a table the import COPies straight into (no staging): after the
 * first batch with an orphan, later batches check their foreign keys with one
 * query (`missingParents`) and COPY the rest into the table. The rejects must
 * be exactly what the staged path (and Postgres itself) gives: the same rows,
 * the same constraint, the same `Key (…)=(…)` detail — for a uuid key written
 * in upper case, a composite key, a key with a NULL part (not checked), and a
 * text key holding commas and the COPY quote character. Parent keys found
 * present, and those of parents the run COPied itself, are remembered for the
 * run; a parent deleted after that is still caught (by the constraint itself)
 * and its children rejected the same way.
 */
import { sql } from 'kysely';
import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import { defineImport } from '../../src/import/define.js';
import { runImport } from '../../src/import/loader.js';
import { memory } from '../../src/import/sources/memory.js';
import { readRejects } from '../../src/import/state.js';
import {
  defineSchema,
  foreignKey,
  integer,
  primaryKey,
  renderCreateSql,
  table,
  text,
  unique,
  uuid,
} from '../../src/schema/index.js';
import { describeEachBackend } from '../support/backends.js';
import { recreateSchema } from '../support/schema-reset.js';
import { watchSessions } from '../support/watch-sessions.js';

const parents = table('parents', { id: uuid().primaryKey(), code: text().notNull(), n: integer().notNull() }, (t) => [
  unique('parents_code_n_key').on(t.code, t.n),
]);
const children = table(
  'children',
  {
    id: integer().notNull(),
    parent_id: uuid().references(() => parents.columns.id),
    code: text(),
    n: integer(),
    note: text(),
  },
  (t) => [
    primaryKey(t.id),
    foreignKey({
      name: 'children_pair_fkey',
      columns: [t.code, t.n],
      references: () => [parents.columns.code, parents.columns.n],
    }),
  ],
);
const model = { parents, children };
const schema = defineSchema(model);

const pid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const ODD_CODE = 'a,b\u0001"c'; // a comma, the COPY quote character and a double quote

type Child = { id: number; parent_id: string | null; code: string | null; n: number | null; note: string };

/** 120 children in batches of 10; every 7th has a missing parent of one kind or another. */
function data(): { parents: Record<string, unknown>[]; children: Child[]; orphans: number[] } {
  const ps = Array.from({ length: 5 }, (_, i) => ({ id: pid(i), code: i === 3 ? ODD_CODE : `c${i}`, n: i }));
  const children: Child[] = [];
  const orphans: number[] = [];
  for (let id = 0; id < 120; id++) {
    const p = ps[id % 5] as { id: string; code: string; n: number };
    const child: Child = { id, parent_id: p.id, code: p.code, n: p.n, note: `child ${id}` };
    if (id % 7 === 3) {
      const kind = ((id / 7) % 4) | 0;
      if (kind === 0)
        child.parent_id = pid(900 + id).toUpperCase(); // no such parent; Postgres prints it lower case
      else if (kind === 1)
        child.n = 99; // composite key missing
      else if (kind === 2)
        child.code = `${ODD_CODE}x`; // composite key missing, odd text
      else {
        child.parent_id = pid(800 + id); // both missing: the first constraint (by oid) is named
        child.n = 98;
      }
    }
    if (id % 11 === 5) child.n = null; // a NULL part: the composite key is not checked
    if (id % 13 === 6) child.parent_id = null;
    children.push(child);
    const known = (k: (q: (typeof ps)[number]) => boolean) => ps.some(k);
    const idOk = child.parent_id === null || known((q) => q.id === child.parent_id);
    const pairOk = child.code === null || child.n === null || known((q) => q.code === child.code && q.n === child.n);
    if (!idOk || !pairOk) orphans.push(id);
  }
  return { parents: ps, children, orphans };
}

function definition(d: ReturnType<typeof data>) {
  return defineImport({
    name: 'orphans',
    schema: model,
    source: memory({ parents: d.parents, children: d.children }, { exports: ['parents', 'children'] }),
    tables: { parents: { key: ['id'] }, children: { key: ['id'] } },
    map: (rec, ctx) =>
      ctx.loc.table === 'parents' ? { parents: rec.value as never } : { children: rec.value as never },
  });
}

describeEachBackend('orphans in a table COPied straight into', (t) => {
  let db: DbHandle;
  beforeAll(async () => {
    db = await t.open();
  });
  beforeEach(async () => {
    await recreateSchema(db, renderCreateSql(schema.toIR()));
  });

  /** What Postgres says when the row is inserted on its own (in a rolled-back savepoint). */
  async function postgresSays(child: Child): Promise<string> {
    return db.session(async (s) => {
      await s.query('begin');
      try {
        await s.query('insert into children (id, parent_id, code, n, note) values ($1, $2, $3, $4, $5)', [
          child.id + 100_000,
          child.parent_id,
          child.code,
          child.n,
          child.note,
        ]);
        return 'accepted';
      } catch (err) {
        const e = err as { message: string; detail?: string };
        return `${e.message} (${e.detail})`;
      } finally {
        await s.query('rollback');
      }
    });
  }

  it('rejects exactly the rows Postgres refuses, with its own words, and COPies the rest into the table', async () => {
    const d = data();
    const copies: string[] = [];
    const report = await runImport({
      db: watchSessions(db, { copyIn: (text) => copies.push(text) }),
      definition: definition(d),
      batchSize: 10,
    });
    expect(report.tables.children).toMatchObject({ inserted: 120 - d.orphans.length, rejected: d.orphans.length });
    const landed = await sql<{ id: number }>`select id from children order by id`.execute(db.db);
    expect(landed.rows.map((r) => r.id)).toEqual(d.children.map((c) => c.id).filter((id) => !d.orphans.includes(id)));

    const rejects = await db.session((s) => readRejects(s, 'orphans', report.runId));
    const byId = new Map(rejects.map((r) => [Number(JSON.parse(r.record as string).id), r]));
    expect([...byId.keys()].sort((a, b) => a - b)).toEqual(d.orphans);
    for (const id of d.orphans) {
      const r = byId.get(id);
      expect(r?.sqlstate).toBe('23503');
      expect(r?.reason).toBe(await postgresSays(d.children[id] as Child));
    }
    // After the first batch with an orphan, the children's batches went straight into the table.
    const direct = copies.filter((c) => /^copy "?children"? /.test(c)).length;
    const staged = copies.filter((c) => /^copy ferry_stage_\d+ \(.*note/.test(c)).length;
    expect(direct).toBeGreaterThanOrEqual(9);
    expect(staged).toBeLessThanOrEqual(2);
  });

  it('parent keys this run COPied itself are not asked about: only unknown values reach the query', async () => {
    // Orphans by parent_id only: a row missing its pair's parent too would be asked again without memory
    // (to name the first missing constraint), which sends its parent_id whatever the memory holds.
    const base = data();
    const children = base.children.map((c, i) => {
      const p = base.parents[i % 5] as { code: string; n: number };
      return c.n === 98 || c.n === 99 || c.code === `${ODD_CODE}x` ? { ...c, code: p.code, n: p.n } : c;
    });
    const d = { ...base, children };
    const asked: string[] = [];
    let queries = 0;
    await runImport({
      db: watchSessions(db, {
        query: async (_s, text, params) => {
          if (!/from unnest\(/.test(text)) return;
          queries++;
          for (const p of params ?? []) asked.push(...(p as string[]));
        },
      }),
      definition: definition(d),
      batchSize: 10,
    });
    // The children's batches after the first orphan were checked (with queries), yet no parent id was asked:
    // the five were COPied by this run. Without that memory the first check asks about all five.
    expect(queries).toBeGreaterThan(0);
    const parentIds = new Set(d.parents.map((p) => p.id as string));
    const uuids = asked.filter((v) => /^[0-9a-f-]{36}$/i.test(v));
    expect(uuids.length).toBeGreaterThan(0);
    expect(uuids.filter((v) => parentIds.has(v))).toEqual([]);
  });

  it('a parent remembered as present and deleted afterwards: its later children are still rejected in Postgres’s words', async () => {
    // Parents a and b. Batch 1 has an orphan (so later batches are checked), batch 2 makes both parents known
    // present; then a trigger deletes a and its children. Batch 3: b's children, and children of a whose other key
    // is missing too (found by the query, which must still name parent_id first, as Postgres does). Batch 4: a's
    // children with both keys remembered (the COPY fails on the constraint; the staged path rejects them).
    const a = { id: pid(0), code: 'a', n: 0 };
    const b = { id: pid(1), code: 'b', n: 1 };
    const child = (id: number, p: typeof a, over: Partial<Child> = {}): Child => ({
      id,
      parent_id: p.id,
      code: p.code,
      n: p.n,
      note: `child ${id}`,
      ...over,
    });
    // Batches of ten records: the two parents and children 0-7, then 8-17, 18-27, 28-37, 38-39.
    const children: Child[] = [];
    for (let id = 0; id < 18; id++)
      children.push(child(id, id % 2 === 0 ? a : b, id === 3 ? { parent_id: pid(99) } : {}));
    for (let id = 18; id < 28; id++) children.push(child(id, id < 23 ? b : a, id < 23 ? {} : { code: 'zz' }));
    for (let id = 28; id < 40; id++) children.push(child(id, id % 2 === 0 && id < 38 ? a : b));
    const d = { parents: [a, b], children, orphans: [3] };
    await db.session(async (s) => {
      await s.query(`create function drop_parent() returns trigger language plpgsql as $$
        begin
          if (select count(*) from children) >= 14 and exists (select 1 from parents where id = '${a.id}') then
            delete from children where parent_id = '${a.id}';
            delete from parents where id = '${a.id}';
          end if;
          return null;
        end $$`);
      await s.query(
        'create trigger drop_parent after insert on children for each statement execute function drop_parent()',
      );
    });
    const copies: string[] = [];
    const report = await runImport({
      db: watchSessions(db, { copyIn: (text) => copies.push(text) }),
      definition: definition(d),
      batchSize: 10,
    });
    const rejects = await db.session((s) => readRejects(s, 'orphans', report.runId));
    const byId = new Map(rejects.map((r) => [Number(JSON.parse(r.record as string).id), r]));
    const landed = (await sql<{ id: number }>`select id from children order by id`.execute(db.db)).rows.map(
      (r) => r.id,
    );
    expect(landed).toEqual(children.filter((c) => c.id !== 3 && c.parent_id === b.id).map((c) => c.id));
    expect([...byId.keys()].sort((x, y) => x - y)).toEqual([3, 23, 24, 25, 26, 27, 28, 30, 32, 34, 36]);
    for (const [id, r] of byId) expect([id, r.reason]).toEqual([id, await postgresSays(children[id] as Child)]);
    expect(byId.get(23)?.reason).toContain('children_parent_id_fkey');
    // Batch 1 was staged (the first orphan), and batch 4, whose COPY the constraint refused.
    const staged = copies.filter((c) => /^copy ferry_stage_\d+ \(.*note/.test(c)).length;
    expect(staged).toBe(2);
  });
});
