/**
 * A missing or unreachable Redis is never silent: the cache, the rate limiter
 * and the session store each warn once when Redis cannot be reached (at start
 * too), say once when it is back, and warn once more when it goes away again
 * — never once per retry. Through the logger when given, else
 * process.emitWarning; `logger: false` silences them. A Redis that is fine
 * from the start says nothing.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache } from '../../src/cache/index.js';
import { createRateLimiter } from '../../src/rate-limit/index.js';
import { createSessionStore } from '../../src/sessions/index.js';
import { type OwnRedis, sparePort, startRedisServer } from '../support/redis-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Said = { level: string; code: unknown; msg: string };
function recorder() {
  const said: Said[] = [];
  const at = (level: string) => (obj: object, msg?: string) => {
    const code = (obj as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('FERRY_REDIS_')) said.push({ level, code, msg: msg ?? '' });
  };
  return { said, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

/** Every process warning emitted while `fn` runs (and a little after). */
async function processWarnings(fn: () => Promise<void>): Promise<Array<Error & { code?: string }>> {
  const seen: Array<Error & { code?: string }> = [];
  const listen = (w: Error) => seen.push(w);
  process.on('warning', listen);
  try {
    await fn();
    await sleep(10);
  } finally {
    process.off('warning', listen);
  }
  return seen.filter((w) => w.code?.startsWith('FERRY_REDIS_'));
}

async function eventually(fn: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (fn()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The three components on one Redis URL, closed by `close()`. */
function components(url: string, logger: object | false | undefined) {
  const o = logger === undefined ? {} : { logger: logger as never };
  const cache = createCache({ namespace: `ferrytest:announce:${process.pid}`, redis: url, ...o });
  const limiter = createRateLimiter({ redis: url, points: 5, duration: '1s', keyPrefix: 'ferrytest-announce', ...o });
  const sessions = createSessionStore({ redis: url, ttl: '1m', prefix: 'ferrytest-announce', ...o });
  return {
    cache,
    limiter,
    sessions,
    close: () => Promise.all([cache.close(), limiter.close(), sessions.close()]),
  };
}

const WHAT = [
  /createCache ".*": .*reads go to the loader/,
  /createRateLimiter ".*": .*per process/,
  /createSessionStore: .*E_SESSION_UNAVAILABLE/,
];

describe('Redis on a closed port', () => {
  it('without a logger: one process warning per component, however many retries, with the URL redacted', async () => {
    const port = await sparePort();
    const url = `redis://:hunter2@127.0.0.1:${port}`;
    const warnings = await processWarnings(async () => {
      const c = components(url, undefined);
      // Calls still work (and retry Redis underneath) meanwhile.
      expect(await c.cache.getOrSet('k', () => 'loaded')).toBe('loaded');
      expect((await c.limiter.consume('k')).allowed).toBe(true);
      await sleep(2_500); // the cache probes every second, ioredis reconnects every 50-2,000 ms
      expect((await c.limiter.consume('k')).allowed).toBe(true);
      expect(c.cache.stats().breaker).not.toBe('closed');
      await c.close();
    });
    expect(warnings.map((w) => w.code)).toEqual(Array(3).fill('FERRY_REDIS_UNAVAILABLE'));
    for (const re of WHAT) expect(warnings.filter((w) => re.test(w.message))).toHaveLength(1);
    for (const w of warnings) {
      expect(w.message).toContain(`redis://:****@127.0.0.1:${port}`);
      expect(w.message).not.toContain('hunter2');
      expect(w.message).toMatch(/ECONNREFUSED/);
    }
  }, 15_000);

  it('with a logger: one warn line each, and no process warning; logger: false: nothing', async () => {
    const port = await sparePort();
    const { said, logger } = recorder();
    const warnings = await processWarnings(async () => {
      const c = components(`redis://127.0.0.1:${port}`, logger);
      const quiet = components(`redis://127.0.0.1:${port}`, false);
      await sleep(2_500);
      await Promise.all([c.close(), quiet.close()]);
    });
    expect(warnings).toEqual([]);
    expect(said.map((s) => [s.level, s.code])).toEqual(Array(3).fill(['warn', 'FERRY_REDIS_UNAVAILABLE']));
    for (const re of WHAT) expect(said.filter((s) => re.test(s.msg))).toHaveLength(1);
  }, 15_000);
});

describe('Redis going away and coming back', () => {
  let own: OwnRedis;
  beforeAll(async () => {
    own = await startRedisServer();
  });
  afterAll(() => own?.stop());

  it('fine at start: silent; killed: one warning each; back: one info each; killed again: one warning each', async () => {
    const { said, logger } = recorder();
    const c = components(own.url, logger);
    try {
      expect(await c.cache.ready()).toBe(true);
      expect((await c.limiter.consume('k')).allowed).toBe(true);
      await c.sessions.create('u1', {});
      expect(said).toEqual([]);

      const count = (level: string, code: string) => said.filter((s) => s.level === level && s.code === code).length;
      for (let round = 1; round <= 2; round++) {
        await own.kill();
        await eventually(
          () => count('warn', 'FERRY_REDIS_UNAVAILABLE') === 3 * round,
          5_000,
          `warnings, round ${round}`,
        );
        await sleep(1_500); // retries and probes fail meanwhile: nothing more is said
        expect(count('warn', 'FERRY_REDIS_UNAVAILABLE')).toBe(3 * round);
        if (round === 2) break;
        await own.restart();
        await eventually(() => count('info', 'FERRY_REDIS_AVAILABLE') === 3, 8_000, 'recovery lines');
        expect(await c.cache.ready()).toBe(true);
        for (const re of [/createCache/, /createRateLimiter/, /createSessionStore/]) {
          expect(said.filter((s) => s.code === 'FERRY_REDIS_AVAILABLE' && re.test(s.msg))).toHaveLength(1);
        }
      }
      expect(said.map((s) => s.code)).toEqual([
        ...Array(3).fill('FERRY_REDIS_UNAVAILABLE'),
        ...Array(3).fill('FERRY_REDIS_AVAILABLE'),
        ...Array(3).fill('FERRY_REDIS_UNAVAILABLE'),
      ]);
    } finally {
      await own.restart().catch(() => {});
      await c.close();
    }
  }, 40_000);

  it("a session store closed before the app's own client loses Redis says nothing", async () => {
    const { said, logger } = recorder();
    const client = new Redis(own.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    const sessions = createSessionStore({ redis: client, ttl: '1m', prefix: 'ferrytest-announce-own', logger });
    try {
      await sessions.create('u1', {});
      await sessions.close(); // the client is the app's: it stays open and keeps reconnecting
      await own.kill();
      await eventually(() => client.status === 'reconnecting', 5_000, 'the client to notice');
      await sleep(300);
      expect(said).toEqual([]);
    } finally {
      await own.restart();
      client.disconnect();
    }
  }, 20_000);

  it('a hung Redis (SIGSTOP) is announced by the cache once its breaker opens, and its return once', async () => {
    const { said, logger } = recorder();
    const cache = createCache({ namespace: `ferrytest:announce-hang:${process.pid}`, redis: own.url, logger });
    try {
      expect(await cache.ready()).toBe(true);
      own.pause();
      // Reads time out (100 ms) and go to the loader; three in a row open the breaker.
      for (let i = 0; i < 5; i++) expect(await cache.getOrSet(`k${i}`, () => i)).toBe(i);
      await eventually(() => said.length === 1, 3_000, 'the warning');
      await sleep(1_500); // failed probes meanwhile
      expect(said.map((x) => [x.level, x.code])).toEqual([['warn', 'FERRY_REDIS_UNAVAILABLE']]);
      expect(said[0]!.msg).toMatch(
        /createCache ".*": Redis at redis:\/\/127.0.0.1:\d+ is unavailable \(.*timed out.*\); reads go to the loader/,
      );
      own.resume();
      await eventually(() => said.length === 2, 8_000, 'the recovery line');
      expect(said[1]).toMatchObject({ level: 'info', code: 'FERRY_REDIS_AVAILABLE' });
    } finally {
      own.resume();
      await cache.close();
    }
  }, 20_000);
});
