/** Stores for the cutover tests: one whose calls can be made to fail or hang, and one on a Postgres table. */

import type { CutoverStore } from '../../../src/cutover/store.js';
import { memoryStore } from '../../../src/cutover/stores/memory.js';
import type { CutoverDb } from '../../../src/cutover/tables.js';
import { query } from '../../../src/cutover/tables.js';

export interface Faulty<V> extends CutoverStore<V> {
  map: Map<string, V>;
  /** put/delete throw while set. */
  failWrites: boolean;
  /** get never resolves while set. */
  hangReads: boolean;
}

export function faultyStore<V>(label: string): Faulty<V> {
  const map = new Map<string, V>();
  const inner = memoryStore(map, { label });
  const store: Faulty<V> = {
    label,
    map,
    failWrites: false,
    hangReads: false,
    get: (key) => (store.hangReads ? new Promise(() => {}) : inner.get(key)),
    put: async (key, value) => {
      if (store.failWrites) throw new Error(`${label} is down`);
      await inner.put(key, value);
    },
    delete: async (key) => {
      if (store.failWrites) throw new Error(`${label} is down`);
      await inner.delete(key);
    },
    list: inner.list,
  };
  return store;
}

/** key → jsonb in a table of the test database (visible to other processes). */
export async function tableStore<V>(db: CutoverDb, table: string): Promise<CutoverStore<V>> {
  await query(db, `create table if not exists ${table} (key text primary key, value jsonb not null)`);
  return {
    label: `table(${table})`,
    get: async (key) => (await query<{ value: V }>(db, `select value from ${table} where key = $1`, [key]))[0]?.value,
    put: async (key, value) => {
      await query(
        db,
        `insert into ${table} (key, value) values ($1, $2::jsonb) on conflict (key) do update set value = excluded.value`,
        [key, JSON.stringify(value)],
      );
    },
    delete: async (key) => {
      await query(db, `delete from ${table} where key = $1`, [key]);
    },
  };
}

export async function tableContents(db: CutoverDb, table: string): Promise<Map<string, unknown>> {
  const rows = await query<{ key: string; value: unknown }>(db, `select key, value from ${table}`);
  return new Map(rows.map((r) => [r.key, r.value]));
}
