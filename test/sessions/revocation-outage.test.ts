/**
 * Issue 12: revocation is final during a partial outage. A process that
 * cannot reach Redis revokes a session, then dies (SIGKILL); every other
 * instance — another OS process and one in this process, both reaching Redis
 * — must refuse the session after one outbox poll that started after the
 * revocation committed, and forever after.
 *
 * PostgreSQL only: the revoking store runs in a child process, and a child
 * and this process cannot share an embedded PGlite data dir. (The in-process
 * variant of this test runs on both backends in sessions.test.ts.)
 *
 * The revoking process reaches Redis through a TCP proxy that is cut (its own
 * port blocked); the shared Redis itself is never touched beyond this test's
 * key prefix. The bound asserted is causal (poll counts), not wall-clock; the
 * wall-clock delays are printed.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { createStatements } from '../../src/schema/ddl.js';
import { defineSchema } from '../../src/schema/schema.js';
import { createSessionStore, type Session, sessionTables } from '../../src/sessions/index.js';
import { freshPostgresDatabase, type ProvisionedDatabase, TEST_BACKENDS } from '../support/backends.js';
import { startProxy } from '../support/redis-proxy.js';
import { ChildStore } from './support/child-store.js';
import { sleep, until } from './support/wait.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** The default `persist.outboxPollMs`: the figure the closing note reports. */
const POLL_MS = 250;
/** How long the other instances keep reading after the revocation (the report covered 3 s). */
const WATCH_MS = 3_000;

describe.skipIf(!TEST_BACKENDS.includes('postgres'))('session revocation across processes [postgres]', () => {
  let database: ProvisionedDatabase;
  let handle: DbHandle;
  let admin: Redis;
  const prefix = `ferrytest:sess-outage:${process.pid}:${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    database = await freshPostgresDatabase();
    handle = await openDatabase({ url: database.url });
    for (const s of createStatements(defineSchema(sessionTables()).toIR())) await sql.raw(s).execute(handle.db);
    admin = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length) await admin.del(...keys);
    await admin.quit();
    await handle?.close();
    await database?.cleanup();
  });

  it('revoked by a process cut off from Redis that is then SIGKILLed: another process and this one refuse it after one outbox poll, and forever', async () => {
    const proxy = await startProxy(); // in front of the shared Redis; cut = the revoker's Redis port blocked
    const revoker = new ChildStore(database.url, proxy.url, prefix, POLL_MS);
    const otherProcess = new ChildStore(database.url, REDIS_URL, prefix, POLL_MS);
    const here = createSessionStore<{ n: number }>({
      redis: REDIS_URL,
      ttl: '60s',
      prefix,
      persist: { db: handle.db, outboxPollMs: POLL_MS },
    });
    try {
      await Promise.all([revoker.ready, otherProcess.ready]);
      const u = `u${randomBytes(6).toString('hex')}`;
      const s = await revoker.call<Session<{ n: number }>>('create', { userId: u, data: { n: 1 } });
      const survivor = await revoker.call<Session<{ n: number }>>('create', { userId: u, data: { n: 2 } });
      // Both serve it from Redis, and touches keep extending it there.
      expect(await here.touch(s.id)).not.toBeNull();
      expect(await otherProcess.call('touch', { ref: s.id })).toMatchObject({ live: true });

      proxy.cut();
      expect(await revoker.call('revoke', { ref: s.id })).toBe(true);
      // The revocation has committed; every poll counted from here started after that or ends after it,
      // so the (n + 2)th poll started after the commit: reads starting after it must refuse.
      const revokedAt = performance.now();
      const hereFrom = here.stats().outboxPolls;
      const otherFrom = (await otherProcess.call<{ outboxPolls: number }>('stats')).outboxPolls;
      await revoker.kill(); // nothing it held in memory survives; it never told Redis

      const violations: string[] = [];
      const first = { here: Number.NaN, other: Number.NaN };
      const served = { here: 0, other: 0 };
      let reads = 0;
      let otherPolls = otherFrom;
      // At least WATCH_MS, and at least until both have polled past the bound (however slow the machine).
      while (
        performance.now() - revokedAt < WATCH_MS ||
        here.stats().outboxPolls < hereFrom + 3 ||
        otherPolls < otherFrom + 3
      ) {
        const op = reads++ % 2 ? 'touch' : 'get';
        const hereBefore = here.stats().outboxPolls;
        const live = (await (op === 'get' ? here.get(s.id) : here.touch(s.id))) !== null;
        if (live) {
          served.here++;
          if (hereBefore >= hereFrom + 2) violations.push(`this process: ${op} served it at poll ${hereBefore}`);
        } else if (Number.isNaN(first.here)) first.here = performance.now() - revokedAt;
        const r = await otherProcess.call<{ live: boolean; pollsBefore: number }>(op, { ref: s.id });
        otherPolls = r.pollsBefore;
        if (r.live) {
          served.other++;
          if (r.pollsBefore >= otherFrom + 2)
            violations.push(`other process: ${op} served it at poll ${r.pollsBefore}`);
        } else if (Number.isNaN(first.other)) first.other = performance.now() - revokedAt;
        await sleep(5);
      }
      console.log(
        `revocation delay (outboxPollMs ${POLL_MS}): refused by this process after ${first.here.toFixed(1)} ms, ` +
          `by another process after ${first.other.toFixed(1)} ms; served before that ${served.here} and ` +
          `${served.other} time(s); ${reads} reads each over ${(performance.now() - revokedAt).toFixed(0)} ms`,
      );
      expect(violations).toEqual([]);
      // Both have polled past the bound: both refused by now.
      expect(Number.isNaN(first.here) || Number.isNaN(first.other)).toBe(false);

      // The killed process's revocation reached Redis through the others, and its outbox row is gone.
      const key = `${prefix}:{${u}}:${s.jti}`;
      await until(async () => {
        const rows = await handle.db
          .selectFrom('session_outbox')
          .select('id')
          .where('access_jti', '=', s.jti)
          .execute();
        return rows.length === 0 && (await admin.exists(`${key}~revoked`)) === 1;
      }, 'the replay into Redis');
      expect(await admin.exists(key)).toBe(0);
      // Forever after: even with the tombstone gone (expired, Redis restarted empty), Postgres says no and
      // nothing refills Redis.
      await admin.del(`${key}~revoked`);
      expect(await here.get(s.id)).toBeNull();
      expect(await otherProcess.call('touch', { ref: s.id })).toMatchObject({ live: false });
      expect(await here.touch(s.id)).toBeNull();
      expect(await admin.exists(key)).toBe(0);
      // The user's other session was never affected.
      expect((await here.get(survivor.id))?.data).toEqual({ n: 2 });
      expect(await otherProcess.call('get', { ref: survivor.id })).toMatchObject({ live: true });
    } finally {
      await revoker.kill();
      await otherProcess.exit();
      await here.close();
      await proxy.close();
    }
  }, 60_000);
});
