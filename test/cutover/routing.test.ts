/**
 * Which store answers a read: the ramp (setRamp) splits keys by a stable
 * hash inside shadow/live; `sample` < 1 shadow-reads only that share; the
 * stored mismatches are capped while all are counted.
 */
import { afterAll, expect, it } from 'vitest';
import { advance, mismatches, setRamp, status } from '../../src/cutover/advance.js';
import { type Cutover, type CutoverOptions, defineCutover } from '../../src/cutover/cutover.js';
import { bucketOf } from '../../src/cutover/key-hash.js';
import type { Stage } from '../../src/cutover/stages.js';
import { memoryStore } from '../../src/cutover/stores/memory.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';

type Row = { from: 'old' | 'new'; key: string };

describeEachBackend('cutover routing', (t) => {
  const open: Cutover<Row>[] = [];
  afterAll(async () => {
    for (const c of open) await c.close();
  });
  let n = 0;
  const keys = Array.from({ length: 400 }, (_, i) => `card-${i}`);

  /** Old and new hold a different value under every key, so a read tells which store answered. */
  async function setup(stage: Stage, extra: Partial<CutoverOptions<Row>> = {}) {
    const db = await t.open();
    const old = new Map(keys.map((k) => [k, { from: 'old' as const, key: k }]));
    const neu = new Map(keys.map((k) => [k, { from: 'new' as const, key: k }]));
    const name = `routing_${t.backend}_${++n}`;
    const cutover = defineCutover<Row>({
      name,
      old: memoryStore(old),
      new: memoryStore(neu),
      db,
      initialStage: stage,
      poll: '1h',
      ...extra,
    });
    open.push(cutover);
    await cutover.ready();
    return { db, name, cutover };
  }

  async function fromNew(cutover: Cutover<Row>): Promise<Set<string>> {
    const out = new Set<string>();
    for (const k of keys) if ((await cutover.read(k))?.from === 'new') out.add(k);
    return out;
  }
  const expected = (percent: number) => new Set(keys.filter((k) => bucketOf(k) < percent));

  it('the ramp routes exactly the keys whose bucket is under it, in shadow and live, stably', async () => {
    const { db, name, cutover } = await setup('shadow', { sample: 0 });
    expect((await fromNew(cutover)).size).toBe(0); // shadow's default: old answers
    for (const percent of [10, 50, 100]) {
      await setRamp(db, name, percent);
      await cutover.refresh();
      const got = await fromNew(cutover);
      expect(got).toEqual(expected(percent));
      // Stable: the same keys every time, and a higher ramp only adds keys.
      expect(await fromNew(cutover)).toEqual(got);
    }
    expect(expected(10).size).toBeGreaterThan(10);
    expect(expected(50).size).toBeLessThan(keys.length);
    await setRamp(db, name, 20);
    await advance(db, name, { force: true });
    await cutover.refresh();
    expect(cutover.stage).toBe('live');
    expect(await fromNew(cutover)).toEqual(expected(20)); // the ramp holds in live too
    await setRamp(db, name, null);
    await cutover.refresh();
    expect((await fromNew(cutover)).size).toBe(keys.length); // live's default: new answers
    expect((await status(db, name))[0]!.history.filter((h) => h.action === 'ramp').map((h) => h.ramp)).toEqual([
      10,
      50,
      100,
      20,
      null,
    ]);
    await expectFerryError(setRamp(db, name, 101), 'E_CUTOVER_STAGE', /0 to 100/);
  });

  it('the ramp does not apply outside shadow and live', async () => {
    const { db, name, cutover } = await setup('dual-write');
    await setRamp(db, name, 100);
    await cutover.refresh();
    expect((await fromNew(cutover)).size).toBe(0);
  });

  it('sample < 1 shadow-reads about that share of reads; 0 none', async () => {
    const { cutover } = await setup('shadow', { sample: 0.25 });
    for (let round = 0; round < 5; round++) for (const k of keys) await cutover.read(k);
    await cutover.flush();
    const { reads, shadowReads, comparisons } = cutover.stats();
    expect(reads).toBe(2_000);
    // Binomial(2000, 0.25): mean 500, sd ~19; these bounds are ~8 sd away.
    expect(shadowReads).toBeGreaterThan(350);
    expect(shadowReads).toBeLessThan(650);
    expect(comparisons).toBe(shadowReads);
    const none = await setup('shadow', { sample: 0 });
    for (const k of keys) await none.cutover.read(k);
    expect(none.cutover.stats().shadowReads).toBe(0);
  });

  it('mismatches: the newest mismatchCap stored, all counted', async () => {
    const { db, name, cutover } = await setup('shadow', { mismatchCap: 5 });
    const some = keys.slice(0, 12);
    for (const k of some) await cutover.read(k);
    await cutover.flush();
    for (const k of keys.slice(12, 15)) await cutover.read(k); // a second flush caps again
    await cutover.flush();
    const s = (await status(db, name))[0]!;
    expect(s.mismatches).toEqual({ total: 15, stored: 5 });
    expect(s.comparisons).toBe(15);
    const stored = await mismatches(db, name, { limit: 100 });
    expect(stored.map((m) => m.key)).toEqual(keys.slice(10, 15).reverse());
    expect(stored[0]).toMatchObject({ fields: ['from'], old: { from: 'old' }, new: { from: 'new' } });
  });
});
