/**
 * How long an instance may serve a value after another one invalidated it:
 * at most `bus.maxStale` after Redis ran the invalidation (see cache.ts), in
 * each of the ways it used to be longer — a hung Redis, a stalled reader, a
 * stalled writer, an invalidation written while the breaker was open, and the
 * moments after the bus comes back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCache } from '../../src/cache/index.js';
import { type OwnRedis, startRedisServer } from '../support/redis-server.js';
import { ChildCache } from './support/child-handle.js';
import { autoCloseProxies, makeProxy } from './support/proxy.js';
import { autoCleanup, eventually, makeCache, REDIS_URL, sleep, uniqueNamespace } from './support/redis.js';

autoCleanup();

const servers: OwnRedis[] = [];
const children: ChildCache[] = [];
autoCloseProxies();
const proxy = makeProxy;
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.exit()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

/** Keep this process busy (a long GC, a CPU-bound request, SIGSTOP): no timer, no I/O. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {}
}

/** A cache in this process (the reader) and one in a child process (the writer), on one namespace, both ready. */
async function readerAndWriter() {
  const ns = uniqueNamespace();
  const reader = await makeCache({ namespace: ns });
  const writer = new ChildCache(REDIS_URL, ns);
  children.push(writer);
  expect(await writer.call('ready')).toBe(true);
  expect(await reader.ready()).toBe(true);
  return { reader, writer };
}

describe('L1 is trusted only while the bus proves it hears invalidations', () => {
  it('a hung Redis: L1 is no longer served once bus.maxStale has passed since the last answered heartbeat', async () => {
    const redis = await startRedisServer();
    servers.push(redis);
    const c = await makeCache({ namespace: uniqueNamespace(), redis: redis.url });
    expect(await c.ready()).toBe(true);
    expect(await c.getOrSet('k', () => 'v1')).toBe('v1');
    expect(await c.getOrSet('k', () => 'unused')).toBe('v1'); // L1
    redis.pause();
    // Causal: no heartbeat sent after the pause can be answered, so after
    // maxStale (250 ms) nothing proves that no invalidation is waiting in Redis.
    await sleep(300);
    expect(await c.getOrSet('k', () => 'from db')).toBe('from db');
    redis.resume();
    expect(await c.ready(5_000)).toBe(true);
  });

  it('a stalled reader serves nothing from L1 on waking until it has heard what it missed', async () => {
    const { reader, writer } = await readerAndWriter();
    expect(await reader.getOrSet('k', () => 'v1')).toBe('v1');
    expect(await reader.getOrSet('k', () => 'unused')).toBe('v1'); // L1
    // The writer commits v2 and invalidates while this process is stalled: the
    // message waits unread in the socket when the first read after the stall runs.
    await writer.call('deleteIn', { key: 'k', delayMs: 50 });
    stall(600);
    expect(await reader.getOrSet('k', () => 'v2')).toBe('v2');
  });

  it('a stalled reader does not join, on waking, a load that began before what it missed (it waits to hear it first)', async () => {
    const { reader, writer } = await readerAndWriter();
    // A load of k is under way (it read v1 from the database, and has not returned yet)...
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let loading!: () => void;
    const started = new Promise<void>((r) => (loading = r));
    const first = reader.getOrSet('k', async () => {
      loading();
      await gate;
      return 'v1';
    });
    await started;
    // ...when the writer commits v2 and invalidates k while this process is stalled.
    await writer.call('deleteIn', { key: 'k', delayMs: 50 });
    stall(600);
    // The first read after the stall, before the buffered invalidation is read: it must not take the old load's v1.
    const after = reader.getOrSet('k', () => 'v2');
    release();
    expect(await first).toBe('v1'); // began before the write: allowed
    expect(await after).toBe('v2');
  });

  it('after a stall, an entry nobody invalidated is served again after one heartbeat, not reloaded', async () => {
    const c = await makeCache({ namespace: uniqueNamespace() });
    expect(await c.ready()).toBe(true);
    expect(await c.getOrSet('k', () => 'v1')).toBe('v1');
    stall(400);
    const reads = Array.from({ length: 10 }, () => c.getOrSet('k', () => 'reloaded'));
    expect(await Promise.all(reads)).toEqual(Array(10).fill('v1'));
    expect(c.stats().loader.calls).toBe(1);
  });

  it('a stall of the process itself does not time out the commands it had in flight', async () => {
    const c = await makeCache({ namespace: uniqueNamespace(), l1: false });
    expect(await c.ready()).toBe(true);
    await c.set('k', 'v');
    const errors = c.stats().errors;
    const reads = Array.from({ length: 5 }, () => c.get('k'));
    // The replies arrive during the stall; the deadline sweeper, a timer, runs before they are read.
    stall(300);
    expect(await Promise.all(reads)).toEqual(['v', 'v', 'v', 'v', 'v']);
    expect(c.stats()).toMatchObject({ errors, breaker: 'closed' });
  });
});

describe('invalidations are not held back', () => {
  it('while the breaker is open but the connection is up, an invalidation is still sent at once (and leaves the replay queue once Redis confirms it)', async () => {
    const ns = uniqueNamespace();
    const p = await proxy();
    const writer = await makeCache({ namespace: ns, redis: p.url, timeoutMs: 50, breaker: { breakMs: 5_000 } });
    const reader = await makeCache({ namespace: ns });
    await Promise.all([writer.ready(), reader.ready()]);
    await writer.set('k', 'v1');
    await sleep(20);
    expect(await reader.get('k')).toBe('v1');
    // A hiccup opens the writer's breaker (three reads time out); the next probe is 5 s away.
    p.set('slow');
    await Promise.all(['a', 'b', 'c'].map((k) => writer.get(k)));
    p.up();
    expect(writer.stats().breaker).toBe('open');
    await writer.delete('k'); // committed v2
    await eventually(async () => (await reader.get('k')) === undefined, 2_000, 'the reader to hear the invalidation');
    // Confirmed by Redis: nothing left to replay, without waiting for the probe 5 s away.
    await eventually(() => writer.stats().pendingInvalidations === 0, 2_000, 'Redis to confirm the invalidation');
    expect(writer.stats().breaker).toBe('open');
  });

  it('an invalidation that timed out is replayed by a quick first probe, not a whole break later, and is logged once', async () => {
    const ns = uniqueNamespace();
    const p = await proxy();
    const warnings: string[] = [];
    const log = (_obj: object, msg?: string) => void (msg !== undefined && warnings.push(msg));
    const writer = await makeCache({
      namespace: ns,
      redis: p.url,
      timeoutMs: 50,
      breaker: { breakMs: 5_000 },
      logger: { warn: log, info: () => {}, debug: () => {} },
    });
    expect(await writer.ready()).toBe(true);
    p.set('slow');
    await writer.delete('k1'); // times out: remembered, breaker tripped
    await writer.delete('k2');
    p.up();
    await eventually(
      () => writer.stats().breaker === 'closed' && writer.stats().pendingInvalidations === 0,
      2_000,
      'the replay',
    );
    expect(warnings.filter((w) => w.includes('not confirmed by Redis'))).toHaveLength(1);
  });
});

describe('an unconfirmed invalidation without a logger', () => {
  it('is one process warning (FERRY_CACHE_INVALIDATION_UNCONFIRMED), never silent', async () => {
    const seen: Array<Error & { code?: string }> = [];
    const listen = (w: Error) => seen.push(w);
    process.on('warning', listen);
    const p = await proxy();
    const writer = await makeCache({
      namespace: uniqueNamespace(),
      redis: p.url,
      timeoutMs: 50,
      breaker: { breakMs: 5_000 },
      logger: undefined,
    });
    try {
      expect(await writer.ready()).toBe(true);
      p.set('slow');
      await writer.delete('k1');
      await writer.delete('k2');
      p.up();
      await eventually(() => writer.stats().pendingInvalidations === 0, 2_000, 'the replay');
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
      const ours = seen.filter((w) => w.code === 'FERRY_CACHE_INVALIDATION_UNCONFIRMED');
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toMatch(/invalidation\(s\) not confirmed by Redis/);
    } finally {
      process.off('warning', listen);
    }
  });
});

describe('after the bus comes back', () => {
  it('L1 is neither served nor filled for quarantineMs, then is used again', async () => {
    const p = await proxy();
    const c = await makeCache({
      namespace: uniqueNamespace(),
      redis: p.url,
      timeoutMs: 50,
      breaker: { breakMs: 100, quarantineMs: 2_000 },
    });
    expect(await c.ready()).toBe(true);
    p.set('down');
    await eventually(() => c.stats().bus === 'down', 2_000, 'bus down');
    p.up();
    expect(await c.ready(5_000)).toBe(true);
    // Another instance may still be replaying an invalidation Redis missed: a load may have raced it.
    expect(await c.getOrSet('k', () => 'load 1')).toBe('load 1');
    expect(await c.getOrSet('k', () => 'load 2')).toBe('load 2');
    await sleep(2_000);
    // Quarantine over (trusted again at the next heartbeat): L1 serves again.
    await eventually(
      async () => {
        const hits = c.stats().l1.hits;
        await c.getOrSet('k', () => 'reloaded');
        return c.stats().l1.hits > hits;
      },
      2_000,
      'an L1 hit',
    );
  });
});

describe('options', () => {
  it('bus.maxStale must exceed bus.heartbeatMs; l1.offlineTtl is accepted and ignored', () => {
    expect(() => createCache({ namespace: 'x', redis: null, bus: { heartbeatMs: 300 } })).toThrow(/bus.maxStale/);
    expect(() =>
      createCache({ namespace: 'x', redis: null, bus: { heartbeatMs: 200, maxStale: '1s' }, l1: { offlineTtl: '1s' } }),
    ).not.toThrow();
    expect(() => createCache({ namespace: 'x', redis: null, l1: { offlineTtl: 'soon' as never } })).toThrow(
      /offlineTtl/,
    );
  });
});
