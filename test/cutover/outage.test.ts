/**
 * The secondary store unavailable for a while: requests still succeed, the
 * journal grows, and it drains once the store is back — verify clean after.
 * Redis is a redis-server of this test's own, stopped (SIGSTOP: it keeps its
 * data, answers nothing); the JSON file is made read-only. Both are the old
 * store, which is the secondary from `live` on.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { status } from '../../src/cutover/advance.js';
import { type Cutover, defineCutover } from '../../src/cutover/cutover.js';
import type { CutoverStore } from '../../src/cutover/store.js';
import { jsonFileStore } from '../../src/cutover/stores/json-file.js';
import { memoryStore } from '../../src/cutover/stores/memory.js';
import { redisStore } from '../../src/cutover/stores/redis.js';
import type { CutoverDb } from '../../src/cutover/tables.js';
import { verifyCutover } from '../../src/cutover/verify.js';
import { describeEachBackend } from '../support/backends.js';
import { type OwnRedis, startRedisServer } from '../support/redis-server.js';

interface Price {
  card: string;
  price: number;
}

let server: OwnRedis;
let dir: string;
beforeAll(async () => {
  server = await startRedisServer();
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-cutover-outage-'));
});
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describeEachBackend('cutover: the secondary store down for a while', (t) => {
  const open: Cutover<Price>[] = [];
  const clients: Redis[] = [];
  afterAll(async () => {
    for (const c of open) await c.close();
    for (const c of clients) c.disconnect();
  });

  /** Writes and reads through the outage; the journal's depth when the store is back. */
  async function ride(
    db: CutoverDb,
    name: string,
    old: CutoverStore<Price>,
    down: () => Promise<void>,
    up: () => Promise<void>,
  ) {
    const neu = memoryStore<Price>(new Map(), { label: 'postgres (stand-in)' });
    const errors: string[] = [];
    const cutover = defineCutover<Price>({
      name,
      old,
      new: neu,
      db,
      initialStage: 'live',
      poll: '1h', // drains only when the test says so
      shadowTimeout: 200,
      onError: (_err, context) => errors.push(context),
    });
    open.push(cutover);
    await cutover.ready();
    for (let i = 0; i < 10; i++) await cutover.write(`c${i}`, { card: `c${i}`, price: i });

    await down();
    for (let i = 5; i < 15; i++) await cutover.write(`c${i}`, { card: `c${i}`, price: 100 + i });
    await cutover.delete('c0');
    for (let i = 0; i < 15; i++) {
      expect(await cutover.read(`c${i}`)).toEqual(i === 0 ? undefined : { card: `c${i}`, price: i < 5 ? i : 100 + i });
    }
    expect(cutover.stats()).toMatchObject({ primaryFailures: 0, journaled: 11 });
    const during = (await status(db, name))[0]!.journal;
    expect(during.pending).toBe(11);
    // Still down: a drain round fails and keeps every entry.
    expect((await cutover.drain()).replayed).toBe(0);
    expect((await status(db, name))[0]!.journal.pending).toBe(11);

    await up();
    const drained = await cutover.drain();
    expect(drained).toMatchObject({ replayed: 11, failed: 0 });
    expect((await status(db, name))[0]!.journal).toEqual({ pending: 0, inflight: 0 });
    const report = await verifyCutover({ name, old, new: neu, db });
    expect(report).toMatchObject({ clean: true, rows: { old: 14, new: 14 } });
    expect(errors.some((e) => e.includes('(journaled)'))).toBe(true);
  }

  it('Redis stopped (SIGSTOP): writes succeed through the new store, journaled, replayed after', async () => {
    const db = await t.open();
    // The app's client: a command timeout, or a write to a hung Redis would hang the request.
    const client = new Redis(server.url, { commandTimeout: 150, maxRetriesPerRequest: 1 });
    clients.push(client);
    const prefix = `price:${t.backend}:`;
    const old = redisStore<Price>(client, { prefix });
    await ride(
      db,
      `outage_redis_${t.backend}`,
      old,
      async () => server.pause(),
      async () => server.resume(),
    );
    expect(JSON.parse((await client.get(`${prefix}c7`)) as string)).toEqual({ card: 'c7', price: 107 });
    expect(await client.exists(`${prefix}c0`)).toBe(0);
  });

  it('a JSON file made read-only: writes succeed through the new store, journaled, replayed after', async () => {
    const db = await t.open();
    const file = path.join(dir, `prices-${t.backend}.json`);
    await writeFile(file, '{}');
    const old = jsonFileStore<Price>(file);
    await ride(
      db,
      `outage_file_${t.backend}`,
      old,
      () => chmod(file, 0o444),
      () => chmod(file, 0o644),
    );
    expect(await old.get('c7')).toEqual({ card: 'c7', price: 107 });
  });
});
