/**
 * Issue 14: /livez and /readyz as Kubernetes' endpoints answer, served by a
 * real node:http server, with the database up and down, Redis up, killed and
 * paused (a redis-server of the test's own), and while shutting down.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCache } from '../../src/cache/index.js';
import { connect, type Ferry } from '../../src/index.js';
import { type Health, health } from '../../src/ops/health.js';
import { createRedisClient } from '../../src/redis/connection.js';
import { createSessionStore } from '../../src/sessions/index.js';
import { describeEachBackend } from '../support/backends.js';
import { startProxy } from '../support/redis-proxy.js';
import { type OwnRedis, startRedisServer } from '../support/redis-server.js';

interface Answer {
  status: number;
  type: string;
  body: string;
}

/** Serve `h` on a loopback port for the test, and GET from it. */
async function serve(handler: http.RequestListener) {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<Answer>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }),
          );
        })
        .on('error', reject);
    });
  return { server, port, get, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const scratch = mkdtempSync(join(tmpdir(), 'ferry-health-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A migrations folder with one migration creating `t_<n>`. */
function migrationsDir(name: string): string {
  const dir = join(scratch, name);
  mkdirSync(join(dir, '20240101000000_a'), { recursive: true });
  writeFileSync(join(dir, '20240101000000_a', 'up.sql'), `create table health_${name} (id int);\n`);
  writeFileSync(join(dir, '20240101000000_a', 'down.sql'), `drop table health_${name};\n`);
  return dir;
}

describeEachBackend('health: /livez and /readyz', { pgbouncer: true }, (t) => {
  let ferry: Ferry<unknown>;
  let h: Health;
  let http0: Awaited<ReturnType<typeof serve>>;
  const dir = migrationsDir(`m${Math.random().toString(36).slice(2, 8)}`);

  beforeAll(async () => {
    ferry = (await connect({ url: t.url(), directUrl: t.directUrl() })) as Ferry<unknown>;
    h = health(ferry, { migrations: dir });
    http0 = await serve(h.handler);
  });
  afterAll(async () => {
    await http0?.close();
    await ferry?.close().catch(() => {});
  });
  // One to shut down: on PGlite the suite's data dir can have one handle only, so an in-memory one.
  const ownFerry = async () =>
    (await connect({ url: t.backend === 'pglite' ? 'memory://' : t.url() })) as Ferry<unknown>;

  it('livez is 200 ok and touches nothing; readyz lists each check and fails on pending migrations', async () => {
    expect(await http0.get('/livez')).toMatchObject({ status: 200, body: 'ok\n' });
    const pending = await http0.get('/readyz');
    expect(pending.status).toBe(503);
    expect(pending.body).toContain(`[+]${ferry.backend} ok`);
    expect(pending.body).toMatch(/^\[\+\]pool ok: \d+ busy, \d+ idle, 0 waiting of \d+$/m);
    expect(pending.body).toContain('[-]migrations failed: 1 pending (20240101000000_a)');
    expect(pending.body.trim().split('\n').at(-1)).toBe('readyz check failed');

    await ferry.migrate(dir);
    expect(await http0.get('/readyz')).toMatchObject({ status: 200, body: 'ok\n' });
    const verbose = await http0.get('/readyz?verbose');
    expect(verbose.body).toContain('[+]migrations ok: 1 applied, none pending');
    expect(verbose.body.trim().split('\n').at(-1)).toBe('readyz check passed');
  });

  it('Accept: application/json (or ?format=json) gives the report as JSON', async () => {
    for (const answer of [
      await http0.get('/readyz', { accept: 'application/json' }),
      await http0.get('/readyz?format=json'),
    ]) {
      expect(answer.type).toMatch(/^application\/json/);
      const report = JSON.parse(answer.body);
      expect(report).toMatchObject({ status: 'ok', ready: true, draining: false });
      expect(report.checks.map((c: { name: string }) => c.name)).toEqual([ferry.backend, 'pool', 'migrations']);
    }
  });

  it('a failing critical check of the app makes it unready; a non-critical one only degraded', async () => {
    const custom = health(ferry, {
      checks: [
        { name: 'queue', critical: false, run: () => Promise.reject(new Error('broker slow')) },
        { name: 'disk', run: () => 'ok: 12 GB free' },
      ],
    });
    const degraded = await custom.ready();
    expect(degraded).toMatchObject({ status: 'degraded', ready: true });
    expect((await custom.respond('/readyz?verbose'))?.body).toContain('[-]queue degraded: broker slow');
    expect((await custom.respond('/readyz?verbose'))?.body).toContain('readyz check passed (degraded: queue)');
    const failing = health(ferry, { checks: [{ name: 'disk', run: () => Promise.reject(new Error('full')) }] });
    const answer = await failing.respond('/readyz');
    expect(answer?.status).toBe(503);
    expect(answer?.body).toContain('[-]disk failed: full');
  });

  it('as Express/Connect middleware: other paths go to next()', async () => {
    const app = await serve((req, res) =>
      h.handler(req, res, () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('app\n');
      }),
    );
    try {
      expect((await app.get('/hello')).body).toBe('app\n');
      expect((await app.get('/livez')).body).toBe('ok\n');
    } finally {
      await app.close();
    }
    expect((await http0.get('/nope')).status).toBe(404);
  });

  it('shutdown: readiness turns 503 at once, in-flight work finishes, then the pools close', async () => {
    const own = await ownFerry();
    const oh = health(own);
    expect((await oh.ready()).ready).toBe(true);
    let closedResource = false;
    own.onShutdown({ close: () => (closedResource = true) });
    const inFlight = own.transaction(async (tx) => {
      await sql`select pg_sleep(0.3)`.execute(tx.db);
      return 'done';
    });
    const stopping = own.shutdown({ signal: 'SIGTERM', drain: '30s' });
    expect(own.draining).toBe(true);
    const during = await oh.respond('/readyz');
    expect(during?.status).toBe(503);
    expect(during?.body).toContain('[-]shutdown failed: draining');
    // livez stays 200: a draining pod must not be restarted.
    expect((await oh.respond('/livez'))?.status).toBe(200);
    await expect(inFlight).resolves.toBe('done');
    const report = await stopping;
    expect(report).toMatchObject({ signal: 'SIGTERM', drained: true, busyAtClose: 0, errors: [] });
    expect(closedResource).toBe(true);
    await expect(own.ping()).rejects.toMatchObject({ code: 'E_CLOSED' });
    // A second call (a second signal) is the same shutdown.
    await expect(own.shutdown()).resolves.toBe(report);
  });

  it('shutdown stops HTTP servers after requests being served are answered', async () => {
    const own = await ownFerry();
    let started!: () => void;
    const serving = new Promise<void>((resolve) => {
      started = resolve;
    });
    const app = await serve(async (_req, res) => {
      started();
      const r = await sql<{ v: number }>`select 7 as v from pg_sleep(0.2)`.execute(own.db);
      res.end(String(r.rows[0]?.v));
    });
    const request = app.get('/slow');
    await serving;
    const report = await own.shutdown({ servers: [app.server] });
    expect(await request).toMatchObject({ status: 200, body: '7' });
    expect(report.drained).toBe(true);
    await expect(app.get('/after')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('health: dependencies down or hung', () => {
  let redis: OwnRedis;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(() => redis?.stop());

  it('Postgres cut off: readyz 503 naming the error, the password never shown; hung: timed out; back: ok', async () => {
    const proxy = await startProxy({ host: '127.0.0.1', port: 5432 });
    const ferry = await connect({ url: `postgres://postgres:hunter2hunter2@127.0.0.1:${proxy.port}/test` });
    try {
      const h = health(ferry, { timeout: 300 });
      expect((await h.respond('/readyz'))?.status).toBe(200);
      proxy.cut();
      const answer = await h.respond('/readyz');
      expect(answer?.status).toBe(503);
      expect(answer?.body).toMatch(/\[-\]postgres failed: .*(terminated|refused|connect|closed)/i);
      expect(answer?.body).not.toContain('hunter2');
      proxy.restore();
      await vi.waitFor(async () => expect((await h.respond('/readyz'))?.status).toBe(200), { timeout: 10_000 });
      proxy.stall(true);
      const hung = await h.respond('/readyz');
      expect(hung?.status).toBe(503);
      expect(hung?.body).toContain('[-]postgres failed: timed out after 300 ms');
    } finally {
      proxy.stall(false);
      proxy.cut();
      await ferry.close();
      await proxy.close();
    }
  });

  it('a Redis the app pings: degraded when killed, timed out (not hung) when paused, ok when back', {
    timeout: 60_000,
  }, async () => {
    const ferry = await connect({ url: 'memory://' });
    const client = createRedisClient(redis.url, { what: 'health test' });
    try {
      const h = health(ferry, { redis: client, timeout: 300 });
      expect(await h.ready()).toMatchObject({ status: 'ok' });

      redis.pause();
      const hung = await h.ready();
      expect(hung).toMatchObject({ status: 'degraded', ready: true });
      expect(hung.checks.find((c) => c.name === 'redis')?.message).toBe('timed out after 300 ms');
      redis.resume();
      await vi.waitFor(async () => expect((await h.ready()).status).toBe('ok'), { timeout: 10_000 });

      await redis.kill();
      await vi.waitFor(async () => {
        const r = await h.respond('/readyz?verbose');
        expect(r?.status).toBe(200);
        expect(r?.body).toMatch(/\[-\]redis degraded: .*(ECONNREFUSED|not connected|closed)/i);
      });
      // Critical when the app says so.
      const strict = health(ferry, { redis: { client, critical: true }, timeout: 300 });
      expect((await strict.respond('/readyz'))?.status).toBe(503);

      await redis.restart();
      await vi.waitFor(async () => expect((await h.ready()).status).toBe('ok'), { timeout: 10_000 });
    } finally {
      client.disconnect();
      await ferry.close();
    }
  });

  it('a cache whose Redis is down is degraded, not unready; sessions without persist are unready', {
    timeout: 60_000,
  }, async () => {
    const ferry = await connect({ url: 'memory://' });
    const cache = createCache({ namespace: `health-${Date.now()}`, redis: redis.url, breaker: { breakMs: 200 } });
    const sessions = createSessionStore({ redis: redis.url, ttl: '1h', prefix: `health-${Date.now()}` });
    try {
      const h = health(ferry, { cache, sessions });
      await cache.ready(5_000);
      await sessions.create('u1', {});
      expect(await h.ready()).toMatchObject({ status: 'ok' });
      await redis.kill();
      await vi.waitFor(
        async () => {
          await cache.get('k').catch(() => {});
          const r = await h.ready();
          expect(r.checks.find((c) => c.name === 'cache')?.status).toBe('degraded');
          expect(r.checks.find((c) => c.name === 'sessions')?.status).toBe('failed');
        },
        { timeout: 10_000 },
      );
      const answer = await h.respond('/readyz?verbose');
      expect(answer?.status).toBe(503);
      expect(answer?.body).toContain('[-]sessions failed: Redis down: sessions are unavailable');
      expect(answer?.body).toMatch(/\[-\]cache degraded: (Redis breaker|invalidation bus)/);
    } finally {
      await sessions.close();
      await cache.close();
      await ferry.close();
      await redis.restart().catch(() => {});
    }
  });
});
