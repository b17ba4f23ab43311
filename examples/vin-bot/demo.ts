/**
 * VIN Decoder Bot on Ferry: a user looks VINs up, twice, then again after the
 * Redis copy is dropped (served from Postgres), hits the per-minute rate
 * limit, and uses a one-hour session. Runs on whatever DATABASE_URL selects
 * (embedded PGlite by default), with Redis when REDIS_URL is set and an
 * in-process cache otherwise.
 *
 *   npx tsx examples/vin-bot/demo.ts
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/vinbot REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/vin-bot/demo.ts
 */
import { connect, type Ferry } from '../../src/index.js';
import type { RedisTlsOptions } from '../../src/redis/connection.js';
import { createLocalDecoder } from './decoder.js';
import { appSchema, type BotLogger, consoleLogger, createVinBot, type DB } from './vin-service.js';

export async function runVinBot(
  options: {
    url?: string;
    ferry?: Ferry<DB>;
    redis?: string | null;
    /** TLS settings of a `rediss://` URL (see VinBotOptions.redisTls). */
    redisTls?: RedisTlsOptions;
    namespace?: string;
    decoderLatencyMs?: number;
    logger?: BotLogger;
  } = {},
) {
  const log = options.logger ?? consoleLogger;
  const ferry = options.ferry ?? (await connect({ schema: appSchema, url: options.url }));
  const bot = createVinBot({
    ferry,
    redis: options.redis,
    redisTls: options.redisTls,
    namespace: options.namespace ?? 'vinbot-demo',
    decoder: createLocalDecoder({ latencyMs: options.decoderLatencyMs ?? 300 }),
    lookupsPerMinute: 4,
    logger: log,
  });
  try {
    log.info(
      `vin-bot: ${ferry.backend} at ${ferry.url}; cache: ${bot.cacheMode === 'redis' ? 'L1 + Redis' : 'L1 only'}`,
    );
    const migrated = await ferry.migrate(new URL('./migrations', import.meta.url).pathname);
    log.info(`migrations: ${migrated.results.filter((r) => r.status === 'applied').length} applied`);
    if (bot.cacheMode === 'redis' && !(await bot.cache.ready(2_000))) {
      log.warn('Redis not reachable: serving from Postgres');
    }
    // A fresh run: forget what earlier runs cached, so the first lookup really misses.
    await bot.cache.clear();
    await ferry.db.deleteFrom('vehicles').where('vin', 'in', ['1HGBH41JXMN109186', 'WBADT43493G095554']).execute();

    const alice = { id: 424242, username: 'alice', first_name: 'Alice' };
    const session = await bot.startSession(alice);
    log.info(`session started, expires at ${session.expiresAt.toISOString()}`);

    const timed = async (vin: string) => {
      const t = performance.now();
      const r = await bot.lookupVin(alice, vin, { session: session.id });
      const ms = (performance.now() - t).toFixed(1);
      if (r.status === 'ok') {
        log.info(`  ${vin}: ${r.vehicle.year} ${r.vehicle.make} ${r.vehicle.model} from ${r.source} in ${ms} ms`);
      } else log.info(`  ${vin}: ${r.status}`);
      return r;
    };
    await timed('1HGBH41JXMN109186'); // decoder
    await timed('1HGBH41JXMN109186'); // cache
    await timed('WBADT43493G095554'); // decoder
    await bot.cache.delete('vin:WBADT43493G095554');
    await timed('WBADT43493G095554'); // Postgres (not expired)
    const limited = await timed('WBADT43493G095554'); // the 5th lookup this minute: over the limit of 4
    const resumed = await bot.resumeSession(session.id);
    log.info(`session: ${resumed?.data.lookups} lookups, last VIN ${resumed?.data.lastVin}`);
    const history = await bot.history(alice, 5);
    log.info(`history: ${history.map((h) => h.vin).join(', ')}`);
    await bot.endSession(session.id);
    log.info(`session ended: ${(await bot.resumeSession(session.id)) === null ? 'gone' : 'still live!'}`);
    const s = bot.stats();
    log.info(
      `cache: L1 ${s.cache.l1.hits} hits / ${s.cache.l1.misses} misses, L2 ${s.cache.l2.hits} hits / ${s.cache.l2.misses} misses, loader ${s.cache.loader.calls}; decoder calls: ${s.decoderCalls}`,
    );
    await ferry.db.deleteFrom('users').where('telegram_id', '=', alice.id).execute(); // history cascades
    await bot.cache.clear();
    return { decoderCalls: s.decoderCalls, rateLimited: limited.status === 'rate_limited', history: history.length };
  } finally {
    await bot.close();
    if (!options.ferry) await ferry.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runVinBot();
}
