/**
 * A live move under load, from each kind of old store (a Map, a lowdb JSON
 * file, a folder of JSON files, Redis keys, an object with get/put/delete) to
 * a Postgres table through a repository store: while four workers write,
 * delete and read through the cutover, a driver advances off → dual-write →
 * (backfill: the import of the same data with `onConflict: if-newer`) →
 * shadow (gate: the newest comparisons all clean) → live → rampdown →
 * complete. Then: no request failed, no read missed its owner's last write,
 * the table equals the last acknowledged op of every key (0 lost writes, no
 * backfilled version over a live one, no deleted key brought back), and the
 * journal is empty. One Postgres database for the file, a table per kind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { advance, status } from '../../src/cutover/advance.js';
import { afterBackfill, backfillMark } from '../../src/cutover/backfill.js';
import { defineCutover } from '../../src/cutover/cutover.js';
import type { CutoverStore } from '../../src/cutover/store.js';
import {
  jsonFileStore,
  jsonFolderStore,
  memoryStore,
  objectStore,
  redisStore,
} from '../../src/cutover/stores/index.js';
import { repositoryStore } from '../../src/cutover/stores/repository.js';
import type { DbHandle } from '../../src/db/open.js';
import { openDatabase } from '../../src/db/open.js';
import { defineImport } from '../../src/import/define.js';
import { runImport } from '../../src/import/loader.js';
import type { Source } from '../../src/import/source.js';
import { json, memory, redis as redisSource } from '../../src/import/sources/index.js';
import { connect, type Ferry } from '../../src/index.js';
import { freshPostgresDatabase, type ProvisionedDatabase } from '../support/backends.js';
import { backfillDefinition, itemsTable } from './support/items.js';
import { expectedRows, type Item, nextInstant, normalise, seedItems, startLoad } from './support/load.js';

/** Keys k0..k59 belong to the load's workers; k60..k69 are raced by the app during the backfill. */
const RACED = 60;
/**
 * How the killed backfill is rerun: from the top. Resuming by position
 * ('auto') skips records here: the app's deletes since the kill moved later
 * keys to lower positions of the sorted key list, and a Redis source has no
 * files whose fingerprint would refuse the resume (seen: 2 of 3000 missing).
 * A restart re-reads everything, and if-newer keeps it from undoing live writes.
 */
const RERUN_MODE = 'restart' as 'auto' | 'restart';
const REDIS_URL = 'redis://127.0.0.1:6379';
const KINDS = ['memory', 'json-file', 'json-folder', 'redis', 'object'] as const;
type Kind = (typeof KINDS)[number];

const tables = Object.fromEntries(KINDS.map((k) => [k, itemsTable(`lm_${k.replace('-', '_')}`)])) as Record<
  Kind,
  ReturnType<typeof itemsTable>
>;
const KILL_TABLE = 'lm_killed';
const schema = {
  ...Object.fromEntries(KINDS.map((k) => [tables[k].name, tables[k]])),
  [KILL_TABLE]: itemsTable(KILL_TABLE),
};

let provisioned: ProvisionedDatabase;
let ferry: Ferry<any>;
let handle: DbHandle;
let client: Redis;
let dir: string;
const prefix = `lm:${randomBytes(4).toString('hex')}:`;

beforeAll(async () => {
  provisioned = await freshPostgresDatabase();
  ferry = await connect({ url: provisioned.url, schema });
  await ferry.createSchema();
  handle = await openDatabase({ url: provisioned.url });
  client = new Redis(REDIS_URL, { lazyConnect: false });
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-live-move-'));
});
afterAll(async () => {
  const keys = await client?.keys(`${prefix}*`).catch(() => []);
  if (keys?.length) await client.del(...keys);
  client?.disconnect();
  await handle?.close();
  await ferry?.close();
  await provisioned?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A legacy data-access object (JSON text in a Map), the shape `objectStore` wraps. */
class LegacyDao {
  readonly rows = new Map<string, string>();
  get(key: string): Item | null {
    const text = this.rows.get(key);
    return text === undefined ? null : (JSON.parse(text) as Item);
  }
  put(key: string, value: Item): void {
    this.rows.set(key, JSON.stringify(value));
  }
  delete(key: string): void {
    this.rows.delete(key);
  }
}

/** The old store of `kind`, and the import source that reads the same data (with how a record becomes an item). */
async function oldSide(kind: Kind): Promise<{ store: CutoverStore<Item>; source: Source; toItem: (r: any) => Item }> {
  switch (kind) {
    case 'memory': {
      const map = new Map<string, Item>();
      return {
        store: memoryStore(map),
        source: memory({ items: map }, { exports: ['items'] }),
        toItem: (r) => r.value,
      };
    }
    case 'json-file': {
      const file = path.join(dir, 'db.json');
      return {
        store: jsonFileStore<Item>(file, { collection: 'items', key: 'id' }),
        source: json.collections(file, { collections: ['items'] }),
        toItem: (r) => r,
      };
    }
    case 'json-folder': {
      const folder = path.join(dir, 'items');
      await mkdir(folder, { recursive: true });
      return {
        store: jsonFolderStore<Item>(folder),
        source: json.files(path.join(folder, '*.json'), { allowEmpty: true, live: true }),
        toItem: (r) => r,
      };
    }
    case 'redis':
      return {
        store: redisStore<Item>(client, { prefix, type: 'json' }),
        source: redisSource({ url: REDIS_URL, match: `${prefix}*`, type: 'json' }),
        toItem: (r) => r.value,
      };
    case 'object': {
      const dao = new LegacyDao();
      return {
        store: objectStore<Item>(dao, { label: 'legacy-dao' }),
        source: memory({ items: dao.rows }, { exports: ['items'] }),
        toItem: (r) => JSON.parse(r.value),
      };
    }
  }
}

describe('a live move under load to Postgres [postgres, redis]', () => {
  it.each(KINDS)('from %s: every stage to complete, 0 failed requests, 0 lost writes', async (kind) => {
    const target = tables[kind];
    const name = `live-${kind}`;
    const { store: old, source, toItem } = await oldSide(kind);
    const seeds = seedItems(RACED + 10);
    const raced = new Set<string>();
    for (const s of seeds) await old.put(s.id, s);

    const cutover = defineCutover<Item>({
      name,
      old,
      new: repositoryStore(ferry.repo(target)) as CutoverStore<Item>,
      db: ferry,
      compare: { table: target },
      poll: 100,
    });
    await cutover.ready();
    const load = startLoad(cutover, seeds, { workers: 4, keysPerWorker: RACED / 4 });
    const perStage: Record<string, number> = {};
    const hold = async (stage: string) => {
      const before = load.ops();
      await load.progress(60);
      perStage[stage] = load.ops() - before;
    };
    const step = async (options: Parameters<typeof advance>[2] = {}) => {
      const moved = await advance(ferry, name, { wait: '10s', ...options });
      await cutover.refresh();
      await hold(moved.to);
    };
    try {
      await hold('off');
      await step(); // → dual-write: every instance writes both stores before the backfill reads anything

      const mark = await backfillMark(ferry, name);
      const backfill = defineImport({
        name: `backfill-${kind}`,
        schema,
        source,
        tables: { [target.name]: { key: ['id'], onConflict: { update: 'if-newer', by: 'updated_at' } } },
        // The app races the backfill on the keys no worker owns: right after the import read such a key, the
        // app writes a newer version of it (even keys) or deletes it (odd keys) through the cutover. Without
        // the if-newer guard the import then puts back the older copy; without afterBackfill, the deleted key.
        map: async (record: unknown) => {
          const item = toItem(record);
          const i = Number(item.id.slice(1));
          if (i >= RACED && !raced.has(item.id)) {
            raced.add(item.id);
            if (i % 2 === 0) {
              const newer = { ...item, body: 'raced', n: -i, updated_at: nextInstant().toISOString() };
              await cutover.write(item.id, newer);
              load.expected.set(item.id, newer);
            } else {
              await cutover.delete(item.id);
              load.expected.set(item.id, null);
            }
          }
          return { [target.name]: item };
        },
      } as any);
      const report = await runImport({ db: handle, definition: backfill, batchSize: 10 });
      expect(report.tables[target.name]?.rejected ?? 0).toBe(0);
      expect(raced.size).toBe(10);
      // The guard alone already keeps every version the app wrote during the import (afterBackfill would
      // repair it too, but only a drain later: reads of the new store must not see the older copy meanwhile).
      for (const key of raced) {
        const want = load.expected.get(key);
        if (want) expect(normalise((await ferry.repo(target).get(key)) as Item), key).toEqual(normalise(want));
      }
      await afterBackfill(ferry, name, mark);
      while ((await status(ferry, name))[0]!.journal.pending > 0) await cutover.drain();

      await step(); // → shadow
      while (cutover.stats().comparisons < 40) await load.progress(10);
      await cutover.flush();
      // The gate: the newest 40 comparisons, not one mismatch among them.
      await step({ gate: { window: 40, maxMismatchRate: 0, requireVerify: false } }); // → live
      await step(); // → rampdown
      await step(); // → complete
    } finally {
      await load.stop();
      // Keys the last drain round left for later (a write of theirs was in flight) are replayed now.
      while ((await status(ferry, name))[0]!.journal.pending > 0) await cutover.drain();
      await cutover.close();
    }

    expect(load.failures).toEqual([]);
    expect(load.staleReads).toEqual([]);
    for (const stage of ['off', 'dual-write', 'shadow', 'live', 'rampdown', 'complete']) {
      expect(perStage[stage], `ops under ${stage}`).toBeGreaterThanOrEqual(60);
    }
    expect(load.counts.deletes).toBeGreaterThan(0);
    const rows = (await ferry.repo(target).findMany({ orderBy: ['id'] } as never)) as Item[];
    expect(rows.map(normalise)).toEqual(expectedRows(load));
    const [s] = await status(ferry, name);
    expect(s!.stage).toBe('complete');
    expect(s!.journal).toEqual({ pending: 0, inflight: 0 });
    expect(cutover.stats().mismatches).toBe(0);
  });
});

const CHILD = fileURLToPath(new URL('./support/backfill-child.ts', import.meta.url));

describe('a backfill SIGKILLed mid-way while the app writes [postgres, redis]', () => {
  it('the rerun finishes it; no live write is overwritten by an older backfilled version, nothing is lost', async () => {
    const name = 'live-killed';
    const killPrefix = `${prefix}killed:`;
    const target = schema[KILL_TABLE]!;
    const old = redisStore<Item>(client, { prefix: killPrefix, type: 'json' });
    const seeds = seedItems(3000);
    const pipe = client.pipeline();
    for (const s of seeds) pipe.set(killPrefix + s.id, JSON.stringify(s));
    await pipe.exec();
    const cutover = defineCutover<Item>({
      name,
      old,
      new: repositoryStore(ferry.repo(target)) as CutoverStore<Item>,
      db: ferry,
      poll: 100,
    });
    await cutover.ready();
    await advance(ferry, name, { wait: '10s' }); // → dual-write
    await cutover.refresh();
    // The load's keys are spread over the whole key order (k0..k79 sort among k0..k2999), before and after
    // the point of the kill; its deletes shift later keys' positions in the source.
    const load = startLoad(cutover, seeds, { workers: 4, keysPerWorker: 20, writeShare: 0.6, deleteShare: 0.2 });
    let child: ChildProcess | undefined;
    try {
      await load.progress(50);
      const mark = await backfillMark(ferry, name);
      const config = { url: provisioned.url, redisUrl: REDIS_URL, prefix: killPrefix, table: KILL_TABLE };
      child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const killedAt = await new Promise<number>((resolve, reject) => {
        child!.on('message', (m: { cmd: string; records?: number }) => {
          if (m.cmd === 'progress' && m.records! >= 600) {
            child!.kill('SIGKILL');
            resolve(m.records!);
          } else if (m.cmd === 'done') reject(new Error('the backfill finished before it could be killed'));
        });
        child!.on('error', reject);
      });
      await new Promise((resolve) => child!.once('exit', resolve));
      expect(killedAt).toBeLessThan(3000);
      await load.progress(100); // the app keeps writing between the crash and the rerun
      const rerun = await runImport({ db: handle, definition: backfillDefinition(config), mode: RERUN_MODE });
      expect(rerun.tables[KILL_TABLE]?.rejected ?? 0).toBe(0);
      await load.stop();
      // The guard: every key whose last acknowledged op was a write holds that version, not a backfilled older one.
      const stored = new Map(
        ((await ferry.repo(target).findMany({} as never)) as Item[]).map((r) => [r.id, normalise(r)]),
      );
      const overwritten = [...load.expected]
        .filter(([, v]) => v !== null && v.n > 0)
        .filter(([k, v]) => JSON.stringify(stored.get(k)) !== JSON.stringify(normalise(v)))
        .map(([k]) => k);
      expect(overwritten).toEqual([]);
      await afterBackfill(ferry, name, mark);
      while ((await status(ferry, name))[0]!.journal.pending > 0) await cutover.drain();
    } finally {
      child?.kill('SIGKILL');
      await load.stop();
    }
    await cutover.drain();
    await cutover.close();
    expect(load.failures).toEqual([]);
    expect(load.staleReads).toEqual([]);
    expect(load.counts.writes).toBeGreaterThan(0);
    expect(load.counts.deletes).toBeGreaterThan(0);
    const rows = (await ferry.repo(target).findMany({ orderBy: ['id'] } as never)) as Item[];
    expect(rows.length).toBe(expectedRows(load).length);
    expect(rows.map(normalise)).toEqual(expectedRows(load));
    expect((await status(ferry, name))[0]!.journal).toEqual({ pending: 0, inflight: 0 });
  });
});
