/**
 * Property: random histories of partition changes on a range-partitioned
 * table (add a month, drop one, widen or narrow one's bounds, add or remove
 * the default partition) go up through generated migrations to exactly the
 * declared schema, keep the rows of partitions that stay (a widened or
 * narrowed one is detached and attached again), and come back down step by
 * step to exactly each earlier state. Both backends; `migrate new` through a
 * PGlite shadow as the CLI does. FERRY_PROPERTY_SEED / FERRY_PROPERTY_RUNS
 * change the seed and the number of histories.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { generateMigration } from '../../src/migrate/generate.js';
import { introspect } from '../../src/migrate/introspect.js';
import { Migrator } from '../../src/migrate/runner.js';
import { normalise, openShadow, type Shadow } from '../../src/migrate/shadow.js';
import { bigint, date, text } from '../../src/schema/column.js';
import type { SchemaIR } from '../../src/schema/ir.js';
import { partition } from '../../src/schema/partition.js';
import { defineSchema } from '../../src/schema/schema.js';
import { index, primaryKey, table } from '../../src/schema/table.js';
import { describeEachBackend } from '../support/backends.js';

const SEED = Number(process.env.FERRY_PROPERTY_SEED || 20_261_204);
const RUNS = Number(process.env.FERRY_PROPERTY_RUNS || 4);
const MONTHS = 6;

/** Partitions by the month they start in (0 = 2026-01), each one or two months long; and a default one or not. */
interface State {
  parts: Map<number, 1 | 2>;
  withDefault: boolean;
}
type Op = { kind: 'add' | 'drop' | 'widen' | 'narrow' | 'default'; month: number };

const month = (m: number) => `2026-${String(m + 1).padStart(2, '0')}-01`;
const covered = (s: State, m: number) => [...s.parts].some(([start, len]) => m >= start && m < start + len);

/** Apply `op` when it fits the state (no overlap, within the months); false otherwise. */
function apply(s: State, op: Op): boolean {
  const len = s.parts.get(op.month);
  switch (op.kind) {
    case 'add':
      if (covered(s, op.month)) return false;
      s.parts.set(op.month, 1);
      return true;
    case 'drop':
      return s.parts.delete(op.month);
    case 'widen':
      if (len !== 1 || op.month + 1 >= MONTHS || covered(s, op.month + 1)) return false;
      s.parts.set(op.month, 2);
      return true;
    case 'narrow':
      if (len !== 2) return false;
      s.parts.set(op.month, 1);
      return true;
    case 'default':
      s.withDefault = !s.withDefault;
      return true;
  }
}

function schemaOf(s: State) {
  const ev = table('ev', { id: bigint().notNull(), at: date().notNull(), k: text() }, (t) => [
    primaryKey(t.id, t.at),
    index('ev_k_idx').on(t.k),
  ]).partitionBy('range', 'at');
  const parts = Object.fromEntries(
    [...s.parts].map(([start, len]) => [
      `m${start}`,
      partition(`ev_m${start}`, ev, { from: month(start), to: month(start + len) }),
    ]),
  );
  return defineSchema({ ev, ...parts, ...(s.withDefault ? { rest: partition('ev_rest', ev, 'default') } : {}) });
}

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('add', 'add', 'drop', 'widen', 'narrow', 'default'),
  month: fc.nat({ max: MONTHS - 1 }),
});

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describeEachBackend('partition histories (property)', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  beforeAll(async () => {
    handle = await openDatabase({ url: t.url() });
    shadow = await openShadow();
  });
  afterAll(async () => {
    await shadow?.close();
    await handle?.close();
  });

  it(`random partition histories go up and come back down exactly (seed ${SEED}, ${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 2, maxLength: 5 }), async (ops) => {
        const dir = mkdtempSync(join(tmpdir(), 'ferry-part-prop-'));
        roots.push(dir);
        const migrator = new Migrator(handle.db, { dir });
        const state: State = { parts: new Map([[0, 1]]), withDefault: false };
        const snapshots: { ir: SchemaIR; files: number }[] = [];
        let now = Date.now();
        let id = 0;
        const step = async (name: string) => {
          const schema = schemaOf(state);
          now += 10_000;
          const gen = await generateMigration({ shadow, schema, dir, name, now: new Date(now) });
          expect(gen.lint.filter((f) => f.severity === 'error')).toEqual([]);
          expect((await migrator.up()).ok).toBe(true);
          const live = await introspect(handle.db);
          expect(live).toEqual(await normalise(shadow, schema.toIR()));
          // One row at the start of each partition that has none yet; the rows of those that stay must survive.
          for (const [start] of state.parts) {
            await sql`insert into ev (id, at) values (${++id}, ${month(start)}::date) on conflict do nothing`.execute(
              handle.db,
            );
          }
          const { rows } = await sql<{ part: string; n: number }>`
            select tableoid::regclass::text as part, count(*)::int as n from ev group by 1 order by 1`.execute(
            handle.db,
          );
          for (const r of rows) expect(r.part).toMatch(/^ev_m\d$/);
          snapshots.push({ ir: live, files: gen.written.length });
        };
        try {
          await step('start');
          for (const op of ops) {
            const before = structuredClone(state);
            if (!apply(state, op)) continue;
            // Rows in a partition that moves must still fit it: narrowing keeps the start, where the row is.
            await step(`${op.kind}_${op.month}`);
            expect(before).not.toEqual(state);
          }
          // Back down, one step at a time, to exactly each earlier state.
          for (let i = snapshots.length - 1; i > 0; i--) {
            expect((await migrator.down({ steps: snapshots[i]!.files })).ok).toBe(true);
            // A dropped partition's rows are gone (destructive); the structure is what it was.
            expect(await introspect(handle.db)).toEqual(snapshots[i - 1]!.ir);
          }
        } finally {
          await migrator.down({ all: true });
          await sql`drop table if exists ev`.execute(handle.db);
          await sql`drop table if exists ferry_migrations`.execute(handle.db);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  }, 600_000);
});
