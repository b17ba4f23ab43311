import { afterAll, describe, expect, it } from 'vitest';
import { ChildCache } from './support/child-handle.js';
import { autoCloseProxies, makeProxy } from './support/proxy.js';
import {
  autoCleanup,
  eventually,
  makeCache,
  REDIS_URL,
  rawRedis,
  sleep,
  uniqueNamespace,
  valueKey,
} from './support/redis.js';

autoCleanup();

autoCloseProxies();
const proxy = makeProxy;

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { open, opened };
}

describe('cross-instance invalidation (pub/sub, keys only)', () => {
  it('a set or delete on one instance drops the key from the other instance’s L1', async () => {
    const ns = uniqueNamespace();
    const a = await makeCache({ namespace: ns });
    const b = await makeCache({ namespace: ns });
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', 'v1');
    await sleep(50); // let a's message reach b first: it would (correctly) drop b's fresh L1 entry
    expect(await b.get('k')).toBe('v1'); // from L2, now in b's L1
    expect(await b.get('k')).toBe('v1');
    expect(b.stats().l1.hits).toBe(1);

    const t0 = performance.now();
    await a.set('k', 'v2');
    await eventually(async () => (await b.get('k')) === 'v2', 2_000, 'b to see v2');
    const setDelay = performance.now() - t0;
    await a.delete('k');
    await eventually(async () => (await b.get('k')) === undefined, 2_000, 'b to see the delete');
    console.log(`cross-instance invalidation delay: ${setDelay.toFixed(1)} ms`);
  });

  it('messages carry keys, never values', async () => {
    const ns = uniqueNamespace();
    const sub = rawRedis().duplicate();
    const seen: string[] = [];
    sub.on('message', (_ch, msg) => seen.push(msg));
    await sub.subscribe(`${ns}~bus`);
    const a = await makeCache({ namespace: ns });
    await a.ready();
    await a.set('user:1', { secret: 'top-secret-value' });
    await a.delete(['user:1', 'user:2']);
    await eventually(() => seen.length >= 2, 2_000, 'messages');
    expect(seen.join('\n')).not.toContain('top-secret-value');
    expect(JSON.parse(seen[1]!).k).toEqual(['user:1', 'user:2']);
    await sub.quit();
  });

  it('an instance ignores its own messages (its L1 entry survives its own set)', async () => {
    const a = await makeCache({ namespace: uniqueNamespace() });
    await a.ready();
    await a.set('k', 'v');
    await sleep(100); // the message has come back by now
    expect(await a.get('k')).toBe('v');
    expect(a.stats().l1.hits).toBe(1);
    expect(a.stats().l2.hits).toBe(0);
  });

  describe('across processes', () => {
    let child: ChildCache | undefined;
    afterAll(() => child?.exit());

    it('a write in one process invalidates the other’s L1, both ways', async () => {
      const ns = uniqueNamespace();
      const a = await makeCache({ namespace: ns });
      child = new ChildCache(REDIS_URL, ns);
      expect(await child.call('ready')).toBe(true);
      await a.ready();
      await child.call('set', { key: 'k', value: 'v1' });
      expect(await a.get('k')).toBe('v1');
      await child.call('set', { key: 'k', value: 'v2' });
      await eventually(async () => (await a.get('k')) === 'v2', 2_000, 'parent to see v2');
      await a.set('k', 'v3');
      await eventually(async () => (await child!.call('get', { key: 'k' })) === 'v3', 2_000, 'child to see v3');
      await a.delete('k');
      await eventually(async () => (await child!.call('get', { key: 'k' })) === null, 2_000, 'child to see delete');
    });

    it('stale-fill race across processes: a load that started before another process’s delete is not stored', async () => {
      const ns = uniqueNamespace();
      const a = await makeCache({ namespace: ns });
      child ??= new ChildCache(REDIS_URL, ns);
      const other = new ChildCache(REDIS_URL, ns);
      try {
        expect(await other.call('ready')).toBe(true);
        await a.ready();
        const g = gate();
        const read = a.getOrSet('row', async () => {
          await g.opened; // read v1 from the database, then stall
          return 'v1';
        });
        await sleep(20);
        await other.call('delete', { key: 'row' }); // the writer committed v2 and invalidated
        g.open();
        expect(await read).toBe('v1'); // this caller overlapped the write: v1 is fine for it
        expect(a.stats().staleFillsRefused).toBe(1);
        expect(await rawRedis().exists(valueKey(ns, 'row'))).toBe(0);
        expect(await a.getOrSet('row', async () => 'v2')).toBe('v2');
        expect(await other.call('get', { key: 'row' })).toBe('v2');
      } finally {
        await other.exit();
      }
    });
  });
});

describe('stale-fill race (leases)', () => {
  it('in one process: a delete during a load keeps the load out of L1 and L2, and new callers do not join it', async () => {
    const c = await makeCache({ namespace: uniqueNamespace() });
    await c.ready();
    const g = gate();
    let calls = 0;
    const first = c.getOrSet('k', async () => {
      calls++;
      await g.opened;
      return 'v1';
    });
    await sleep(20);
    await c.delete('k');
    const second = c.getOrSet('k', async () => {
      calls++;
      return 'v2';
    });
    expect(await second).toBe('v2');
    g.open();
    expect(await first).toBe('v1');
    expect(calls).toBe(2);
    expect(await c.get('k')).toBe('v2');
  });

  it('a set by another instance during a load wins over the load', async () => {
    const ns = uniqueNamespace();
    const a = await makeCache({ namespace: ns });
    const b = await makeCache({ namespace: ns });
    await Promise.all([a.ready(), b.ready()]);
    const g = gate();
    const read = a.getOrSet('k', async () => {
      await g.opened;
      return 'old';
    });
    await sleep(20);
    await b.set('k', 'new');
    g.open();
    await read;
    await sleep(50);
    expect(await a.get('k')).toBe('new');
    expect(await b.get('k')).toBe('new');
  });

  it('a loader slower than the lease does not fill the cache', async () => {
    const c = await makeCache({ namespace: uniqueNamespace(), leaseTtl: 50 });
    await c.ready();
    expect(await c.getOrSet('k', () => sleep(120).then(() => 'slow'))).toBe('slow');
    expect(c.stats().staleFillsRefused).toBe(1);
    expect(await c.get('k')).toBeUndefined();
  });
});

describe('when the bus is down', () => {
  it('no L1 entry is served (not even one loaded just now), Redis is skipped, and L1 is cleared when the bus is back', async () => {
    const ns = uniqueNamespace();
    const p = await proxy();
    const writer = await makeCache({ namespace: ns });
    const reader = await makeCache({ namespace: ns, redis: p.url });
    await Promise.all([writer.ready(), reader.ready()]);
    await writer.set('k', 'v1');
    // The writer's own message may reach the reader after its first read (and empty its L1 again):
    // read until a second read is served from L1.
    await eventually(
      async () => {
        expect(await reader.getOrSet('k', async () => 'db-v1')).toBe('v1');
        const hits = reader.stats().l1.hits;
        expect(await reader.getOrSet('k', async () => 'db-v1b')).toBe('v1');
        return reader.stats().l1.hits === hits + 1;
      },
      5_000,
      'a read served from L1',
    );
    const hitsBefore = reader.stats().l1.hits;

    p.set('down');
    await eventually(() => reader.stats().bus === 'down', 2_000, 'bus down');
    await writer.delete('k'); // committed v2; the reader cannot hear it
    expect(await reader.getOrSet('k', async () => 'db-v2')).toBe('db-v2');
    // Loaded a moment ago, but another instance may have changed it since: reloaded.
    expect(await reader.getOrSet('k', async () => 'db-v3')).toBe('db-v3');
    expect(reader.stats().l1.hits).toBe(hitsBefore);

    p.up();
    expect(await reader.ready(5_000)).toBe(true);
    expect(reader.stats().l1.entries).toBe(0);
  });

  it('a black-holed subscriber is detected by the heartbeat, and recovers', async () => {
    const ns = uniqueNamespace();
    const p = await proxy();
    const c = await makeCache({ namespace: ns, redis: p.url, bus: { heartbeatMs: 100 } });
    expect(await c.ready()).toBe(true);
    p.set('blackhole');
    await eventually(() => c.stats().bus === 'down', 3_000, 'heartbeat to notice');
    // Calls keep working meanwhile.
    expect(await c.getOrSet('k', async () => 'db')).toBe('db');
    p.up();
    expect(await c.ready(10_000)).toBe(true);
    expect(c.stats().bus).toBe('up');
  });
});
