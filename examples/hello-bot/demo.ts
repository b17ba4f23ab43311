/**
 * Hello Bot on Ferry: a burst of Telegram visits handled concurrently, each
 * write in its own transaction, users read through the cache (L1 in process,
 * Redis as L2 when REDIS_URL is set), then the admin views. Runs on whatever
 * DATABASE_URL selects, the embedded database by default, and without Redis:
 *
 *   npx tsx examples/hello-bot/demo.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/hellobot REDIS_URL=redis://127.0.0.1:6379 \
 *     npx tsx examples/hello-bot/demo.ts
 */
import type { Cache, CacheLogger } from '../../src/cache/index.js';
import { connect, type DatabaseOf, type Ferry, FerryError, redactUrl } from '../../src/index.js';
import { pool } from './ferry.config.js';
import * as schema from './schema.js';
import { createUserCache, displayName, type TelegramUser, type User, UserService } from './user-service.js';

export async function runHelloBot(
  options: {
    url?: string;
    ferry?: Ferry<DatabaseOf<typeof schema>>;
    /** A Redis URL for the L2; `null` for none. Default REDIS_URL, else none. */
    redis?: string | null;
    log?: (line: string) => void;
  } = {},
) {
  const log = options.log ?? console.log;
  const redis = options.redis === undefined ? process.env.REDIS_URL?.trim() || null : options.redis;
  // The cache's own warnings (Redis unreachable, back again) as demo lines, not process warnings.
  const say = (_obj: object, msg?: string) => log(msg ?? '');
  const logger: CacheLogger = { warn: say, info: say, debug: () => {} };
  const cache: Cache = createUserCache({ redis, logger });
  let ferry: Ferry<DatabaseOf<typeof schema>> | undefined;
  try {
    // Reuse the caller's connection when given one (the embedded database allows one opener).
    ferry = options.ferry ?? (await connect({ schema, url: options.url, pool, cache }));
    log(`hello-bot: ${ferry.backend} at ${ferry.url}`);
    const migrated = await ferry.migrate(new URL('./migrations', import.meta.url).pathname);
    const applied = migrated.results.filter((r) => r.status === 'applied').length;
    log(`migrations: ${applied} applied, schema up to date`);

    if (!redis) {
      log('cache: no REDIS_URL, so it runs without the L2: users are cached in process (L1) only');
    } else if (await cache.ready(2_000)) {
      log(`cache: L1 in process + Redis at ${redactUrl(redis)} (L2)`);
      await cache.clear(); // a fresh run: forget what earlier runs cached in this namespace
    } else {
      log(
        `cache: Redis at ${redactUrl(redis)} is not answering, so it runs without the L2: the breaker is open and users are read from the database until Redis is back; no visit fails`,
      );
    }
    const service = new UserService(ferry, { cache });

    const visitors: TelegramUser[] = Array.from({ length: 40 }, (_, i) => ({
      id: 1_000_000 + (i % 25),
      username: i % 7 === 0 ? null : `user_${i % 25}`,
      first_name: `First${i % 25}`,
      last_name: i % 3 === 0 ? `Last${i}` : null,
      language_code: ['en', 'de', 'es'][i % 3]!,
    }));
    let created = 0;
    let updated = 0;
    // Session per task: the visits run concurrently, every write in its own transaction.
    await Promise.all(
      visitors.map(async (tg) => {
        const result = await service.getOrCreateUser(tg);
        if (result.created) created++;
        if (result.updated) updated++;
      }),
    );
    log(`visits: ${visitors.length}, users created: ${created}, updated: ${updated}`);

    // The same people again, as Telegram describes them now: answered by the cache alone.
    const ids = [...new Set(visitors.map((v) => v.id))];
    const known = await Promise.all(ids.map((id) => service.users.get(id)));
    const before = cache.stats();
    const again = await Promise.all(known.map((u) => service.getOrCreateUser(asTelegram(u!))));
    const after = cache.stats();
    const hits = after.l1.hits + after.l2.hits - before.l1.hits - before.l2.hits;
    log(
      `returning visits: ${again.length}, from the cache: ${hits}, database reads: ${after.loader.calls - before.loader.calls}`,
    );

    // A rename commits, the cached user is dropped after the commit, and the next visit sees it.
    const someone = known[1]!;
    await service.getOrCreateUser({ ...asTelegram(someone), username: 'renamed_1' });
    const now = await service.users.get(someone.telegram_id);
    log(`renamed ${displayName(someone)} (committed, cache entry dropped): the cache now answers ${displayName(now!)}`);

    await service.deactivate(1_000_003);
    const first = await service.listActiveUsers({ limit: 5 });
    log(`newest active users: ${first.rows.map(displayName).join(', ')}`);
    const second = await service.listActiveUsers({ limit: 5, cursor: first.nextCursor ?? undefined });
    log(`next page: ${second.rows.map(displayName).join(', ')}`);
    const found = await service.searchByUsername('USER_1', 5);
    log(`search "USER_1": ${found.map((u) => u.username).join(', ')}`);
    log(`languages: ${(await service.languageStats()).map((s) => `${s.language_code}=${s.users}`).join(' ')}`);
    const s = cache.stats();
    log(
      `cache: L1 ${s.l1.hits} hits / ${s.l1.misses} misses, L2 ${redis ? `${s.l2.hits} hits / ${s.l2.misses} misses` : 'none'}, database reads ${s.loader.calls}, breaker ${s.breaker}`,
    );
    return { created, updated, returningHits: hits, total: await ferry.repo(schema.users).count() };
  } finally {
    await cache.close();
    if (!options.ferry) await ferry?.close();
  }
}

function asTelegram(u: User): TelegramUser {
  return {
    id: u.telegram_id,
    username: u.username,
    first_name: u.first_name,
    last_name: u.last_name,
    language_code: u.language_code,
  };
}

/**
 * The demo's failure as one line: people run it by hand, often against some
 * DATABASE_URL they already had, and a stack trace buries the one sentence
 * that says what is wrong. FERRY_DEBUG=1 prints the stack as well.
 */
export function failureLine(err: unknown): string {
  // Ferry's own errors are already redacted; anything else is shown with any URL's password masked.
  const code = err instanceof FerryError ? err.code : 'E_UNEXPECTED';
  const message = err instanceof FerryError ? err.message : redactUrl(err instanceof Error ? err.message : String(err));
  const oneLine = message.replace(/\s*\n\s*(- )?/g, ' ').trim();
  const hint = code.startsWith('E_MIGRATION')
    ? ' The demo needs a database of its own: point DATABASE_URL at an empty one, or unset it for the embedded database.'
    : '';
  return `hello-bot: ${oneLine}${code.startsWith('E_') ? ` [${code}]` : ''}${hint}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    await runHelloBot();
  } catch (err) {
    process.stderr.write(`${failureLine(err)}\n`);
    if (process.env.FERRY_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  }
}
