/**
 * The journal's replay raced by a write of the same key, in the stage where
 * the write goes the other way (`live`: new, then old) than the entry being
 * replayed (left by `dual-write`: old → new). The drainer reads the old
 * store, the write lands in both, then the drainer's put puts the value it
 * read before the write into the new store. The next copy must go the
 * drainer's way again (old → new), not the write's (new → old, which would
 * spread the stale value to both stores and lose the write). Postgres.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defineCutover } from '../../src/cutover/cutover.js';
import { JOURNAL_TABLE, query } from '../../src/cutover/tables.js';
import type { DbHandle } from '../../src/db/open.js';
import { openDatabase } from '../../src/db/open.js';
import { freshPostgresDatabase, type ProvisionedDatabase } from '../support/backends.js';
import { faultyStore } from './support/stores.js';

let provisioned: ProvisionedDatabase;
let db: DbHandle;
beforeAll(async () => {
  provisioned = await freshPostgresDatabase();
  db = await openDatabase({ url: provisioned.url });
});
afterAll(async () => {
  await db?.close();
  await provisioned?.cleanup();
});

it('a replay raced by a write of the key in the other direction ends with the write in both stores', async () => {
  const old = faultyStore<{ v: number }>('old');
  const neu = faultyStore<{ v: number }>('new');
  const cutover = defineCutover<{ v: number }>({ name: 'race', old, new: neu, db, initialStage: 'live', poll: '1h' });
  await cutover.ready();
  // ready() starts a drain round of its own (orphans of dead instances): let it end before the entry exists,
  // or on a slow machine it reads k before old.get is wrapped below.
  await cutover.drain();
  // What dual-write left: key k journaled old → new (its secondary write failed), old holds v1, new nothing.
  old.map.set('k', { v: 1 });
  await query(
    db,
    `insert into ${JOURNAL_TABLE} (name, key, op, value, source, target, state, instance_id)
     values ('race', 'k', 'put', '{"v":1}', 'old', 'new', 'pending', 'gone')`,
  );
  // The drainer's read of the old store waits until a write of k (live: new, then old) went through.
  const get = old.get;
  let raced: Promise<void> | undefined;
  old.get = async (key) => {
    const value = await get(key);
    if (key === 'k' && !raced) {
      raced = cutover.write('k', { v: 2 });
      await raced;
    }
    return value;
  };
  await cutover.drain();
  expect(raced).toBeDefined();
  expect(old.map.get('k')).toEqual({ v: 2 });
  old.get = get;
  // Whatever the first round left (its put of v1 may have landed after the write), later rounds end it.
  for (let round = 0; round < 5; round++) await cutover.drain();
  expect(neu.map.get('k')).toEqual({ v: 2 });
  expect(old.map.get('k')).toEqual({ v: 2 });
  await cutover.close();
});
