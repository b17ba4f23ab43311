/**
 * Several instances of one cutover (Postgres): stage switches under
 * concurrent writes, a separate process SIGKILLed between its two writes,
 * the Redis doorbell and the polling it falls back to.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { advance } from '../../src/cutover/advance.js';
import { type Cutover, defineCutover } from '../../src/cutover/cutover.js';
import type { DbHandle } from '../../src/db/open.js';
import { openDatabase } from '../../src/db/open.js';
import { freshPostgresDatabase, type ProvisionedDatabase } from '../support/backends.js';
import { type OwnRedis, sparePort, startRedisServer } from '../support/redis-server.js';
import { faultyStore, tableContents, tableStore } from './support/stores.js';

const WORKER = fileURLToPath(new URL('./support/worker.ts', import.meta.url));

let provisioned: ProvisionedDatabase;
let a: DbHandle;
let b: DbHandle;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  provisioned = await freshPostgresDatabase();
  a = await openDatabase({ url: provisioned.url });
  b = await openDatabase({ url: provisioned.url });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await a?.close();
  await b?.close();
  await provisioned?.cleanup();
});

class Child {
  readonly proc: ChildProcess;
  readonly #waiters: { cmd: string; resolve: (m: any) => void }[] = [];
  constructor(config: object) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: { cmd: string }) => {
      const i = this.#waiters.findIndex((w) => w.cmd === m.cmd);
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(m);
    });
    closers.push(async () => this.proc.kill('SIGKILL'));
  }
  next<M = any>(cmd: string): Promise<M> {
    return new Promise((resolve) => this.#waiters.push({ cmd, resolve }));
  }
  send(m: object): void {
    this.proc.send(m);
  }
}

describe('cutover instances [postgres]', () => {
  it('two instances and a child process switch stage under concurrent writes: no write only in the store the others stopped writing', async () => {
    const name = 'multi';
    const oldA = await tableStore<unknown>(a, 'multi_old');
    const newA = await tableStore<unknown>(a, 'multi_new');
    const oldB = await tableStore<unknown>(b, 'multi_old');
    const newB = await tableStore<unknown>(b, 'multi_new');
    // Polling only, 200 ms: an advance that did not wait for the acks would leave instances writing the old way.
    const one = defineCutover<unknown>({ name, old: oldA, new: newA, db: a, poll: 200 });
    const two = defineCutover<unknown>({ name, old: oldB, new: newB, db: b, poll: 200 });
    closers.push(
      () => one.close(),
      () => two.close(),
    );
    await Promise.all([one.ready(), two.ready()]);
    const child = new Child({ url: provisioned.url, name, old: 'multi_old', new: 'multi_new', poll: 200, ttl: 5000 });
    await child.next('ready');
    let running = true;
    const written: Record<string, number[]> = { one: [], two: [] };
    const marks: Record<string, number> = {};
    const loops = (['one', 'two'] as const).map(async (label) => {
      const c = label === 'one' ? one : two;
      for (let i = 0; running; i++) {
        written[label]!.push(i);
        await c.write(`${label}-${i}`, { n: i });
      }
    });
    child.send({ cmd: 'loop', prefix: 'child' });
    await advance(a, name, { wait: '10s' }); // off → dual-write: every instance acked before it returns
    marks.one = written.one!.length;
    marks.two = written.two!.length;
    child.send({ cmd: 'mark' });
    marks.child = (await child.next('mark')).next;
    await vi.waitFor(async () => expect((await tableContents(a, 'multi_new')).size).toBeGreaterThan(20), {
      timeout: 10_000,
    });
    await advance(a, name, { to: 'live', force: true });
    await advance(a, name, { to: 'complete', wait: '10s' }); // rampdown → complete waits too
    running = false;
    await Promise.all(loops);
    child.send({ cmd: 'stop' });
    const counts: Record<string, number> = { one: written.one!.length, two: written.two!.length };
    counts.child = (await child.next('stopped')).count;
    const fresh = await tableContents(a, 'multi_new');
    for (const label of ['one', 'two', 'child']) {
      // Every write started after dual-write was acknowledged is in the new store, whatever stage it ran in.
      const missing: string[] = [];
      for (let i = marks[label]!; i < counts[label]!; i++)
        if (!fresh.has(`${label}-${i}`)) missing.push(`${label}-${i}`);
      expect(missing, label).toEqual([]);
      expect(counts[label]! - marks[label]!, label).toBeGreaterThan(5);
    }
  });

  it('an instance SIGKILLed between the primary and the secondary write leaves a journal entry the next instance replays', async () => {
    const name = 'crash';
    const child = new Child({ url: provisioned.url, name, old: 'crash_old', new: 'crash_new', poll: 100, ttl: 400 });
    await child.next('ready');
    await advance(a, name, { wait: '10s' });
    child.send({ cmd: 'write', key: 'hang', value: { v: 1 } });
    await child.next('primary-done');
    child.proc.kill('SIGKILL');
    expect((await tableContents(a, 'crash_new')).has('hang')).toBe(false);
    const next = defineCutover<unknown>({
      name,
      old: await tableStore(a, 'crash_old'),
      new: await tableStore(a, 'crash_new'),
      db: a,
      poll: 100,
    });
    closers.push(() => next.close());
    // The dead instance's heartbeat goes stale after its ttl; the next drain round replays its entry.
    await vi.waitFor(async () => expect((await tableContents(a, 'crash_new')).get('hang')).toEqual({ v: 1 }), {
      timeout: 10_000,
      interval: 100,
    });
    expect(next.stats().replayed).toBeGreaterThanOrEqual(1);
  });

  describe('Redis', () => {
    let redis: OwnRedis;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    function instance(name: string, url: string, poll: number): Cutover<unknown> {
      const c = defineCutover<unknown>({
        name,
        old: faultyStore('old'),
        new: faultyStore('new'),
        db: a,
        redis: url,
        poll,
      });
      closers.push(() => c.close());
      return c;
    }

    it('a stage change reaches an instance through pub/sub long before its next poll', async () => {
      const c = instance('bell', redis.url, 60_000);
      await c.ready();
      await vi.waitFor(() => expect(c.stage).toBe('off'));
      // Subscribed once ready; ring until heard (a PUBLISH before the SUBSCRIBE is lost, polling would cover it).
      await vi.waitFor(
        async () => {
          if (c.stage === 'off') await advance(a, 'bell', { redis: redis.url, wait: '2s' }).catch(() => {});
          expect(c.stage).toBe('dual-write');
        },
        { timeout: 10_000, interval: 300 },
      );
    });

    it('without Redis (down, or never there) instances follow by polling', async () => {
      const dead = `redis://127.0.0.1:${await sparePort()}`;
      const c = instance('poll', dead, 100);
      await c.ready();
      const moved = await advance(a, 'poll', { redis: dead, wait: '10s' });
      expect(moved.to).toBe('dual-write');
      expect(c.stage).toBe('dual-write');
      await redis.kill();
      const d = instance('poll2', redis.url, 100);
      await d.ready();
      await advance(a, 'poll2', { redis: redis.url, wait: '10s' });
      expect(d.stage).toBe('dual-write');
      await redis.restart();
    });
  });
});
