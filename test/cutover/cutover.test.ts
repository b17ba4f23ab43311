import { sql } from 'kysely';
import { afterAll, expect, it } from 'vitest';
import { advance, mismatches, recordVerify, rollback, status } from '../../src/cutover/advance.js';
import { type Cutover, defineCutover } from '../../src/cutover/cutover.js';
import { STAGES, type Stage } from '../../src/cutover/stages.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { type Faulty, faultyStore } from './support/stores.js';

interface Card {
  id: string;
  price: number;
}

describeEachBackend('cutover runtime', (t) => {
  const open: Cutover<Card>[] = [];
  afterAll(async () => {
    for (const c of open) await c.close();
  });
  let n = 0;
  async function setup(stage: Stage, extra: Partial<Parameters<typeof defineCutover<Card>>[0]> = {}) {
    const db = await t.open();
    const old = faultyStore<Card>('old');
    const neu = faultyStore<Card>('new');
    const name = `c${++n}`;
    const cutover = defineCutover<Card>({ name, old, new: neu, db, initialStage: stage, poll: '10s', ...extra });
    open.push(cutover);
    await cutover.ready();
    return { db, old, neu, name, cutover };
  }

  it('each stage reads and writes the stores of the stage table', async () => {
    const expected: Record<Stage, { writes: string; reads: 'old' | 'new'; shadowed: boolean }> = {
      off: { writes: 'old', reads: 'old', shadowed: false },
      'dual-write': { writes: 'old,new', reads: 'old', shadowed: false },
      shadow: { writes: 'old,new', reads: 'old', shadowed: true },
      live: { writes: 'new,old', reads: 'new', shadowed: true },
      rampdown: { writes: 'new,old', reads: 'new', shadowed: false },
      complete: { writes: 'new', reads: 'new', shadowed: false },
    };
    for (const stage of STAGES) {
      const { old, neu, cutover } = await setup(stage);
      const order: string[] = [];
      for (const [label, s] of [
        ['old', old],
        ['new', neu],
      ] as const) {
        const put = s.put;
        s.put = async (k, v) => {
          order.push(label);
          await put(k, v);
        };
      }
      await cutover.write('w', { id: 'w', price: 1 });
      expect(order.join(','), stage).toBe(expected[stage].writes);
      old.map.set('r', { id: 'r', price: 1 });
      neu.map.set('r', { id: 'r', price: 2 });
      const got = await cutover.read('r');
      expect(got?.price, stage).toBe(expected[stage].reads === 'old' ? 1 : 2);
      await cutover.delete('w');
      expect(old.map.has('w') || neu.map.has('w'), stage).toBe(false);
      await cutover.flush();
      expect(cutover.stats().shadowReads, stage).toBe(expected[stage].shadowed ? 1 : 0);
      expect(cutover.stats().mismatches, stage).toBe(expected[stage].shadowed ? 1 : 0);
    }
  });

  it('a failing secondary is journaled; replay copies the newest value, never an older entry', async () => {
    const { db, old, neu, name, cutover } = await setup('dual-write');
    neu.failWrites = true;
    await cutover.write('k', { id: 'k', price: 1 });
    await cutover.write('k', { id: 'k', price: 2 });
    await cutover.write('gone', { id: 'gone', price: 1 });
    expect(old.map.get('k')?.price).toBe(2);
    expect(neu.map.has('k')).toBe(false);
    expect(cutover.stats().journaled).toBe(3);
    expect((await status(db, name))[0]!.journal.pending).toBe(3);
    neu.failWrites = false;
    // A direct write after the failures: the journal's older entries of k must not undo it.
    await cutover.write('k', { id: 'k', price: 3 });
    neu.map.set('gone', { id: 'gone', price: 1 });
    old.map.delete('gone'); // deleted in the source since: replay deletes it in the target
    const result = await cutover.drain();
    expect(result.replayed).toBe(2);
    expect(neu.map.get('k')?.price).toBe(3);
    expect(neu.map.has('gone')).toBe(false);
    expect((await status(db, name))[0]!.journal).toEqual({ pending: 0, inflight: 0 });
  });

  it('a failing primary fails the request', async () => {
    const { old, neu, cutover } = await setup('dual-write');
    old.failWrites = true;
    await expectFerryError(cutover.write('k', { id: 'k', price: 1 }), 'E_CUTOVER_STORE');
    expect(neu.map.has('k')).toBe(false);
  });

  it("flush() records every comparison made before it, even while the poll's own flush is under way", async () => {
    const { db, old, neu, name, cutover } = await setup('shadow');
    for (const k of ['a', 'b', 'c', 'd']) {
      old.map.set(k, { id: k, price: 1 });
      neu.map.set(k, { id: k, price: 1 });
    }
    const compared = async (n: number) => {
      while (cutover.stats().comparisons < n) await new Promise((r) => setImmediate(r));
    };
    await cutover.read('a');
    await cutover.read('b');
    await compared(2);
    // Hold the control row (on PGlite: the one connection), so the first flush is still writing a and b
    // when c and d are compared and the second flush starts.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = db.db.transaction().execute(async (trx) => {
      await sql`select 1 from ferry_cutover where name = ${name} for update`.execute(trx);
      locked();
      await held;
    });
    await isLocked;
    const first = cutover.flush();
    await cutover.read('c');
    await cutover.read('d');
    await compared(4);
    const second = cutover.flush();
    release();
    await holder;
    await first;
    await second;
    const rows = await sql<{
      n: string;
    }>`select count(*) as n from ferry_cutover_comparisons where name = ${name}`.execute(db.db);
    expect(Number(rows.rows[0]!.n)).toBe(4);
  });

  it('a hanging shadow read does not delay the answer; a field difference is a mismatch and blocks advance', async () => {
    const { db, old, neu, name, cutover } = await setup('shadow', { shadowTimeout: 50 });
    old.map.set('a', { id: 'a', price: 1 });
    neu.hangReads = true;
    expect(await cutover.read('a')).toEqual({ id: 'a', price: 1 });
    await cutover.flush();
    expect(cutover.stats().shadowTimeouts).toBe(1);
    neu.hangReads = false;
    neu.map.set('a', { id: 'a', price: 1.5 }); // the deliberate bug: the new path writes the price differently
    old.map.set('b', { id: 'b', price: 2 });
    neu.map.set('b', { id: 'b', price: 2 });
    await cutover.read('a');
    await cutover.read('b');
    await cutover.flush();
    const [m] = await mismatches(db, name);
    expect(m).toMatchObject({ key: 'a', fields: ['price'], old: { price: 1 }, new: { price: 1.5 } });
    await recordVerify(db, name, { clean: true });
    const gate = { window: 2, maxMismatchRate: 0.1 };
    await expectFerryError(advance(db, name, { gate }), 'E_CUTOVER_GATE');
    expect((await status(db, name))[0]!.stage).toBe('shadow');
    // Fixed: the newest comparisons are clean and the gate passes.
    neu.map.set('a', { id: 'a', price: 1 });
    await cutover.read('a');
    await cutover.read('b');
    await cutover.flush();
    expect((await advance(db, name, { gate })).to).toBe('live');
  });

  it('force passes the gate and is recorded; an instance that does not follow undoes the change; complete is final', async () => {
    const { db, name, cutover } = await setup('shadow'); // polls every 10 s: it will not follow in time
    const moved = await advance(db, name, { force: true, by: 'test' });
    expect(moved.forced.length).toBeGreaterThan(0);
    const [s] = await status(db, name);
    expect(s!.history.at(-1)).toMatchObject({ from: 'shadow', to: 'live', forced: moved.forced, by: 'test' });
    await advance(db, name); // live → rampdown writes the same stores: no wait
    await expectFerryError(advance(db, name, { wait: 300 }), 'E_CUTOVER_INSTANCES');
    expect((await status(db, name))[0]!.stage).toBe('rampdown');
    await cutover.close(); // gone: no longer waited for
    await advance(db, name, { wait: '5s' });
    await expectFerryError(rollback(db, name), 'E_CUTOVER_STAGE');
    await expectFerryError(advance(db, name), 'E_CUTOVER_STAGE');
    await expectFerryError(status(db, 'nope'), 'E_CUTOVER_UNKNOWN');
  });

  it('rollback from live and from rampdown loses no write', async () => {
    const { db, old, neu, name, cutover } = await setup('rampdown', { poll: 50 });
    await cutover.write('r1', { id: 'r1', price: 1 });
    await rollback(db, name);
    await cutover.refresh();
    expect(cutover.stage).toBe('live');
    await cutover.write('l1', { id: 'l1', price: 2 });
    await rollback(db, name);
    await cutover.refresh();
    expect(cutover.stage).toBe('shadow');
    for (const key of ['r1', 'l1']) {
      expect(old.map.has(key), key).toBe(true);
      expect(await cutover.read(key), key).toEqual(neu.map.get(key));
    }
    await rollback(db, name, { to: 'off', wait: '5s' });
    await cutover.refresh();
    expect(await cutover.read('r1')).toEqual({ id: 'r1', price: 1 });
  });
});

export type { Faulty };
