/**
 * ChatCore on Ferry, end to end, printing what happens: the default users
 * seeded, a newcomer registers, logs in, is served from the 5-minute user
 * cache, asks the AI twice (the second answer from `ai_cache:{hash}`), hits
 * the rate limit, refreshes (the old access and refresh tokens stop working),
 * replays a spent refresh token (every session of the user is revoked), logs
 * out, and outlives an expired access token with a refresh.
 *
 *   npx tsx examples/chatcore/demo.ts          # embedded PGlite, no Redis: nothing to install
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/chatcore REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/chatcore/demo.ts
 *
 * Without DATABASE_URL (or FERRY_DATA_DIR) the data lives in
 * examples/chatcore/.ferry/pglite, the database `ferry` commands run in this
 * folder use; run it again and it starts from what is there.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Ferry } from '../../src/index.js';
import * as schema from './schema.js';
import { seedUsers } from './seed-users.js';
import { ChatCoreError, createChatCore, type DB } from './service.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface DemoResult {
  seeded: { created: number; unchanged: number };
  userCacheLoads: number;
  aiCalls: number;
  secondAskCached: boolean;
  rateLimitedAt: number;
  oldAccessAfterRefresh: number;
  reuseRevokedAll: boolean;
  afterLogout: number;
  expiredThenRefreshed: boolean;
}

export async function runChatcoreDemo(
  options: {
    url?: string;
    ferry?: Ferry<DB>;
    redis?: string | null;
    namespace?: string;
    log?: (line: string) => void;
  } = {},
): Promise<DemoResult> {
  const log = options.log ?? console.log;
  const url =
    options.url ??
    (process.env.DATABASE_URL || process.env.FERRY_DATA_DIR ? undefined : `pglite:${here}/.ferry/pglite`);
  const ferry = options.ferry ?? (await connect({ schema, url }));
  let offsetMs = 0; // the demo's clock: moved forward to let an access token expire
  const app = createChatCore({
    ferry,
    redis: options.redis,
    namespace: options.namespace ?? 'chatcore-demo',
    requestsPerMinute: 5,
    now: () => Date.now() + offsetMs,
    log: (line) => log(`  ${line}`),
  });
  /** The HTTP status a call would get (200, or its ChatCoreError's). */
  const status = (p: Promise<unknown>) =>
    p.then(
      () => 200,
      (err) => {
        if (err instanceof ChatCoreError) return err.status;
        throw err;
      },
    );
  try {
    log(`chatcore: ${ferry.backend} at ${ferry.url}; Redis: ${app.redisMode === 'redis' ? 'yes' : 'none'}`);
    if (app.redisMode === 'redis' && !(await app.cache.ready(2_000))) {
      log('  Redis is not reachable: the cache and the rate limits run in process, sessions in Postgres');
    }
    if (app.redisMode === 'memory') {
      log('  no REDIS_URL: in-process cache, in-memory rate limits, sessions in Postgres alone');
    }
    const migrated = await ferry.migrate(new URL('./migrations', import.meta.url).pathname);
    log(`migrations: ${migrated.results.filter((r) => r.status === 'applied').length} applied`);

    const seeded = await seedUsers(ferry);
    log(`seed-users: ${seeded.created.length} created, ${seeded.unchanged.length} unchanged`);

    // Register (casefolded) — or find the account a previous run made.
    const registered = await app.register({ username: 'NewComer', password: 'correct horse' }).then(
      (u) => `registered "${u.username}"`,
      (err) => {
        if (err instanceof ChatCoreError && err.code === 'conflict') return 'already registered by an earlier run';
        throw err;
      },
    );
    log(`register NewComer: ${registered}`);
    await app.setRole('newcomer', 'user'); // a rerun starts from the same role
    const client = { ip: '203.0.113.7', userAgent: 'chatcore-demo' };
    log(
      `login with the wrong password: ${await status(app.login({ username: 'newcomer', password: 'nope' }, client))}`,
    );
    const first = await app.login({ username: 'NEWCOMER', password: 'correct horse' }, client);
    const claims = JSON.parse(Buffer.from(first.access_token.split('.')[1]!, 'base64url').toString());
    log(`login as NEWCOMER: access token (jti ${claims.jti}, ${first.expires_in} s) + refresh token`);
    log(`  session key in Redis (when used): sess:{${claims.sub}}:${claims.jti}`);

    const loads0 = app.cache.stats().loader.calls;
    const me1 = await app.authenticate(first.access_token);
    const me2 = await app.authenticate(first.access_token);
    const userLoads = app.cache.stats().loader.calls - loads0;
    log(
      `GET /auth/me twice: ${me1.user.username} (${me2.user.role}); user:newcomer loaded ${userLoads}x (then cached 5 min)`,
    );
    await app.setRole('newcomer', 'admin');
    log(
      `role changed to admin: the cached user is dropped after commit; /auth/me now says ${(await app.authenticate(first.access_token)).user.role}`,
    );

    const prompt = 'Who leads the data platform project?';
    await app.cache.delete(app.aiKey(prompt)); // a rerun asks the model again
    await app.limiter.reset({ user: claims.sub, ip: client.ip });
    const a1 = await app.ask(first.access_token, client, { prompt });
    const a2 = await app.ask(first.access_token, client, { prompt, conversationId: a1.conversationId });
    log(`ask: "${a1.answer}" (cached: ${a1.cached}); again: cached: ${a2.cached}; model calls: ${app.model.calls}`);
    log(`  ${app.aiKey(prompt)}`);

    let rateLimitedAt = 0;
    for (let n = 3; n <= 8 && rateLimitedAt === 0; n++) {
      const s = await status(
        app.postMessage(first.access_token, client, { content: `note ${n}`, conversationId: a1.conversationId }),
      );
      if (s === 429) rateLimitedAt = n;
    }
    log(
      `rate limit 5/min per user and address (rate:${claims.sub}:${client.ip}): request ${rateLimitedAt} refused with 429`,
    );
    const history = await app.messages(first.access_token, a1.conversationId);
    log(`conversation: ${history.length} messages (${history.map((m) => m.role[0]).join('')})`);

    const second = await app.refresh(first.refresh_token, client);
    const oldAccess = await status(app.authenticate(first.access_token));
    log(
      `refresh: new pair; the old access token now gets ${oldAccess}, the new one ${await status(app.authenticate(second.access_token))}`,
    );
    const replay = await status(app.refresh(first.refresh_token, client));
    const newAfterReplay = await status(app.authenticate(second.access_token));
    const refreshAfterReplay = await status(app.refresh(second.refresh_token, client));
    log(
      `the spent refresh token presented again: ${replay}; every session of the user revoked: new access ${newAfterReplay}, new refresh ${refreshAfterReplay}`,
    );

    const third = await app.login({ username: 'newcomer', password: 'correct horse' }, client);
    await app.logout(third.access_token);
    const afterLogout = await status(app.authenticate(third.access_token));
    log(
      `login, logout: the access token gets ${afterLogout}, its refresh token ${await status(app.refresh(third.refresh_token, client))}`,
    );

    const fourth = await app.login({ username: 'newcomer', password: 'correct horse' }, client);
    offsetMs = app.accessTtlMs + 1_000;
    const expired = await status(app.authenticate(fourth.access_token));
    const renewed = await app.refresh(fourth.refresh_token, client);
    const ok = await status(app.authenticate(renewed.access_token));
    log(
      `${app.accessTtlMs / 60_000} minutes later: the access token gets ${expired} (expired); refreshed, the new one ${ok}`,
    );
    await app.logout(renewed.access_token, renewed.refresh_token);
    offsetMs = 0;

    return {
      seeded: { created: seeded.created.length, unchanged: seeded.unchanged.length },
      userCacheLoads: userLoads,
      aiCalls: app.model.calls,
      secondAskCached: a2.cached,
      rateLimitedAt,
      oldAccessAfterRefresh: oldAccess,
      reuseRevokedAll: replay === 401 && newAfterReplay === 401 && refreshAfterReplay === 401,
      afterLogout,
      expiredThenRefreshed: expired === 401 && ok === 200,
    };
  } finally {
    await app.close();
    if (!options.ferry) await ferry.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    await runChatcoreDemo();
  } catch (err) {
    const code = (err as { code?: string }).code;
    console.error(`chatcore: ${(err as Error).message}${code ? ` [${code}]` : ''}`);
    process.exitCode = 1;
  }
}
