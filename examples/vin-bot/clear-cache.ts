/**
 * After a restore: drop everything the bot keeps in Redis under its
 * namespace (the 30-day vehicle copies and the cached users), so no instance
 * serves a row the restored database no longer has — a vehicle decoded after
 * the backup keeps, in Redis, an id the restored `vehicles` table lacks, and
 * recording it in the history would break the foreign key. Every running
 * instance drops its in-process copies too (the invalidation bus).
 *
 *   REDIS_URL=rediss://default:<token>@<host>:6379 npx tsx examples/vin-bot/clear-cache.ts
 *   VINBOT_NAMESPACE=vinbot (the default) · REDIS_TLS_CA=<PEM file> for a private CA
 *
 * Exit 0 done (or no REDIS_URL: nothing to clear), 1 Redis not reachable.
 */
import { createCache } from '../../src/cache/index.js';

export async function clearBotCache(
  options: { redis?: string | null; namespace?: string; timeoutMs?: number } = {},
): Promise<'cleared' | 'no-redis' | 'unreachable'> {
  const redis = options.redis === undefined ? process.env.REDIS_URL?.trim() || null : options.redis;
  if (!redis) return 'no-redis';
  const cache = createCache({ redis, namespace: options.namespace ?? 'vinbot', logger: false });
  try {
    if (!(await cache.ready(options.timeoutMs ?? 5_000))) return 'unreachable';
    await cache.clear();
    return 'cleared';
  } finally {
    await cache.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const namespace = process.env.VINBOT_NAMESPACE?.trim() || 'vinbot';
  const result = await clearBotCache({ namespace });
  const lines = {
    cleared: `vin-bot: cleared the "${namespace}" cache in Redis`,
    'no-redis': 'vin-bot: no REDIS_URL, nothing to clear (the in-process cache ends with the process)',
    unreachable: `vin-bot: Redis is not reachable; the "${namespace}" cache was NOT cleared`,
  };
  (result === 'unreachable' ? console.error : console.log)(lines[result]);
  process.exitCode = result === 'unreachable' ? 1 : 0;
}
