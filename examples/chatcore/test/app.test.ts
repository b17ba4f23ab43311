/**
 * ChatCore's app layer (service.ts `ChatCore`) on both database backends, with
 * the shared Redis (every test under its own cache namespace; the session and
 * rate-limit keys, which carry fresh user ids, removed afterwards), without
 * Redis (Postgres sessions, in-memory limits, in-process cache), and with a
 * redis-server of the test's own that is killed mid-test.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Ferry } from '../../../src/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { type OwnRedis, startRedisServer } from '../../../test/support/redis-server.js';
import { hashPassword, signAccessToken, verifyAccessToken, verifyPassword } from '../auth.js';
import { runChatcoreDemo } from '../demo.js';
import * as schema from '../schema.js';
import {
  type ChatCore,
  ChatCoreError,
  type ChatCoreOptions,
  createChatCore,
  type DB,
  type TokenPair,
} from '../service.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const SECRET = 'chatcore-test-secret';
const client = { ip: '198.51.100.23', userAgent: 'vitest' };

let admin: Redis | undefined;
const adminRedis = () => {
  admin ??= new Redis(REDIS_URL);
  return admin;
};
afterAll(async () => {
  await admin?.quit();
});

async function scanKeys(pattern: string, r: Redis = adminRedis()): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

async function dropKeys(pattern: string): Promise<void> {
  const keys = await scanKeys(pattern);
  if (keys.length > 0) await adminRedis().unlink(...keys);
}

/** The HTTP status a call would answer: 200, or its ChatCoreError's. */
const status = (p: Promise<unknown>): Promise<number> =>
  p.then(
    () => 200,
    (err) => {
      if (err instanceof ChatCoreError) return err.status;
      throw err;
    },
  );

const claimsOf = (pair: TokenPair) =>
  JSON.parse(Buffer.from(pair.access_token.split('.')[1]!, 'base64url').toString()) as {
    sub: string;
    jti: string;
    iat: number;
    exp: number;
  };

describe('chatcore credentials (auth.ts)', () => {
  it('scrypt hashes: salted, verified in constant time, anything else never verifies', async () => {
    const a = await hashPassword('1234');
    const b = await hashPassword('1234');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('1234', a)).toBe(true);
    expect(await verifyPassword('12345', a)).toBe(false);
    expect(await verifyPassword('1234', '!unusable')).toBe(false);
    expect(await verifyPassword('1234', a.replace(/\$[\w-]{43}$/, '$short'))).toBe(false);
  });

  it('access tokens: a forged or edited token is refused, an expired one says so', () => {
    const now = Date.UTC(2026, 0, 1);
    const claims = { sub: 'u1', jti: 'jti-0123456789', iat: now / 1000, exp: now / 1000 + 60 };
    const token = signAccessToken(claims, SECRET);
    expect(verifyAccessToken(token, SECRET, now)).toEqual({ ok: true, claims });
    expect(verifyAccessToken(token, 'another secret', now)).toMatchObject({ ok: false, reason: 'signature' });
    const [h, , s] = token.split('.');
    const edited = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'u2' })).toString('base64url')}.${s}`;
    expect(verifyAccessToken(edited, SECRET, now)).toMatchObject({ ok: false, reason: 'signature' });
    expect(verifyAccessToken('a.b', SECRET, now)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(verifyAccessToken(token, SECRET, now + 60_000)).toMatchObject({ ok: false, reason: 'expired', claims });
  });
});

describeEachBackend('chatcore app', (t) => {
  let ferry: Ferry<DB>;
  const apps: ChatCore[] = [];
  const namespaces = new Set<string>();

  function make(redis: string | null, options: Partial<ChatCoreOptions> = {}): ChatCore {
    const namespace = options.namespace ?? `chatcore-test-${process.pid}-${randomBytes(4).toString('hex')}`;
    namespaces.add(namespace);
    const app = createChatCore({ ferry, redis, secret: SECRET, log: () => {}, ...options, namespace });
    apps.push(app);
    return app;
  }

  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema });
    await ferry.migrate(new URL('../migrations', import.meta.url).pathname);
  });
  afterAll(() => ferry?.close());
  beforeEach(async () => {
    await sql`truncate users, conversations, messages, sessions, refresh_tokens, session_outbox, documents restart identity cascade`.execute(
      ferry.db,
    );
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
    for (const { id } of await ferry.db.selectFrom('users').select('id').execute()) {
      await dropKeys(`sess:{${id}}*`);
      await dropKeys(`rate:${id}:*`);
    }
    for (const ns of namespaces) await dropKeys(`${ns}~*`);
    namespaces.clear();
  });

  for (const mode of ['redis', 'no-redis'] as const) {
    describe(mode, () => {
      const redis = mode === 'redis' ? REDIS_URL : null;
      const open = async (options: Partial<ChatCoreOptions> = {}) => {
        const app = make(redis, options);
        if (mode === 'redis') expect(await app.cache.ready(5_000)).toBe(true);
        return app;
      };

      it('register casefolds and hashes; login opens a session by access JTI in Postgres', async () => {
        const app = await open();
        const user = await app.register({ username: 'Straße.Admin', password: 'pw-1234' });
        expect(user).toMatchObject({ username: 'strasse.admin', role: 'user' });
        expect(user).not.toHaveProperty('password_hash');
        const stored = await ferry.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
        expect(stored.password_hash).toMatch(/^scrypt\$/);
        expect(await status(app.register({ username: 'STRASSE.admin', password: 'other' }))).toBe(409);
        expect(await status(app.register({ username: 'bad name', password: 'pw-1234' }))).toBe(400);
        expect(await status(app.register({ username: 'short', password: '123' }))).toBe(400);

        expect(await status(app.login({ username: 'strasse.admin', password: 'wrong' }, client))).toBe(401);
        expect(await status(app.login({ username: 'nobody', password: 'pw-1234' }, client))).toBe(401);
        const pair = await app.login({ username: 'STRASSE.ADMIN', password: 'pw-1234' }, client);
        const claims = claimsOf(pair);
        expect(claims).toMatchObject({ sub: user.id, exp: claims.iat + 900 });
        expect(pair).toMatchObject({ token_type: 'bearer', expires_in: 900, user_id: user.id });

        const session = await ferry.db.selectFrom('sessions').selectAll().executeTakeFirstOrThrow();
        expect(session).toMatchObject({
          user_id: user.id,
          access_jti: claims.jti,
          ip_address: client.ip,
          user_agent: 'vitest',
          revoked: false,
          data: { username: 'strasse.admin', ip: client.ip, userAgent: 'vitest' },
        });
        const refresh = await ferry.db.selectFrom('refresh_tokens').selectAll().executeTakeFirstOrThrow();
        expect(refresh).toMatchObject({ user_id: user.id, session_jti: claims.jti, revoked: false });
        expect(refresh.token_hash).toBe(createHash('sha256').update(pair.refresh_token).digest('hex'));
        expect((await app.authenticate(pair.access_token)).user).toEqual(user);
      });

      it('logout revokes at once, on this and another instance; its refresh token is refused', async () => {
        const a = await open();
        const b = await open(); // another process sharing the database (and Redis, when used)
        await a.register({ username: 'ann', password: 'pw-ann' });
        const pair = await a.login({ username: 'ann', password: 'pw-ann' }, client);
        const other = await a.login({ username: 'ann', password: 'pw-ann' }, client);
        expect(await status(b.authenticate(pair.access_token))).toBe(200);
        expect(await a.logout(pair.access_token)).toBe(true);
        expect(await status(a.authenticate(pair.access_token))).toBe(401);
        expect(await status(b.authenticate(pair.access_token))).toBe(401);
        expect(await status(b.refresh(pair.refresh_token, client))).toBe(401);
        expect(await a.logout(pair.access_token)).toBe(false);
        // Only that session: the user's other login is untouched.
        expect(await status(b.authenticate(other.access_token))).toBe(200);
        const row = await ferry.db
          .selectFrom('sessions')
          .selectAll()
          .where('access_jti', '=', claimsOf(pair).jti)
          .executeTakeFirstOrThrow();
        expect(row.revoked).toBe(true);
        expect(await status(a.logout('not.a.token'))).toBe(401);
      });

      it('refresh rotates: the old access and refresh tokens stop working; replaying a spent one revokes all', async () => {
        const a = await open();
        const b = await open();
        await a.register({ username: 'bob', password: 'pw-bob' });
        const first = await a.login({ username: 'bob', password: 'pw-bob' }, client);
        const bystander = await a.login({ username: 'bob', password: 'pw-bob' }, client);
        const second = await b.refresh(first.refresh_token, client);
        expect(claimsOf(second).jti).not.toBe(claimsOf(first).jti);
        expect(await status(a.authenticate(first.access_token))).toBe(401);
        expect(await status(a.authenticate(second.access_token))).toBe(200);
        const third = await a.refresh(second.refresh_token, client);
        expect(await status(b.authenticate(third.access_token))).toBe(200);

        // The first refresh token again (a stolen copy): refused, and every session and refresh token ends.
        expect(await status(a.refresh(first.refresh_token, client))).toBe(401);
        for (const app of [a, b]) {
          expect(await status(app.authenticate(third.access_token))).toBe(401);
          expect(await status(app.authenticate(bystander.access_token))).toBe(401);
        }
        expect(await status(b.refresh(third.refresh_token, client))).toBe(401);
        expect(await status(b.refresh(bystander.refresh_token, client))).toBe(401);
        expect(await status(a.refresh('x'.repeat(43), client))).toBe(401);
        // A new login works.
        const again = await a.login({ username: 'bob', password: 'pw-bob' }, client);
        expect(await status(b.authenticate(again.access_token))).toBe(200);
      });

      it('expired tokens are refused: access by its exp, refresh by its expires_at', async () => {
        let offset = 0;
        const app = await open({ accessTtl: '5m', now: () => Date.now() + offset });
        await app.register({ username: 'cat', password: 'pw-cat' });
        const pair = await app.login({ username: 'cat', password: 'pw-cat' }, client);
        expect(pair.expires_in).toBe(300);
        offset = 299_000;
        expect(await status(app.authenticate(pair.access_token))).toBe(200);
        offset = 301_000;
        await expect(app.authenticate(pair.access_token)).rejects.toMatchObject({
          code: 'unauthorized',
          message: expect.stringMatching(/expired/),
        });
        // A refresh gives a working token (its exp counts from the moved clock).
        const renewed = await app.refresh(pair.refresh_token, client);
        expect(await status(app.authenticate(renewed.access_token))).toBe(200);
        // An expired access token still logs its session out.
        offset += 301_000;
        expect(await app.logout(renewed.access_token)).toBe(true);
        offset = 0;
        expect(await status(app.authenticate(renewed.access_token))).toBe(401);

        const late = await app.login({ username: 'cat', password: 'pw-cat' }, client);
        await ferry.db
          .updateTable('refresh_tokens')
          .set({ expires_at: sql<Date>`now() - interval '1 second'` })
          .where('session_jti', '=', claimsOf(late).jti)
          .execute();
        expect(await status(app.refresh(late.refresh_token, client))).toBe(401);
        expect(await status(app.authenticate(late.access_token))).toBe(200); // the access token lives on until its exp
      });

      it('rate limit: N requests per user and address, the N+1-th refused with 429', async () => {
        const a = await open({ requestsPerMinute: 3 });
        await a.register({ username: 'dan', password: 'pw-dan' });
        await a.register({ username: 'eve', password: 'pw-eve' });
        const dan = await a.login({ username: 'dan', password: 'pw-dan' }, client);
        const eve = await a.login({ username: 'eve', password: 'pw-eve' }, client);
        const post = (app: ChatCore, pair: TokenPair, ip = client.ip) =>
          app.postMessage(pair.access_token, { ip }, { content: 'hello' });
        for (let i = 0; i < 3; i++) expect(await status(post(a, dan))).toBe(200);
        const refused = await post(a, dan).catch((e) => e);
        expect(refused).toBeInstanceOf(ChatCoreError);
        expect(refused).toMatchObject({ code: 'rate_limited', status: 429 });
        expect(refused.retryAfterMs).toBeGreaterThan(0);
        expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
        expect(await status(a.ask(dan.access_token, client, { prompt: 'hi' }))).toBe(429);
        expect(await status(post(a, eve))).toBe(200); // per user
        expect(await status(post(a, dan, '198.51.100.99'))).toBe(200); // per address
        // With Redis the budget is shared by every instance; without, each process counts its own.
        const b = await open({ requestsPerMinute: 3 });
        expect(await status(post(b, dan))).toBe(mode === 'redis' ? 429 : 200);
        expect(await ferry.repo(schema.messages).count()).toBe(mode === 'redis' ? 5 : 6);
      });

      it('user cache: served for 5 minutes, dropped after a change commits; a password change ends every session', async () => {
        const a = await open();
        await a.register({ username: 'fay', password: 'pw-fay' });
        const pair = await a.login({ username: 'fay', password: 'pw-fay' }, client);
        const loads = () => a.cache.stats().loader.calls;
        const before = loads();
        expect((await a.authenticate(pair.access_token)).user.role).toBe('user');
        expect((await a.authenticate(pair.access_token)).user.role).toBe('user');
        expect(loads() - before).toBe(1);
        // Changed behind the service's back: the cached copy is still served (a hit, not a query).
        await ferry.db.updateTable('users').set({ role: 'admin' }).where('username', '=', 'fay').execute();
        expect((await a.authenticate(pair.access_token)).user.role).toBe('user');
        expect(await a.getUser('FAY')).toMatchObject({ role: 'user' });

        const b = await open({ namespace: a.cache.namespace });
        expect((await b.authenticate(pair.access_token)).user.role).toBe(mode === 'redis' ? 'user' : 'admin');
        await a.setRole('fay', 'user');
        expect((await a.authenticate(pair.access_token)).user.role).toBe('user');
        await a.setRole('Fay', 'admin');
        expect((await a.authenticate(pair.access_token)).user.role).toBe('admin');
        // With Redis, the other instance's copy is invalidated too (pub/sub).
        if (mode === 'redis') expect((await b.authenticate(pair.access_token)).user.role).toBe('admin');

        const other = await b.login({ username: 'fay', password: 'pw-fay' }, client);
        expect(await status(a.changePassword(pair.access_token, 'wrong', 'pw-new'))).toBe(401);
        await a.changePassword(pair.access_token, 'pw-fay', 'pw-new');
        for (const token of [pair.access_token, other.access_token]) {
          expect(await status(a.authenticate(token))).toBe(401);
          expect(await status(b.authenticate(token))).toBe(401);
        }
        expect(await status(a.refresh(other.refresh_token, client))).toBe(401);
        expect(await status(b.login({ username: 'fay', password: 'pw-fay' }, client))).toBe(401);
        expect(await status(b.login({ username: 'fay', password: 'pw-new' }, client))).toBe(200);
      });

      it('AI cache: a prompt asked again (by anyone) is answered from ai_cache; both turns are stored', async () => {
        const a = await open();
        const b = await open({ namespace: a.cache.namespace });
        await a.register({ username: 'gus', password: 'pw-gus' });
        await a.register({ username: 'hal', password: 'pw-hal' });
        const gus = await a.login({ username: 'gus', password: 'pw-gus' }, client);
        const hal = await b.login({ username: 'hal', password: 'pw-hal' }, client);
        const q = 'Which procedures cover onboarding?';
        const r1 = await a.ask(gus.access_token, client, { prompt: q });
        expect(r1.cached).toBe(false);
        const r2 = await a.ask(gus.access_token, client, { prompt: q, conversationId: r1.conversationId });
        expect(r2).toEqual({ conversationId: r1.conversationId, answer: r1.answer, cached: true });
        expect(a.model.calls).toBe(1);
        const r3 = await b.ask(hal.access_token, client, { prompt: q });
        expect(r3.answer).toBe(r1.answer);
        expect(r3.cached).toBe(mode === 'redis');
        expect(b.model.calls).toBe(mode === 'redis' ? 0 : 1);
        expect((await a.ask(gus.access_token, client, { prompt: `${q}!` })).cached).toBe(false);

        const msgs = await a.messages(gus.access_token, r1.conversationId);
        expect(msgs.map((m) => [m.role, m.content])).toEqual([
          ['user', q],
          ['assistant', r1.answer],
          ['user', q],
          ['assistant', r1.answer],
        ]);
        // Someone else's conversation is not found.
        expect(await status(b.messages(hal.access_token, r1.conversationId))).toBe(404);
        expect(await status(b.ask(hal.access_token, client, { prompt: q, conversationId: r1.conversationId }))).toBe(
          404,
        );
        expect(await status(a.ask(gus.access_token, client, { prompt: '  ' }))).toBe(400);
        expect((await a.conversations(gus.access_token)).rows).toHaveLength(2);
      });
    });
  }

  it("Redis keys have the seed's shapes (after Ferry's cache namespace)", async () => {
    const app = make(REDIS_URL);
    expect(await app.cache.ready(5_000)).toBe(true);
    const user = await app.register({ username: 'Ivy', password: 'pw-ivy' });
    const pair = await app.login({ username: 'ivy', password: 'pw-ivy' }, client);
    await app.ask(pair.access_token, client, { prompt: 'shapes' });
    const { jti } = claimsOf(pair);
    const ns = app.cache.namespace;
    const hash = createHash('sha256')
      .update(JSON.stringify([app.model.name, 'shapes']))
      .digest('hex');

    // rate:{user_id}:{ip} exactly.
    expect(await scanKeys(`rate:${user.id}:*`)).toEqual([`rate:${user.id}:${client.ip}`]);
    expect(app.limiter.keyFor({ user: user.id, ip: client.ip })).toBe(`rate:${user.id}:${client.ip}`);
    // sess:{user_id}:{access_jti}, the braces literal (a Redis Cluster hash tag), beside the store's index and generation.
    const sess = await scanKeys(`sess:{${user.id}}:*`);
    expect(sess).toContain(`sess:{${user.id}}:${jti}`);
    expect(sess.filter((k) => !k.includes('~'))).toEqual([`sess:{${user.id}}:${jti}`]);
    expect(await adminRedis().type(`sess:{${user.id}}:${jti}`)).toBe('hash');
    // The cache: <namespace>~v: + user:{username} (5 min) and ai_cache:{hash}.
    const values = (await scanKeys(`${ns}~v:*`)).sort();
    expect(values).toEqual([`${ns}~v:ai_cache:${hash}`, `${ns}~v:user:ivy`].sort());
    const ttl = await adminRedis().pttl(`${ns}~v:user:ivy`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(300_000);
    expect(await adminRedis().pttl(`${ns}~v:ai_cache:${hash}`)).toBeGreaterThan(300_000);

    // Logout leaves no live session key.
    await app.logout(pair.access_token);
    expect(await adminRedis().exists(`sess:{${user.id}}:${jti}`)).toBe(0);
  });

  describe('with its own Redis, killed mid-test', () => {
    let redis: OwnRedis;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(() => redis?.stop());

    it('sessions, limits and caches keep working from Postgres and memory; revocations stay final', async () => {
      const a = make(redis.url, { requestsPerMinute: 4, cacheTimeoutMs: 50 });
      const b = make(redis.url, { requestsPerMinute: 4, cacheTimeoutMs: 50, namespace: a.cache.namespace });
      expect(await a.cache.ready(5_000)).toBe(true);
      await a.register({ username: 'jay', password: 'pw-jay' });
      const early = await a.login({ username: 'jay', password: 'pw-jay' }, client);
      const answer = (await a.ask(early.access_token, client, { prompt: 'before' })).answer;
      const own = new Redis(redis.url);
      expect(await own.exists(`sess:{${early.user_id}}:${claimsOf(early).jti}`)).toBe(1);
      await own.quit();

      await redis.kill();
      // Sessions are read from Postgres: the login made before the outage still works, on both instances.
      expect(await status(b.authenticate(early.access_token))).toBe(200);
      const pair = await b.login({ username: 'jay', password: 'pw-jay' }, client);
      expect(await status(a.authenticate(pair.access_token))).toBe(200);
      // Logout on one instance is refused at once on the other.
      await a.logout(early.access_token);
      expect(await status(b.authenticate(early.access_token))).toBe(401);
      // Refresh rotates; the old tokens stop working.
      const next = await b.refresh(pair.refresh_token, client);
      expect(await status(a.authenticate(pair.access_token))).toBe(401);
      expect(await status(a.refresh(pair.refresh_token, client))).toBe(401); // replay: everything revoked
      expect(await status(a.authenticate(next.access_token))).toBe(401);
      const fresh = await a.login({ username: 'jay', password: 'pw-jay' }, client);

      // The cache answers from the model (same answer), the limiter from memory: the 5th request is refused.
      const again = await a.ask(fresh.access_token, client, { prompt: 'before' });
      expect(again.answer).toBe(answer);
      let refusedAt = 0;
      for (let n = 2; n <= 6 && refusedAt === 0; n++) {
        if ((await status(a.postMessage(fresh.access_token, client, { content: `m${n}` }))) === 429) refusedAt = n;
      }
      expect(refusedAt).toBe(5);
      expect(a.limiter.stats().breaker).not.toBe('closed');

      // Back, empty: what was revoked during the outage stays revoked (Postgres is the truth).
      await redis.restart();
      for (const app of [a, b]) {
        expect(await status(app.authenticate(early.access_token))).toBe(401);
        expect(await status(app.authenticate(next.access_token))).toBe(401);
        expect(await status(app.authenticate(fresh.access_token))).toBe(200);
      }
    });
  });

  it('the demo runs end to end (with Redis)', async () => {
    const namespace = `chatcore-test-demo-${process.pid}-${randomBytes(4).toString('hex')}`;
    namespaces.add(namespace);
    const lines: string[] = [];
    const result = await runChatcoreDemo({ ferry, redis: REDIS_URL, namespace, log: (l) => lines.push(l) });
    expect(result).toEqual({
      seeded: { created: 3, unchanged: 0 },
      userCacheLoads: 1,
      aiCalls: 1,
      secondAskCached: true,
      rateLimitedAt: 6,
      oldAccessAfterRefresh: 401,
      reuseRevokedAll: true,
      afterLogout: 401,
      expiredThenRefreshed: true,
    });
    expect(lines.join('\n')).toMatch(/^seed-users: 3 created, 0 unchanged$/m);
  });
});
