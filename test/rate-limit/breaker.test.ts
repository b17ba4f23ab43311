/**
 * The limiter's circuit breaker, on a redis-server of the test's own that is
 * paused (SIGSTOP: connections stay open, nothing answers): the first call
 * waits `timeoutMs` and opens the breaker; every call after it is decided by
 * the in-memory insurance limiter without going to Redis, until a PING
 * answers again.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/rate-limit/index.js';
import { type OwnRedis, startRedisServer } from '../support/redis-server.js';

let own: OwnRedis;
let admin: Redis;

beforeAll(async () => {
  own = await startRedisServer();
  admin = new Redis(own.url);
});

afterAll(async () => {
  own.resume();
  admin.disconnect();
  await own.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

describe('rate limiter breaker', () => {
  it('a hung Redis: after one timeout, calls are decided in memory without going to Redis; back to Redis once it answers', async () => {
    const lines: Array<{ level: string; code?: unknown; msg: string }> = [];
    const at = (level: string) => (obj: object, msg?: string) =>
      lines.push({ level, code: (obj as { code?: unknown }).code, msg: msg ?? '' });
    const l = createRateLimiter({
      redis: own.url,
      points: 1_000,
      duration: '1m',
      keyPrefix: 'hang',
      logger: { debug: () => {}, info: at('info'), warn: at('warn') },
    });
    try {
      expect((await l.consume('k')).allowed).toBe(true);
      expect(await admin.get('hang:k')).toBe('1');

      own.pause();
      const first = performance.now();
      expect((await l.consume('k')).allowed).toBe(true); // waits for the 250 ms timeout, then memory
      const firstMs = performance.now() - first;
      const N = 40;
      const times: number[] = [];
      for (let i = 0; i < N; i++) {
        const t = performance.now();
        expect((await l.consume('k')).allowed).toBe(true);
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      console.log(
        `rate limiter during a hang (timeoutMs 250): first call ${firstMs.toFixed(1)} ms; next ${N}: p50 ${pct(times, 0.5).toFixed(2)} ms, p99 ${pct(times, 0.99).toFixed(2)} ms`,
      );
      own.resume();

      // Causal check: the calls during the hang never reached Redis. Whatever was
      // written to the socket is executed after SIGCONT, so had they been sent,
      // the counter would end at 2 + N. Only the call that timed out was sent.
      let last: string | null = null;
      await eventually(
        async () => {
          const now = await admin.get('hang:k');
          const settled = now === last && now !== '1';
          last = now;
          await sleep(200);
          return settled;
        },
        5_000,
        'the counter to settle',
      );
      expect(last).toBe('2');

      // The breaker's PING (every second) finds Redis again: counting is back in Redis.
      await eventually(
        async () => {
          await l.consume('back');
          return (await admin.get('hang:back')) !== null;
        },
        5_000,
        'counting back in Redis',
      );
      // One warning for the outage, one info line for the recovery.
      const said = lines.filter((x) => x.code === 'FERRY_REDIS_UNAVAILABLE' || x.code === 'FERRY_REDIS_AVAILABLE');
      expect(said.map((x) => [x.level, x.code])).toEqual([
        ['warn', 'FERRY_REDIS_UNAVAILABLE'],
        ['info', 'FERRY_REDIS_AVAILABLE'],
      ]);
      expect(said[0]!.msg).toMatch(
        /createRateLimiter "hang": Redis at redis:\/\/127\.0\.0\.1:\d+ is unavailable.*per process/,
      );
    } finally {
      own.resume();
      await l.close();
    }
  }, 30_000);

  it('an error reply for one key (WRONGTYPE) is decided in memory without opening the breaker for the others', async () => {
    const l = createRateLimiter({ redis: own.url, points: 5, duration: '1m', keyPrefix: 'wrongtype', logger: false });
    try {
      await admin.hset('wrongtype:odd', 'f', 'v'); // another program's hash where a counter would go
      expect((await l.consume('odd')).allowed).toBe(true); // answered from memory
      expect((await l.consume('ok')).allowed).toBe(true);
      expect(await admin.get('wrongtype:ok')).toBe('1'); // still counted in Redis
    } finally {
      await l.close();
    }
  });
});
