/**
 * Session store contract, run on every implementation: in-memory, Redis, and
 * Redis + Postgres / Postgres alone on both database backends. Real Redis at
 * REDIS_URL (default redis://127.0.0.1:6379), never mocked, never stopped:
 * each test has its own key prefix and deletes its keys; outages use a TCP
 * proxy that is cut.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createStatements } from '../../src/schema/ddl.js';
import { defineSchema } from '../../src/schema/schema.js';
import {
  createSessionStore,
  E_SESSION_ARGUMENT,
  E_SESSION_CLOSED,
  E_SESSION_CONFIG,
  E_SESSION_EXISTS,
  E_SESSION_NO_PERSIST,
  E_SESSION_UNAVAILABLE,
  type Session,
  type SessionStore,
  type SessionStoreOptions,
  sessionTables,
} from '../../src/sessions/index.js';
import { type BackendFixture, describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { closedPort, startProxy } from '../support/redis-proxy.js';
import { describeEachRedis } from '../support/redis-targets.js';
import { REDIS_URL, redisAdmin } from './support/redis-admin.js';

const RACE_ROUNDS = Number(process.env.FERRY_SESSION_RACE_ROUNDS || 200);
/** How far Redis's, Postgres's and this process's clocks may disagree (one host: one clock; ms rounding). */
const CLOCK_ALLOWANCE_MS = 10;

type Data = { n: number; tag?: string };
type Store = SessionStore<Data>;

const redis = redisAdmin();
const prefixes = redis.prefixes;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uid = () => `u${randomBytes(6).toString('hex')}`;
const newPrefix = () => {
  const p = `ferrytest:sess:${process.pid}:${randomBytes(4).toString('hex')}`;
  prefixes.push(p);
  return p;
};
/** A random yield: a macrotask, a few microtasks or nothing, so operations interleave differently each round. */
async function jitter(): Promise<void> {
  const r = Math.random();
  if (r < 0.3) await sleep(Math.floor(Math.random() * 3));
  else if (r < 0.7) for (let i = 0; i < Math.floor(Math.random() * 5); i++) await Promise.resolve();
}

interface Impl {
  /** Two handles on the same sessions (two Redis connections when there is Redis; the same store in memory). */
  open(options?: Partial<SessionStoreOptions>): Promise<{ a: Store; b: Store; prefix: string; close(): Promise<void> }>;
  /** Drop the fast-path copy of a session (forces a Postgres read-through), when there is one to drop. */
  evict?: (prefix: string, s: Session<Data>) => Promise<void>;
}

function contract(impl: Impl) {
  async function withStores<R>(
    options: Partial<SessionStoreOptions>,
    fn: (a: Store, b: Store, prefix: string) => Promise<R>,
  ): Promise<R> {
    const h = await impl.open(options);
    try {
      return await fn(h.a, h.b, h.prefix);
    } finally {
      await h.close();
    }
  }

  it('create, get, list; unknown ids are null', async () => {
    await withStores({ ttl: '60s' }, async (a, b) => {
      const u = uid();
      const before = Date.now();
      const s = await a.create(u, { n: 1 });
      expect(s.userId).toBe(u);
      expect(s.id).toBe(`${u}:${s.jti}`);
      expect(s.jti).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(s.data).toEqual({ n: 1 });
      expect(s.version).toBe(1);
      expect(s.expiresAt.getTime() - s.createdAt.getTime()).toBeGreaterThanOrEqual(59_000);
      expect(s.createdAt.getTime()).toBeGreaterThanOrEqual(before - 2000);
      const got = await b.get(s.id);
      expect(got).toMatchObject({ id: s.id, userId: u, jti: s.jti, data: { n: 1 }, version: 1 });
      expect(await b.get({ userId: u, jti: s.jti })).toMatchObject({ id: s.id });
      const s2 = await a.create(u, { n: 2 }, { jti: 'access-jti-0001' });
      expect(s2.id).toBe(`${u}:access-jti-0001`);
      await a.create(uid(), { n: 3 });
      expect((await b.list(u)).map((x) => x.id)).toEqual([s.id, s2.id]);
      expect(await b.get(`${u}:${'x'.repeat(32)}`)).toBeNull();
      expect(await b.get(`${uid()}:${s.jti}`)).toBeNull(); // the jti under another user
      expect(await b.list(uid())).toEqual([]);
      await expectFerryError(a.create(u, { n: 4 }, { jti: 'access-jti-0001' }), E_SESSION_EXISTS);
      // list is in creation order, even for sessions created within the same millisecond.
      const v = uid();
      const many = [];
      for (let i = 0; i < 10; i++) many.push(await a.create(v, { n: i }));
      expect((await b.list(v)).map((x) => x.id)).toEqual(many.map((x) => x.id));
    });
  });

  it('touch slides the expiry; an expired session is never returned', async () => {
    // Asserted on clocks read around each call, not on sleeps: a loaded machine may
    // delay any call past an expiry, so "must be alive" is checked only when the call
    // returned before the expiry it depends on (the store evaluated it before then).
    await withStores({ ttl: '1s' }, async (a, b) => {
      const u = uid();
      const s = await a.create(u, { n: 1 });
      await sleep(600);
      let after = 0;
      const t = await b.touch(s.id).finally(() => {
        after = Date.now();
      });
      if (after < s.expiresAt.getTime()) expect(t).not.toBeNull();
      if (t) {
        expect(t.expiresAt.getTime()).toBeGreaterThan(s.expiresAt.getTime() + 400);
        expect(t.lastActivityAt.getTime()).toBeGreaterThan(s.lastActivityAt.getTime());
        await sleep(Math.max(0, s.expiresAt.getTime() + 100 - Date.now())); // past the expiry without the touch
        const got = await a.get(s.id).finally(() => {
          after = Date.now();
        });
        if (after < t.expiresAt.getTime()) expect(got).not.toBeNull(); // alive only thanks to the touch
      }
      const last = t ?? s;
      await sleep(Math.max(0, last.expiresAt.getTime() + 100 - Date.now())); // no touch since
      expect(await a.get(s.id)).toBeNull();
      expect(await b.touch(s.id)).toBeNull();
      expect(await b.set(s.id, { n: 9 })).toBeNull();
      expect(await b.update(s.id, (d) => ({ n: d.n + 1 }))).toBeNull();
      expect(await a.list(u)).toEqual([]);
      expect(await a.get(s.id)).toBeNull(); // the writes above did not bring it back
    });
  });

  it('expiry is checked on every read, also between Redis expiry ticks (short ttl, many reads)', async () => {
    await withStores({ ttl: '300ms' }, async (a) => {
      const sessions = await Promise.all(Array.from({ length: 20 }, () => a.create(uid(), { n: 0 })));
      const deadline = Date.now() + 700;
      const late: string[] = [];
      // Load on purpose: now and then the event loop stalls for up to 80 ms (as on a busy machine), so some
      // replies reach us late; the contract must hold anyway.
      const stall = setInterval(() => {
        if (Math.random() > 0.3) return;
        const until = Date.now() + Math.random() * 80;
        while (Date.now() < until);
      }, 20);
      onTestFinished(() => clearInterval(stall));
      while (Date.now() < deadline) {
        for (const s of sessions) {
          // The clock is read before the call: the store checks expiry at some moment after this one, so a
          // session it returns expired after `asked`, however long the reply then takes to reach us on a
          // loaded machine (reading the clock after the await measured that delay too, and failed on one).
          // The allowance is for clocks (Redis's TIME, Postgres's now(), Date.now() on one host), not for load.
          const asked = Date.now();
          const got = await a.get(s.id);
          if (got && got.expiresAt.getTime() <= asked - CLOCK_ALLOWANCE_MS) {
            late.push(`${s.id} expired at ${got.expiresAt.toISOString()}, asked at ${new Date(asked).toISOString()}`);
          }
        }
      }
      clearInterval(stall);
      expect(late).toEqual([]);
      for (const s of sessions) expect(await a.get(s.id)).toBeNull();
    });
  });

  it('set replaces data; update is a compare-and-set (no lost updates)', async () => {
    await withStores({ ttl: '60s' }, async (a, b) => {
      const s = await a.create(uid(), { n: 0 });
      const set = await b.set(s.id, { n: 0, tag: 'x' });
      expect(set).toMatchObject({ data: { n: 0, tag: 'x' }, version: 2 });
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).update(s.id, (d) => ({ ...d, n: d.n + 1 }))),
      );
      expect(results.every((r) => r !== null)).toBe(true);
      const final = await a.get(s.id);
      expect(final!.data).toEqual({ n: 30, tag: 'x' });
      expect(final!.version).toBe(32);
    });
  });

  it('revoke is final: no touch, write or create with its jti brings it back', async () => {
    await withStores({ ttl: '60s' }, async (a, b) => {
      const u = uid();
      const s = await a.create(u, { n: 1 }, { jti: 'logout-me-1234' });
      const other = await a.create(u, { n: 2 });
      expect(await b.revoke(s.id)).toBe(true);
      expect(await b.revoke(s.id)).toBe(false);
      expect(await a.get(s.id)).toBeNull();
      expect(await a.touch(s.id)).toBeNull();
      expect(await a.set(s.id, { n: 5 })).toBeNull();
      expect(await a.update(s.id, (d) => ({ n: d.n + 1 }))).toBeNull();
      await expectFerryError(a.create(u, { n: 1 }, { jti: 'logout-me-1234' }), E_SESSION_EXISTS);
      expect(await a.get(s.id)).toBeNull();
      expect(await b.get(other.id)).not.toBeNull();
      expect((await a.list(u)).map((x) => x.id)).toEqual([other.id]);
    });
  });

  it(`revoke racing touch/set/update (${RACE_ROUNDS} randomised interleavings, two connections): once revoke resolves, the session is gone for good`, async () => {
    await withStores({ ttl: '60s' }, async (a, b, prefix) => {
      const violations: string[] = [];
      const rounds = Array.from({ length: RACE_ROUNDS }, (_, i) => i);
      // Rounds run 20 at a time so they interleave with each other too.
      for (let from = 0; from < rounds.length; from += 20) {
        await Promise.all(
          rounds.slice(from, from + 20).map(async (round) => {
            const u = uid();
            const s = await a.create(u, { n: 0 });
            const writers = Array.from({ length: 1 + Math.floor(Math.random() * 6) }, async () => {
              const store = Math.random() < 0.5 ? a : b;
              for (let k = 0; k < 1 + Math.floor(Math.random() * 4); k++) {
                await jitter();
                const op = Math.random();
                if (op < 0.35) await store.touch(s.id);
                else if (op < 0.6) await store.set(s.id, { n: round, tag: 'set' });
                else if (op < 0.85) await store.update(s.id, (d) => ({ ...d, n: d.n + 1 }));
                else if (impl.evict && op < 0.95) await impl.evict(prefix, s);
                else await store.get(s.id);
              }
            });
            const revoker = (async () => {
              await jitter();
              await (Math.random() < 0.5 ? a : b).revoke(s.id);
              // Right after revoke resolves, while writers may still be running:
              for (const store of [a, b])
                if (await store.get(s.id)) violations.push(`round ${round}: live right after revoke`);
            })();
            await Promise.all([...writers, revoker]);
            for (const store of [a, b]) {
              if (await store.get(s.id)) violations.push(`round ${round}: live after the race`);
              if (await store.touch(s.id)) violations.push(`round ${round}: touch revived it`);
              if (await store.set(s.id, { n: -1 })) violations.push(`round ${round}: set revived it`);
            }
            if (impl.evict) await impl.evict(prefix, s);
            if (await b.get(s.id)) violations.push(`round ${round}: live after eviction (read-through)`);
          }),
        );
      }
      expect(violations).toEqual([]);
    });
  }, 120_000);

  it('revokeAllForUser racing creates: every session created before it started is dead, list agrees with get', async () => {
    await withStores({ ttl: '60s' }, async (a, b) => {
      const violations: string[] = [];
      for (let round = 0; round < 40; round++) {
        const u = uid();
        const early = await Promise.all(Array.from({ length: 3 }, () => a.create(u, { n: 0 })));
        const racing = Array.from({ length: 1 + Math.floor(Math.random() * 5) }, async () => {
          await jitter();
          return (Math.random() < 0.5 ? a : b).create(u, { n: 1 }).catch((err) => err as Error);
        });
        await jitter();
        await (Math.random() < 0.5 ? a : b).revokeAllForUser(u);
        for (const s of early) if (await b.get(s.id)) violations.push(`round ${round}: early session survived`);
        const created = (await Promise.all(racing)).filter((r): r is Session<Data> => !(r instanceof Error));
        const live = new Set((await b.list(u)).map((x) => x.id));
        for (const s of [...early, ...created]) {
          const got = (await a.get(s.id)) !== null;
          if (got !== live.has(s.id)) violations.push(`round ${round}: get and list disagree on ${s.id}`);
          if (got && early.includes(s)) violations.push(`round ${round}: early session live`);
        }
        // Sessions created after it resolved are live.
        const after = await a.create(u, { n: 2 });
        if (!(await b.get(after.id))) violations.push(`round ${round}: a new session after revokeAll is dead`);
      }
      expect(violations).toEqual([]);
    });
  }, 60_000);

  it('session data over maxDataBytes (default 64 KB of JSON) is refused by create, set and update, naming size and limit', async () => {
    await withStores({ ttl: '60s' }, async (a, b) => {
      const u = uid();
      const huge = { n: 1, tag: 'x'.repeat(10 * 1024 * 1024) }; // 10 MB: accepted before
      const err = await expectFerryError(a.create(u, huge), E_SESSION_ARGUMENT);
      expect(err.message).toMatch(/10485\d{3} bytes of JSON, over the limit of 65536 \(maxDataBytes\)/);
      expect(err.details).toMatchObject({ maxBytes: 65536 });
      expect(await b.list(u)).toEqual([]);
      const s = await a.create(u, { n: 1, tag: 'x'.repeat(65_000) }); // under the limit
      const atLimit = { n: 1, tag: 'é'.repeat(32_700) }; // 65 416 bytes of UTF-8 in 32 716 characters
      expect((await a.set(s.id, atLimit))?.version).toBe(2);
      await expectFerryError(b.set(s.id, { n: 2, tag: 'é'.repeat(32_800) }), E_SESSION_ARGUMENT); // 65 616 bytes
      await expectFerryError(
        b.update(s.id, (d) => ({ ...d, tag: `${d.tag}${'x'.repeat(200)}` })),
        E_SESSION_ARGUMENT,
      );
      expect(await b.get(s.id)).toMatchObject({ version: 2, data: atLimit }); // nothing was written
    });
    await withStores({ ttl: '60s', maxDataBytes: 100 }, async (a) => {
      const s = await a.create(uid(), { n: 1, tag: 'x'.repeat(50) });
      await expectFerryError(a.set(s.id, { n: 1, tag: 'x'.repeat(100) }), E_SESSION_ARGUMENT);
    });
    for (const maxDataBytes of [0, -1, 1.5, Number.NaN, '64kb' as never]) {
      expect(() => createSessionStore({ redis: null, ttl: '1s', maxDataBytes })).toThrow(
        expect.objectContaining({ code: E_SESSION_CONFIG, message: expect.stringMatching(/maxDataBytes/) }),
      );
    }
  });

  it('rejects bad ids, user ids and data with E_SESSION_* codes; closed stores refuse work', async () => {
    const h = await impl.open({ ttl: '60s' });
    const { a } = h;
    await expectFerryError(a.get('no-colon'), E_SESSION_ARGUMENT);
    await expectFerryError(a.get('u:short'), E_SESSION_ARGUMENT);
    await expectFerryError(a.create('has space', { n: 1 }), E_SESSION_ARGUMENT);
    await expectFerryError(a.create('{tag}', { n: 1 }), E_SESSION_ARGUMENT);
    await expectFerryError(a.create('u1', { n: 1 }, { jti: 'bad jti!' }), E_SESSION_ARGUMENT);
    await expectFerryError(a.create('u1', { n: 1n } as never), E_SESSION_ARGUMENT);
    await h.close();
    await expectFerryError(a.get(`u1:${'x'.repeat(32)}`), E_SESSION_CLOSED);
  });
}

// ---------------------------------------------------------------- implementations

describe('session store: in memory', () => {
  contract({
    async open(options) {
      const store = createSessionStore<Data>({ redis: null, ttl: '60s', ...options });
      return { a: store, b: store, prefix: '', close: () => store.close() };
    },
  });
});

// On the shared Redis and on a Redis Cluster of this file's own.
describeEachRedis('session store: Redis', (t) => {
  contract({
    async open(options) {
      const prefix = newPrefix();
      const a = createSessionStore<Data>({ redis: t.url(), ttl: '60s', prefix, ...options });
      const b = createSessionStore<Data>({ redis: t.url(), ttl: '60s', prefix, ...options });
      return { a, b, prefix, close: async () => void (await Promise.all([a.close(), b.close()])) };
    },
  });

  it('keeps the seeds key layout (sess:{user}:<jti>) with a TTL, a tombstone after revoke, a generation after revokeAll', async () => {
    const prefix = newPrefix();
    const store = createSessionStore<Data>({ redis: t.url(), ttl: '30s', prefix });
    try {
      const s = await store.create('42', { n: 1 });
      const key = `${prefix}:{42}:${s.jti}`;
      expect(await t.raw().hget(key, 'd')).toBe('{"n":1}');
      const ttl = await t.raw().pttl(key);
      expect(ttl).toBeGreaterThan(29_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
      await store.revoke(s.id);
      expect(await t.raw().exists(key)).toBe(0);
      expect(await t.raw().pttl(`${key}~revoked`)).toBeGreaterThanOrEqual(59_000);
      await store.create('42', { n: 1 });
      await store.revokeAllForUser('42');
      expect(await t.raw().get(`${prefix}:{42}:~gen`)).toBe('1');
      expect(await t.raw().exists(`${prefix}:{42}:~index`)).toBe(0);
      // A session written back by hand with the old generation is not served.
      await t
        .raw()
        .hset(key, 'd', '{"n":1}', 'c', Date.now(), 'a', Date.now(), 'e', Date.now() + 60_000, 'g', 0, 'v', 1);
      await t.raw().del(`${key}~revoked`);
      expect(await store.get(s.id)).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('Redis unreachable without persistence: fails with E_SESSION_UNAVAILABLE, never serves a session', async () => {
    const port = await closedPort();
    const store = createSessionStore<Data>({ redis: `redis://127.0.0.1:${port}`, ttl: '60s', prefix: newPrefix() });
    try {
      await expectFerryError(store.create('u1', { n: 1 }), E_SESSION_UNAVAILABLE);
      await expectFerryError(store.get(`u1:${'x'.repeat(32)}`), E_SESSION_UNAVAILABLE);
      await expectFerryError(store.revoke(`u1:${'x'.repeat(32)}`), E_SESSION_UNAVAILABLE);
    } finally {
      await store.close();
    }
  });

  it('refresh tokens need persistence; bad options are E_SESSION_CONFIG', async () => {
    expect(() => createSessionStore({ redis: null, ttl: 0 })).toThrow(
      expect.objectContaining({ code: E_SESSION_CONFIG }),
    );
    expect(() => createSessionStore({ redis: null, ttl: '1s', prefix: 'a b' })).toThrow(
      expect.objectContaining({ code: E_SESSION_CONFIG }),
    );
    for (const outboxPollMs of [0, -5, 'soon' as never]) {
      expect(() => createSessionStore({ redis: null, ttl: '1s', persist: { db: {} as never, outboxPollMs } })).toThrow(
        expect.objectContaining({ code: E_SESSION_CONFIG, message: expect.stringMatching(/outboxPollMs/) }),
      );
    }
    const store = createSessionStore({ redis: null, ttl: '1s' });
    await expectFerryError(store.issueRefreshToken('u1'), E_SESSION_NO_PERSIST);
    await store.close();
  });
});

// ---------------------------------------------------------------- persistence

const tables = sessionTables();

async function createTables(t: BackendFixture) {
  const handle = await t.open();
  for (const statement of createStatements(defineSchema(tables).toIR())) await sql.raw(statement).execute(handle.db);
  return handle.db;
}

describeEachBackend('session store: Redis + Postgres', (t) => {
  let db: Awaited<ReturnType<typeof createTables>>;
  beforeAll(async () => {
    db = await createTables(t);
  });

  contract({
    async open(options) {
      const prefix = newPrefix();
      const persist = { db, sessions: tables.sessions, refreshTokens: tables.refreshTokens };
      const a = createSessionStore<Data>({ redis: REDIS_URL, ttl: '60s', prefix, persist, ...options });
      const b = createSessionStore<Data>({ redis: REDIS_URL, ttl: '60s', prefix, persist, ...options });
      return { a, b, prefix, close: async () => void (await Promise.all([a.close(), b.close()])) };
    },
    async evict(prefix, s) {
      await redis.client.del(`${prefix}:{${s.userId}}:${s.jti}`);
    },
  });

  it('writes sessions through to Postgres; revocation is durable there; a Redis miss reads through and refills', async () => {
    const prefix = newPrefix();
    const store = createSessionStore<Data>({ redis: REDIS_URL, ttl: '60s', prefix, persist: { db } });
    try {
      const u = uid();
      const s = await store.create(u, { n: 1 });
      const row = await db.selectFrom('sessions').selectAll().where('access_jti', '=', s.jti).executeTakeFirstOrThrow();
      expect(row).toMatchObject({ user_id: u, data: { n: 1 }, revoked: false });
      expect(Math.abs(new Date(row.expires_at).getTime() - s.expiresAt.getTime())).toBeLessThan(2000);
      await store.set(s.id, { n: 2 });
      expect(
        await db.selectFrom('sessions').select(['data', 'version']).where('access_jti', '=', s.jti).executeTakeFirst(),
      ).toEqual({ data: { n: 2 }, version: 2 });

      const key = `${prefix}:{${u}}:${s.jti}`;
      await redis.client.del(key); // Redis lost it (eviction, restart without persistence...)
      expect((await store.get(s.id))?.data).toEqual({ n: 2 });
      expect(await redis.client.exists(key)).toBe(1);

      await store.revoke(s.id);
      expect(
        await db.selectFrom('sessions').select('revoked').where('access_jti', '=', s.jti).executeTakeFirst(),
      ).toEqual({
        revoked: true,
      });
      await redis.client.del(key, `${key}~revoked`); // even with Redis wiped, Postgres says no
      expect(await store.get(s.id)).toBeNull();
      expect(await redis.client.exists(key)).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('Redis cut: served from Postgres; a revoke during the outage reaches Redis when it returns', async () => {
    const proxy = await startProxy();
    const prefix = newPrefix();
    const viaProxy = createSessionStore<Data>({
      redis: proxy.url,
      ttl: '60s',
      prefix,
      persist: { db },
      onError: () => {},
    });
    const direct = createSessionStore<Data>({ redis: REDIS_URL, ttl: '60s', prefix, persist: { db } });
    try {
      const u = uid();
      const s = await viaProxy.create(u, { n: 1 });
      expect(await direct.get(s.id)).not.toBeNull();
      proxy.cut();
      expect((await viaProxy.get(s.id))?.data).toEqual({ n: 1 });
      expect((await viaProxy.touch(s.id))?.data).toEqual({ n: 1 });
      expect((await viaProxy.update(s.id, (d) => ({ n: d.n + 1 })))?.data).toEqual({ n: 2 });
      const s2 = await viaProxy.create(u, { n: 7 }); // Postgres only for now
      expect(await viaProxy.revoke(s.id)).toBe(true);
      expect(await viaProxy.get(s.id)).toBeNull();
      expect(
        await db.selectFrom('sessions').select('revoked').where('access_jti', '=', s.jti).executeTakeFirst(),
      ).toEqual({
        revoked: true,
      });
      proxy.restore();
      // The pending invalidation lands once ioredis has reconnected.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (await redis.client.exists(`${prefix}:{${u}}:${s.jti}`))) await sleep(100);
      expect(await redis.client.exists(`${prefix}:{${u}}:${s.jti}`)).toBe(0);
      expect(await direct.get(s.id)).toBeNull();
      expect((await direct.get(s2.id))?.data).toEqual({ n: 7 }); // read through from Postgres
    } finally {
      await viaProxy.close();
      await direct.close();
      await proxy.close();
    }
  }, 30_000);

  it('refresh tokens: issue, rotate once, a replayed token revokes everything; revokeAllForUser revokes tokens', async () => {
    const store = createSessionStore<Data>({ redis: REDIS_URL, ttl: '60s', prefix: newPrefix(), persist: { db } });
    try {
      const u = uid();
      const s = await store.create(u, { n: 1 });
      const r1 = await store.issueRefreshToken(u, { session: s.id });
      expect(r1).toMatchObject({ userId: u, sessionId: s.id });
      const stored = await db.selectFrom('refresh_tokens').selectAll().where('user_id', '=', u).execute();
      expect(stored).toHaveLength(1);
      expect(JSON.stringify(stored)).not.toContain(r1.token); // only the hash is stored
      const [x, y] = await Promise.all([store.rotateRefreshToken(r1.token), store.rotateRefreshToken(r1.token)]);
      expect([x, y].filter(Boolean)).toHaveLength(1); // one concurrent rotation wins
      const r2 = (x ?? y)!;
      expect(r2.token).not.toBe(r1.token);
      // The losing rotation above presented an exchanged token: treated as theft, everything revoked.
      expect(await store.get(s.id)).toBeNull();
      expect(await store.rotateRefreshToken(r2.token)).toBeNull();

      const u2 = uid();
      const s2 = await store.create(u2, { n: 1 });
      const t2 = await store.issueRefreshToken(u2, { session: s2.id });
      const t3 = await store.rotateRefreshToken(t2.token);
      expect(t3).not.toBeNull();
      await store.revokeAllForUser(u2);
      expect(await store.rotateRefreshToken(t3!.token)).toBeNull();
      expect(await store.revokeRefreshToken('nope-nope-nope-nope')).toBe(false);
    } finally {
      await store.close();
    }
  });
});

describeEachBackend('session store: Postgres only', (t) => {
  let db: Awaited<ReturnType<typeof createTables>>;
  beforeAll(async () => {
    db = await createTables(t);
  });
  contract({
    async open(options) {
      const store = createSessionStore<Data>({ redis: null, ttl: '60s', persist: { db }, ...options });
      return { a: store, b: store, prefix: '', close: () => store.close() };
    },
  });
});
