import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advance, status } from '../../src/cutover/advance.js';
import { type Comparator, valueComparator } from '../../src/cutover/compare.js';
import { type Cutover, defineCutover } from '../../src/cutover/cutover.js';
import type { CutoverStore } from '../../src/cutover/store.js';
import { jsonFileStore } from '../../src/cutover/stores/json-file.js';
import { memoryStore } from '../../src/cutover/stores/memory.js';
import { repositoryStore } from '../../src/cutover/stores/repository.js';
import { verifyCutover } from '../../src/cutover/verify.js';
import { connect, type Ferry } from '../../src/index.js';
import { jsonb, numeric, text, timestamptz } from '../../src/schema/column.js';
import { table } from '../../src/schema/table.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';

const cards = table('cards', {
  id: text().primaryKey(),
  price: numeric(10, 2),
  seen_at: timestamptz(),
  meta: jsonb(),
});

type Row = Record<string, unknown>;

function stores(n = 0) {
  const old = new Map<string, Row>();
  const neu = new Map<string, Row>();
  for (let i = 0; i < n; i++) {
    const row = { id: `k${i}`, price: `${i}.50`, meta: { a: i, b: 'x' } };
    old.set(row.id, row);
    neu.set(row.id, { ...row });
  }
  return { old, neu, stores: { old: memoryStore(old, { label: 'old' }), new: memoryStore(neu, { label: 'new' }) } };
}

/** A store that counts its list() calls. */
function counted<V>(store: CutoverStore<V>) {
  const counter = { lists: 0 };
  const list = store.list!;
  const countedList = (o?: { signal?: AbortSignal }) => {
    counter.lists++;
    return list(o);
  };
  return { counter, store: { ...store, list: countedList } };
}

describe('verifyCutover', () => {
  it('equal stores: clean, no chunk read twice', async () => {
    const s = stores(200);
    const r = await verifyCutover({ name: 'v', ...s.stores, compare: { table: cards } });
    expect(r).toMatchObject({ clean: true, rows: { old: 200, new: 200 }, differingChunks: 0, keys: [] });
    expect(r.differences.total).toBe(0);
  });

  it('a changed field, and a missing key on each side', async () => {
    const s = stores(50);
    s.neu.set('k3', { ...s.neu.get('k3'), price: '3.51' });
    s.neu.set('k7', { ...s.neu.get('k7'), meta: { a: 7, b: 'y' } });
    s.old.delete('k10');
    s.neu.delete('k20');
    const r = await verifyCutover({ name: 'v', ...s.stores, compare: { table: cards } });
    expect(r.clean).toBe(false);
    expect(r.differences).toEqual({ total: 4, missingInOld: 1, missingInNew: 1, different: 2 });
    expect([...r.keys].sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'k10', kind: 'missing-in-old' },
      { key: 'k20', kind: 'missing-in-new' },
      { key: 'k3', kind: 'different', fields: ['price'] },
      { key: 'k7', kind: 'different', fields: ['meta.b'] },
    ]);
    expect(r.rows).toEqual({ old: 49, new: 49 });
  });

  it('values the comparator calls equal but spelled differently checksum the same', async () => {
    const s = stores();
    for (let i = 0; i < 100; i++) {
      const at = new Date(Date.UTC(2024, 0, 1, 0, i));
      s.old.set(`k${i}`, { id: `k${i}`, price: 12.5 + i, seen_at: at.toISOString(), meta: { a: 1, b: [1, 2] } });
      s.neu.set(`k${i}`, { meta: { b: [1, 2], a: 1 }, seen_at: at, price: `${12.5 + i}0`, id: `k${i}`, x: null });
    }
    const r = await verifyCutover({ name: 'v', ...s.stores, compare: { table: cards } });
    expect(r).toMatchObject({ clean: true, differingChunks: 0 });
    // Without the table, '12.50' and 12.5 are equal to the comparator but not one canonical text:
    // the chunks are compared row by row, and found equal — slower, never a false difference.
    const loose = await verifyCutover({ name: 'v', ...s.stores });
    expect(loose.clean).toBe(true);
    expect(loose.differingChunks).toBeGreaterThan(0);
  });

  it('thousands of keys with one difference: only its chunk is compared row by row', async () => {
    const s = stores(5_000);
    s.neu.set('k4321', { ...s.neu.get('k4321'), price: '0' });
    let compared = 0;
    const base = valueComparator<Row>({ table: cards });
    const compare: Comparator<Row> = (a, b) => {
      compared++;
      return base(a, b);
    };
    const r = await verifyCutover({ name: 'v', ...s.stores, compare, chunks: 100 });
    expect(r.keys).toEqual([{ key: 'k4321', kind: 'different', fields: ['price'] }]);
    expect(r.differingChunks).toBe(1);
    // The rows of one chunk of 100 (~50), plus the re-read of the difference; not 5,000.
    expect(compared).toBeGreaterThan(10);
    expect(compared).toBeLessThan(200);
  });

  it('differing chunks are read in batches of at most batchRows', async () => {
    const s = stores(1_000);
    for (const k of ['k1', 'k500', 'k999']) s.neu.set(k, { ...s.neu.get(k), price: '-1' });
    const old = counted(s.stores.old);
    const r = await verifyCutover({ name: 'v', old: old.store, new: s.stores.new, chunks: 16, batchRows: 1 });
    expect(r.differences.different).toBe(3);
    expect(old.counter.lists).toBe(1 + r.differingChunks);
    const one = counted(s.stores.old);
    await verifyCutover({ name: 'v', old: one.store, new: s.stores.new, chunks: 16 });
    expect(one.counter.lists).toBe(2);
  });

  it('a difference gone when re-read (a write in flight) is not reported', async () => {
    const s = stores(20);
    // The listing shows a stale value, get the current one: a write landed between the two.
    const stale: CutoverStore<Row> = {
      ...s.stores.new,
      async *list() {
        for await (const e of s.stores.new.list!()) yield e.key === 'k5' ? { key: 'k5', value: { id: 'k5' } } : e;
      },
    };
    const r = await verifyCutover({ name: 'v', old: s.stores.old, new: stale });
    expect(r).toMatchObject({ clean: true, settled: 1 });
    const strict = await verifyCutover({ name: 'v', old: s.stores.old, new: stale, recheck: false });
    expect(strict.keys).toEqual([{ key: 'k5', kind: 'different', fields: ['price', 'meta'] }]);
  });

  it('a store without list() cannot be verified, and says so', async () => {
    const s = stores(1);
    const { list: _, ...noList } = s.stores.new;
    await expectFerryError(verifyCutover({ name: 'v', old: s.stores.old, new: noList }), 'E_CUTOVER_STORE', /new/);
  });
});

describeEachBackend('verifyCutover on real stores, recorded for the gate', (t) => {
  const open: Cutover<Row>[] = [];
  let ferry: Ferry<any>;
  let dir: string;
  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema: { cards } });
    await ferry.createSchema();
    dir = await mkdtemp(path.join(tmpdir(), 'ferry-cutover-verify-'));
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await ferry?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a JSON file and a Postgres table with the same rows agree by checksum alone', async () => {
    const file = jsonFileStore<Row>(path.join(dir, 'cards.json'));
    const repo = repositoryStore(ferry.repo(cards)) as CutoverStore<Row>;
    for (let i = 0; i < 100; i++) {
      const row = {
        id: `c${i}`,
        price: 10 + i / 4,
        seen_at: new Date(Date.UTC(2024, 4, 1, 0, i)),
        meta: { z: i, a: [i] },
      };
      await file.put(row.id, row); // the file holds ISO strings and numbers
      await repo.put(row.id, row); // Postgres hands back Dates, '10.25' strings, jsonb
    }
    expect(typeof (await repo.get('c1'))?.price).toBe('string');
    expect(typeof (await file.get('c1'))?.seen_at).toBe('string');
    const same = await verifyCutover({ name: 'cards', old: file, new: repo, compare: { table: cards } });
    expect(same).toMatchObject({ clean: true, rows: { old: 100, new: 100 }, differingChunks: 0 });
    await file.put('c7', { ...(await file.get('c7')), price: 99 });
    const changed = await verifyCutover({ name: 'cards', old: file, new: repo, compare: { table: cards } });
    expect(changed.keys).toEqual([{ key: 'c7', kind: 'different', fields: ['price'] }]);
  });

  it('a dirty verify blocks shadow → live, a clean one lets it pass', async () => {
    const db = ferry;
    const s = stores(30);
    const name = `verify_${t.backend}`;
    const cutover = defineCutover<Row>({ name, ...s.stores, db, initialStage: 'shadow', poll: '10s' });
    open.push(cutover);
    await cutover.ready();
    s.neu.delete('k1');
    const dirty = await verifyCutover({ name, ...s.stores, db });
    expect(dirty.clean).toBe(false);
    expect(dirty.journal).toEqual({ pending: 0, inflight: 0 });
    expect((await status(db, name))[0]!.verify).toMatchObject({ clean: false, differences: 1 });
    await expectFerryError(advance(db, name, { gate: { window: 0 } }), 'E_CUTOVER_GATE', /found differences/);
    s.neu.set('k1', { ...s.old.get('k1') });
    expect((await verifyCutover({ name, ...s.stores, db })).clean).toBe(true);
    expect((await advance(db, name, { gate: { window: 0 } })).to).toBe('live');
  });
});
