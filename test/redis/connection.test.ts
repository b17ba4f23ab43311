/**
 * The one Redis connection factory: URL forms (redis://, rediss://, unix://),
 * an app's client reused as is, and E_REDIS_URL for anything else, with the
 * password never shown. The unix socket case runs a real redis-server on a
 * socket of its own.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache } from '../../src/cache/index.js';
import { FerryError } from '../../src/errors.js';
import { createRateLimiter } from '../../src/rate-limit/index.js';
import { isRedisClient, openRedis, parseRedisUrl } from '../../src/redis/connection.js';
import { E_REDIS_URL } from '../../src/redis/errors.js';
import { createSessionStore } from '../../src/sessions/index.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

function expectUrlError(fn: () => unknown, secret?: string): FerryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    expect((err as FerryError).code).toBe(E_REDIS_URL);
    if (secret) expect((err as Error).message).not.toContain(secret);
    return err as FerryError;
  }
  throw new Error('expected E_REDIS_URL');
}

describe('parseRedisUrl', () => {
  it('reads host, port, db, user and password of redis:// and adds TLS for rediss://', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6380/2')).toEqual({ host: '127.0.0.1', port: 6380, db: 2 });
    expect(parseRedisUrl('redis://localhost')).toEqual({ host: 'localhost', port: 6379 });
    expect(parseRedisUrl('rediss://default:p%40ss@cache.example.com:6380')).toEqual({
      host: 'cache.example.com',
      port: 6380,
      username: 'default',
      password: 'p@ss',
      tls: {},
    });
    expect(parseRedisUrl('redis://[::1]:6379')).toMatchObject({ host: '::1' });
    expect(parseRedisUrl('redis://h:1?family=6')).toMatchObject({ family: 6 });
  });

  it('reads a unix socket path (and db) from unix://', () => {
    expect(parseRedisUrl('unix:///var/run/redis/redis.sock')).toEqual({ path: '/var/run/redis/redis.sock' });
    expect(parseRedisUrl('unix:///tmp/r.sock?db=3')).toEqual({ path: '/tmp/r.sock', db: 3 });
  });

  it('refuses other schemes, malformed URLs and a unix:// URL without a socket path: E_REDIS_URL without the password', () => {
    expectUrlError(() => parseRedisUrl('http://u:s3cret@host'), 's3cret');
    expectUrlError(() => parseRedisUrl('redis://u:s3cret@ho st:zz/'), 's3cret');
    expectUrlError(() => parseRedisUrl('redis://u:s3cret@host/notadb'), 's3cret');
    expectUrlError(() => parseRedisUrl('unix://'));
    expectUrlError(() => parseRedisUrl('unix:///tmp/r.sock?db=x'));
    expect(expectUrlError(() => parseRedisUrl('postgres://x')).message).toMatch(/unix:\/\//);
  });
});

describe('openRedis', () => {
  it('null/false: no Redis; undefined: REDIS_URL of env, else none', async () => {
    expect(openRedis(null)).toBeNull();
    expect(openRedis(false)).toBeNull();
    expect(openRedis(undefined, { env: {} })).toBeNull();
    const c = openRedis(undefined, { env: { REDIS_URL } })!;
    try {
      expect(c.owned).toBe(true);
      expect(await c.client.ping()).toBe('PONG');
    } finally {
      await c.close();
    }
  });

  it('a URL: a client Ferry owns, closed by close(); the shown URL and secrets carry the password masked', async () => {
    const c = openRedis(REDIS_URL);
    const withPassword = openRedis('redis://default:hunter2@127.0.0.1:1', { mode: 'once' })!;
    try {
      expect(c?.owned).toBe(true);
      expect(await c!.client.ping()).toBe('PONG');
      expect(withPassword.shown).toBe('redis://default:****@127.0.0.1:1');
      expect(withPassword.secrets).toContain('hunter2');
    } finally {
      await c!.close();
      await withPassword.close();
    }
    for (let i = 0; i < 200 && c!.client.status !== 'end'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(c!.client.status).toBe('end');
  });

  it("an app's client is used as is and never closed", async () => {
    const mine = new Redis(REDIS_URL);
    try {
      expect(isRedisClient(mine)).toBe(true);
      const c = openRedis(mine)!;
      expect(c.client).toBe(mine);
      expect(c.owned).toBe(false);
      expect(c.shown).toBe('(ioredis client)');
      await c.close();
      expect(await mine.ping()).toBe('PONG');
      // The cache, the sessions and the rate limits leave it open too.
      const cache = createCache({ namespace: `ferrytest:conn:${process.pid}`, redis: mine });
      expect(await cache.ready()).toBe(true);
      await cache.close();
      const store = createSessionStore({ redis: mine, ttl: '1m' });
      await store.close();
      const limiter = createRateLimiter({ redis: mine, points: 1, duration: '1s' });
      await limiter.close();
      expect(await mine.ping()).toBe('PONG');
    } finally {
      mine.disconnect();
    }
  });

  it('anything else is E_REDIS_URL, from every component alike', () => {
    expectUrlError(() => openRedis({} as never));
    expectUrlError(() => openRedis('http://:s3cret@localhost:6379'), 's3cret');
    expectUrlError(() => createCache({ namespace: 'x', redis: 'http://:s3cret@h' }), 's3cret');
    expectUrlError(() => createSessionStore({ redis: 'ftp://h', ttl: '1m' }));
    expectUrlError(() => createRateLimiter({ redis: 'redis://h/x', points: 1, duration: '1s' }));
    expectUrlError(() => createCache({ namespace: 'x', redis: 42 as never }));
  });
});

describe('a Redis on a unix socket', () => {
  let dir: string;
  let sock: string;
  let server: ChildProcess;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ferry-redis-'));
    sock = path.join(dir, 'redis.sock');
    server = spawn('redis-server', ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis({ path: sock, lazyConnect: true, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        probe.disconnect();
        break;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error('redis-server on a unix socket did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  afterAll(() => {
    server?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is reached through unix:// by the factory, the cache, the sessions and the rate limits', async () => {
    const url = `unix://${sock}`;
    const c = openRedis(url)!;
    expect(await c.client.ping()).toBe('PONG');
    expect(c.client.options).toMatchObject({ path: sock });
    await c.close();

    const cache = createCache({ namespace: 'ferrytest:unix', redis: url });
    expect(await cache.ready()).toBe(true);
    await cache.set('a', 1);
    await cache.close();

    const store = createSessionStore({ redis: url, ttl: '1m' });
    const s = await store.create('u1', { n: 1 });
    expect((await store.get(s.id))?.data).toEqual({ n: 1 });
    await store.close();

    const limiter = createRateLimiter({ redis: url, points: 1, duration: '10s', keyPrefix: 'ferrytest-unix' });
    expect((await limiter.consume('k')).allowed).toBe(true);
    expect((await limiter.consume('k')).allowed).toBe(false);
    await limiter.close();

    const raw = new Redis({ path: sock });
    try {
      expect(await raw.exists('ferrytest:unix~v:a')).toBe(1);
      expect(await raw.get('ferrytest-unix:k')).toBe('2');
    } finally {
      raw.disconnect();
    }
  });
});
