/**
 * The revocation outbox (src/sessions/outbox.ts), in one process on both
 * database backends: a revocation that could not reach Redis is refused by
 * the other instances after one outbox poll, replayed into Redis by them
 * (per session, never a generation bump) and never served again; expired
 * rows are pruned; a missing outbox table is E_SESSION_CONFIG. Across OS
 * processes, with the revoker SIGKILLed: revocation-outage.test.ts.
 *
 * Real Redis at REDIS_URL (each test has its own key prefix); the revoking
 * instance is cut off through a TCP proxy. Asserted bounds are causal (poll
 * counts); wall-clock delays are printed.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { beforeAll, expect, it } from 'vitest';
import { createStatements } from '../../src/schema/ddl.js';
import { defineSchema } from '../../src/schema/schema.js';
import { createSessionStore, E_SESSION_CONFIG, type Session, sessionTables } from '../../src/sessions/index.js';
import { type BackendFixture, describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { startProxy } from '../support/redis-proxy.js';
import { REDIS_URL, redisAdmin } from './support/redis-admin.js';
import { sleep, until } from './support/wait.js';

type Data = { n: number };

const redis = redisAdmin();
const prefixes = redis.prefixes;

const uid = () => `u${randomBytes(6).toString('hex')}`;
const newPrefix = () => {
  const p = `ferrytest:sess-outbox:${process.pid}:${randomBytes(4).toString('hex')}`;
  prefixes.push(p);
  return p;
};

async function createTables(t: BackendFixture) {
  const handle = await t.open();
  for (const s of createStatements(defineSchema(sessionTables()).toIR())) await sql.raw(s).execute(handle.db);
  return handle.db;
}

describeEachBackend('session revocation outbox: Redis + Postgres', (t) => {
  let db: Awaited<ReturnType<typeof createTables>>;
  beforeAll(async () => {
    db = await createTables(t);
  });

  /** The user's Redis keys of a session: the record and its tombstone. */
  const keysOf = (prefix: string, s: Session<Data>) => {
    const key = `${prefix}:{${s.userId}}:${s.jti}`;
    return { key, tomb: `${key}~revoked` };
  };
  const outboxRows = async (jti: string) =>
    (await db.selectFrom('session_outbox').select('id').where('access_jti', '=', jti).execute()).length;

  for (const revoker of ['cut off from Redis', 'without Redis (redis: null)'] as const) {
    it(`a revocation by an instance ${revoker} is refused by the others after one outbox poll, reaches Redis through them, and never comes back`, async () => {
      const proxy = await startProxy();
      const prefix = newPrefix();
      const persist = { db, outboxPollMs: '100ms' as const };
      const a = createSessionStore<Data>({
        redis: revoker === 'cut off from Redis' ? proxy.url : null,
        ttl: '60s',
        prefix,
        persist,
        onError: () => {},
      });
      const b = createSessionStore<Data>({ redis: REDIS_URL, ttl: '60s', prefix, persist });
      try {
        const u = uid();
        const s = await b.create(u, { n: 1 });
        const other = await b.create(u, { n: 2 });
        expect(await b.touch(s.id)).not.toBeNull(); // in Redis, served from there
        proxy.cut();
        expect(await a.revoke(s.id)).toBe(true);
        // The revocation has committed. Reads by b that start after one whole poll of b that started after
        // this moment must refuse: the (committed + 2)th poll started after the (committed + 1)th ended.
        const committed = b.stats().outboxPolls;
        const started = performance.now();
        await a.close(); // the revoking instance is gone; it never told Redis
        let served = 0;
        let refusedAfterMs: number | null = null;
        const violations: string[] = [];
        while (performance.now() - started < 1_500 || b.stats().outboxPolls < committed + 3) {
          const seen = b.stats().outboxPolls >= committed + 2;
          const got = await (served % 2 ? b.touch(s.id) : b.get(s.id));
          if (got) {
            served++;
            if (seen)
              violations.push(`served after poll ${b.stats().outboxPolls} (revoked before poll ${committed + 1})`);
          } else refusedAfterMs ??= performance.now() - started;
          await sleep(5);
        }
        console.log(
          `revocation by an instance ${revoker}: refused by another instance after ${refusedAfterMs?.toFixed(1)} ms ` +
            `(outboxPollMs 100); served ${served} time(s) before`,
        );
        expect(violations).toEqual([]);
        expect(await b.get(s.id)).toBeNull();
        expect(await b.touch(s.id)).toBeNull();
        expect(await b.set(s.id, { n: 9 })).toBeNull();
        expect(await b.update(s.id, (d) => ({ n: d.n + 1 }))).toBeNull();
        expect((await b.list(u)).map((x) => x.id)).toEqual([other.id]);
        // b reaches Redis: it told Redis (tombstone) and deleted the outbox row.
        const { key, tomb } = keysOf(prefix, s);
        await until(
          async () =>
            (await redis.client.exists(tomb)) === 1 &&
            (await outboxRows(s.jti)) === 0 &&
            b.stats().pendingRevocations === 0,
          'the replay',
        );
        expect(await redis.client.exists(key)).toBe(0);
        expect(b.stats().replayedRevocations).toBeGreaterThanOrEqual(1); // a poll that overlapped may replay it again
        // Forever after: with the tombstone gone too (expired, Redis restarted...), Postgres says no and
        // nothing refills Redis.
        await redis.client.del(tomb);
        expect(await b.get(s.id)).toBeNull();
        expect(await b.touch(s.id)).toBeNull();
        expect(await redis.client.exists(key)).toBe(0);
        expect((await b.get(other.id))?.data).toEqual({ n: 2 });
      } finally {
        await a.close();
        await b.close();
        await proxy.close();
      }
    }, 30_000);
  }

  it('revokeAllForUser while cut off from Redis: replayed per session, never as a generation bump (a later login stays live)', async () => {
    const proxy = await startProxy();
    const prefix = newPrefix();
    const persist = { db, outboxPollMs: '100ms' as const };
    const a = createSessionStore<Data>({ redis: proxy.url, ttl: '60s', prefix, persist, onError: () => {} });
    const b = createSessionStore<Data>({ redis: REDIS_URL, ttl: '60s', prefix, persist });
    try {
      const u = uid();
      const s1 = await a.create(u, { n: 1 });
      const s2 = await b.create(u, { n: 2 });
      proxy.cut();
      expect(await a.revokeAllForUser(u)).toBe(2);
      expect(await a.get(s1.id)).toBeNull(); // refused at once by the instance that revoked
      const later = await b.create(u, { n: 3 }); // the user logs in again
      await until(
        async () =>
          (await redis.client.exists(keysOf(prefix, s1).tomb, keysOf(prefix, s2).tomb)) === 2 &&
          (await outboxRows(s1.jti)) + (await outboxRows(s2.jti)) === 0,
        'the replay by b',
      );
      expect(await b.get(s1.id)).toBeNull();
      expect(await b.get(s2.id)).toBeNull();
      // The revoking instance comes back: nothing it replays (or that anyone replays) may end the later login.
      proxy.restore();
      const probe = await a.create(uid(), { n: 0 });
      await until(async () => {
        await a.touch(probe.id);
        return (await redis.client.exists(keysOf(prefix, probe).key)) === 1;
      }, 'a to reach Redis again');
      await sleep(1_000); // room for a late replay to do harm (the old in-memory queue retried every 500 ms)
      expect(await redis.client.get(`${prefix}:{${u}}:~gen`)).toBeNull(); // never bumped: the live bump failed
      expect((await b.get(later.id))?.data).toEqual({ n: 3 });
      expect((await a.get(later.id))?.data).toEqual({ n: 3 });
      expect((await b.list(u)).map((x) => x.id)).toEqual([later.id]);
    } finally {
      await a.close();
      await b.close();
      await proxy.close();
    }
  }, 30_000);

  it('outbox rows past their expires_at are pruned, not refused; a missing outbox table is E_SESSION_CONFIG and revoke changes nothing', async () => {
    const prefix = newPrefix();
    const b = createSessionStore<Data>({ redis: REDIS_URL, ttl: '60s', prefix, persist: { db, outboxPollMs: 20 } });
    const errors: unknown[] = [];
    const c = createSessionStore<Data>({
      redis: REDIS_URL,
      ttl: '60s',
      prefix,
      persist: { db, sessionOutbox: 'no_such_outbox', outboxPollMs: 20 },
      onError: (err) => errors.push(err),
    });
    try {
      const u = uid();
      const s = await b.create(u, { n: 1 });
      await db
        .insertInto('session_outbox')
        .values({ user_id: u, access_jti: s.jti, expires_at: new Date(Date.now() - 1000), created_at: new Date() })
        .execute();
      const from = b.stats().outboxPolls;
      await until(async () => b.stats().outboxPolls >= from + 2, 'two polls');
      expect(await outboxRows(s.jti)).toBe(0);
      expect(await b.get(s.id)).not.toBeNull();

      const err = await expectFerryError(c.revoke(s.id), E_SESSION_CONFIG);
      expect(err.message).toMatch(/"no_such_outbox" does not exist.*sessionTables\(.*migrat/s);
      expect(
        await db.selectFrom('sessions').select('revoked').where('access_jti', '=', s.jti).executeTakeFirst(),
      ).toEqual({ revoked: false });
      expect(await c.get(s.id)).not.toBeNull();
      // The polls fail too: reported once, not every 20 ms.
      await until(async () => errors.length > 0, 'the poll error');
      await sleep(200);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: E_SESSION_CONFIG });
      // close() stops polling.
      await b.close();
      const polls = b.stats().outboxPolls;
      await sleep(100);
      expect(b.stats().outboxPolls).toBe(polls);
    } finally {
      await b.close();
      await c.close();
    }
  });
});
