/**
 * Rate limits on the real Redis at REDIS_URL (default redis://127.0.0.1:6379).
 * Every test uses its own key prefix and deletes its keys; the shared Redis
 * server is never stopped or paused (other test files use it): outages are
 * simulated with a closed port or a TCP proxy that is cut.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createRateLimiter,
  E_RATE_ARGUMENT,
  E_RATE_CLOSED,
  E_RATE_CONFIG,
  type RateLimiter,
} from '../../src/rate-limit/index.js';
import { expectFerryError } from '../support/expect-error.js';
import { closedPort, startProxy } from '../support/redis-proxy.js';
import { currentRedis, describeEachRedis } from '../support/redis-targets.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const here = path.dirname(fileURLToPath(import.meta.url));

let admin: Redis;
const prefixes: string[] = [];
const limiters: RateLimiter[] = [];

const newPrefix = () => {
  const p = `ferrytest:rl:${process.pid}:${randomBytes(4).toString('hex')}`;
  prefixes.push(p);
  return p;
};

function limiter(options: Partial<Parameters<typeof createRateLimiter>[0]> = {}): RateLimiter {
  const l = createRateLimiter({
    redis: currentRedis()?.url() ?? REDIS_URL,
    points: 5,
    duration: '2s',
    keyPrefix: newPrefix(),
    ...options,
  });
  limiters.push(l);
  return l;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  admin = new Redis(REDIS_URL);
  await admin.ping();
});

afterEach(async () => {
  await Promise.all(limiters.splice(0).map((l) => l.close()));
});

afterAll(async () => {
  for (const p of prefixes) {
    const keys = await admin.keys(`${p}:*`);
    if (keys.length) await admin.del(...keys);
  }
  await admin.quit();
});

// On the shared Redis and on a Redis Cluster of this file's own.
describeEachRedis('createRateLimiter (Redis)', (t) => {
  it('allows `points` requests, then denies with retryAfter, and writes the seeds key format', async () => {
    const l = limiter({ points: 3, duration: '2s' });
    const key = { user: 42, ip: '10.0.0.1' };
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await l.consume(key));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0, 0]);
    for (const r of results.slice(0, 3)) expect(r.retryAfterMs).toBe(0);
    for (const r of results.slice(3)) {
      expect(r.retryAfterMs).toBeGreaterThan(0);
      expect(r.retryAfterMs).toBeLessThanOrEqual(2000);
      expect(r.resetMs).toBe(r.retryAfterMs);
    }
    // The counter lives in Redis under rate:{user}:{ip} (with this test's prefix).
    expect(l.keyFor(key)).toBe(`${l.keyPrefix}:42:10.0.0.1`);
    expect(await (t.raw() as Redis).get(l.keyFor(key))).toBe('5');
    const ttl = await (t.raw() as Redis).pttl(l.keyFor(key));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2000);
    // Keys are independent.
    expect((await l.consume({ user: 42, ip: '10.0.0.2' })).allowed).toBe(true);
    expect((await l.consume({ ip: '10.0.0.1' })).allowed).toBe(true);
    expect(l.keyFor({ ip: '10.0.0.1' })).toBe(`${l.keyPrefix}::10.0.0.1`); // anonymous: an empty user part
  });

  it('restores the points once the window has passed', async () => {
    const l = limiter({ points: 2, duration: '1s' });
    await l.consume('k');
    await l.consume('k');
    const denied = await l.consume('k');
    expect(denied.allowed).toBe(false);
    await sleep(denied.retryAfterMs + 50);
    const again = await l.consume('k');
    expect(again).toMatchObject({ allowed: true, remaining: 1, consumed: 1 });
  });

  it('consumes several points at once; get reads without consuming; reset clears', async () => {
    const l = limiter({ points: 10, duration: '2s' });
    expect(await l.get('k')).toBeNull();
    expect(await l.consume('k', 7)).toMatchObject({ allowed: true, remaining: 3, consumed: 7 });
    expect(await l.get('k')).toMatchObject({ allowed: true, remaining: 3, consumed: 7 });
    expect(await l.consume('k', 4)).toMatchObject({ allowed: false, remaining: 0, consumed: 11 });
    expect(await l.get('k')).toMatchObject({ allowed: false, remaining: 0, consumed: 11 });
    expect(await l.reset('k')).toBe(true);
    expect(await l.get('k')).toBeNull();
    expect(await (t.raw() as Redis).exists(l.keyFor('k'))).toBe(0);
    expect((await l.consume('k', 10)).allowed).toBe(true);
  });

  it('blockDuration keeps a key blocked after the window', async () => {
    const l = limiter({ points: 1, duration: '1s', blockDuration: '3s' });
    expect((await l.consume('k')).allowed).toBe(true);
    const denied = await l.consume('k');
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeGreaterThan(2000);
    await sleep(1200);
    expect((await l.consume('k')).allowed).toBe(false);
  });

  it('concurrent consumers in one process never exceed the budget', async () => {
    const l = limiter({ points: 25, duration: '2s' });
    const results = await Promise.all(Array.from({ length: 200 }, () => l.consume('hot')));
    expect(results.filter((r) => r.allowed)).toHaveLength(25);
  });

  it('two processes sharing Redis together get exactly `points`', async () => {
    const keyPrefix = newPrefix();
    const points = 40;
    const child = () => {
      const p = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(here, 'support/child.ts'),
          t.url(),
          keyPrefix,
          String(points),
          '5',
          'u1:1.2.3.4',
          '60',
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => {
        out += d;
      });
      p.stderr.on('data', (d) => {
        err += d;
      });
      const ready = new Promise<void>((resolve, reject) => {
        const check = () => (out.includes('ready\n') ? resolve() : undefined);
        p.stdout.on('data', check);
        p.on('exit', (code) => reject(new Error(`child exited early (${code}): ${err}`)));
      });
      const done = new Promise<{ allowed: number; denied: number }>((resolve, reject) => {
        p.on('exit', (code) => {
          if (code !== 0) return reject(new Error(`child failed (${code}): ${err}`));
          resolve(JSON.parse(out.split('\n').filter(Boolean).at(-1)!));
        });
      });
      return { p: p as ChildProcessWithoutNullStreams, ready, done };
    };
    const a = child();
    const b = child();
    await Promise.all([a.ready, b.ready]);
    a.p.stdin.write('go\n');
    b.p.stdin.write('go\n');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.allowed + ra.denied).toBe(60);
    expect(rb.allowed + rb.denied).toBe(60);
    // Both consumed for real (neither was starved), and the total is the shared budget.
    expect(ra.allowed + rb.allowed).toBe(points);
    expect(await (t.raw() as Redis).get(`${keyPrefix}:u1:1.2.3.4`)).toBe('120');
  }, 60_000);
});

describe('createRateLimiter when Redis is unreachable', () => {
  it('a closed port: still limits through the in-memory insurance limiter, never throws, answers fast', async () => {
    const port = await closedPort();
    const l = limiter({ redis: `redis://127.0.0.1:${port}`, points: 3, duration: '1s', timeoutMs: 100 });
    const started = Date.now();
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await l.consume({ user: 'u', ip: '::1' }));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false, false]);
    expect(results[4]!.retryAfterMs).toBeGreaterThan(0);
    // Only the first call may wait for the connection attempt; the rest skip Redis.
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await l.get({ user: 'u', ip: '::1' })).toMatchObject({ allowed: false, consumed: 5 });
    expect(await l.reset({ user: 'u', ip: '::1' })).toBe(false); // memory cleared, Redis could not be
    expect((await l.consume({ user: 'u', ip: '::1' })).allowed).toBe(true);
  });

  it('a connection cut mid-flight: keeps limiting, then goes back to Redis when it returns', async () => {
    const proxy = await startProxy();
    try {
      const l = limiter({ redis: proxy.url, points: 4, duration: '2s', timeoutMs: 100 });
      expect((await l.consume('k')).allowed).toBe(true); // through Redis
      expect(await admin.get(l.keyFor('k'))).toBe('1');

      proxy.cut();
      const during = [];
      for (let i = 0; i < 6; i++) during.push(await l.consume('k'));
      // The insurance limiter counts per process from zero: 4 allowed, then denied.
      expect(during.map((r) => r.allowed)).toEqual([true, true, true, true, false, false]);
      expect(await admin.get(l.keyFor('k'))).toBe('1'); // Redis saw none of them

      proxy.restore();
      // ioredis reconnects on its own (backoff ≤ 2 s).
      const deadline = Date.now() + 8000;
      let value = '1';
      while (Date.now() < deadline && value === '1') {
        await l.consume('other');
        await sleep(100);
        value = (await admin.get(l.keyFor('other'))) ?? '1';
      }
      expect(Number(value)).toBeGreaterThanOrEqual(1);
      const before = Number(await admin.get(l.keyFor('k')));
      await l.consume('k');
      // Counting is back in Redis. (A command queued at the moment of the cut
      // may be replayed on reconnection: that over-counts, never under-counts.)
      expect(before).toBeGreaterThanOrEqual(1);
      expect(before).toBeLessThanOrEqual(2);
      expect(Number(await admin.get(l.keyFor('k')))).toBe(before + 1);
    } finally {
      await proxy.close();
    }
  }, 20_000);

  it('a Redis that stops answering: each call waits at most about timeoutMs, then the insurance limiter answers', async () => {
    const proxy = await startProxy();
    try {
      const l = limiter({ redis: proxy.url, points: 2, duration: '2s', timeoutMs: 150 });
      expect((await l.consume('k')).allowed).toBe(true);
      proxy.stall(true);
      const started = Date.now();
      const r = await Promise.all([l.consume('k'), l.consume('k'), l.consume('k')]);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(r.filter((x) => x.allowed)).toHaveLength(2);
    } finally {
      await proxy.close();
    }
  });
});

describe('createRateLimiter without Redis', () => {
  it('redis: null limits in memory with the same API', async () => {
    const l = limiter({ redis: null, points: 2, duration: '1s' });
    expect((await l.consume('a')).allowed).toBe(true);
    expect((await l.consume('a')).allowed).toBe(true);
    const denied = await l.consume('a');
    expect(denied).toMatchObject({ allowed: false, remaining: 0 });
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    expect(await l.reset('a')).toBe(true);
    expect((await l.consume('a')).allowed).toBe(true);
  });
});

describe('createRateLimiter misuse', () => {
  it('rejects bad options, keys and points with E_RATE_* codes', async () => {
    const bad = (o: object) => () => createRateLimiter({ redis: null, points: 1, duration: '1s', ...o });
    expect(bad({ points: 0 })).toThrow(expect.objectContaining({ code: E_RATE_CONFIG }));
    expect(bad({ duration: 0.5 })).toThrow(expect.objectContaining({ code: E_RATE_CONFIG }));
    expect(bad({ duration: '1500ms' })).toThrow(/whole number of seconds/);
    expect(bad({ duration: 60 })).toThrow(expect.objectContaining({ code: E_RATE_CONFIG }));
    expect(bad({ keyPrefix: 'has space' })).toThrow(expect.objectContaining({ code: E_RATE_CONFIG }));
    expect(bad({ redis: 'http://localhost' })).toThrow(expect.objectContaining({ code: 'E_REDIS_URL' }));
    const l = limiter({ redis: null });
    await expectFerryError(l.consume(''), E_RATE_ARGUMENT);
    await expectFerryError(l.consume({ ip: '' } as never), E_RATE_ARGUMENT);
    await expectFerryError(l.consume('k', 0), E_RATE_ARGUMENT);
    await expectFerryError(l.consume('k', 1.5), E_RATE_ARGUMENT);
    await l.close();
    await expectFerryError(l.consume('k'), E_RATE_CLOSED);
  });

  it('never shows a Redis password', () => {
    let message = '';
    try {
      createRateLimiter({ redis: 'http://:s3cret@localhost:6379', points: 1, duration: '1s' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/E?Unsupported Redis URL/);
    expect(message).not.toContain('s3cret');
  });
});
