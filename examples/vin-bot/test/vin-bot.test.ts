/**
 * The VIN bot on both database backends, with Redis (the shared server at
 * REDIS_URL, every test under its own key prefix, removed afterwards) and
 * without (L1-only cache, in-memory rate limiter, Postgres sessions), plus a
 * Redis that cannot be reached (a closed port; the shared server is never
 * touched).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Ferry } from '../../../src/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { createLocalDecoder, normalizeVin } from '../decoder.js';
import { runVinBot } from '../demo.js';
import { appSchema, type BotLogger, createVinBot, type DB, type VinBot, type VinBotOptions } from '../vin-service.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const DAY = 86_400_000;
const HONDA = '1HGBH41JXMN109186';
const BMW = 'WBADT43493G095554';
const alice = { id: 1001, username: 'alice' };
const bob = { id: 1002, username: 'bob' };

let admin: Redis | undefined;
const adminRedis = () => {
  admin ??= new Redis(REDIS_URL);
  return admin;
};

async function dropKeys(prefix: string): Promise<void> {
  const r = adminRedis();
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await r.unlink(...keys);
  } while (cursor !== '0');
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function recorder(): BotLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (l) => lines.push(`INFO | ${l}`), warn: (l) => lines.push(`WARNING | ${l}`) };
}

afterAll(async () => {
  await admin?.quit();
});

describeEachBackend('vin-bot', (t) => {
  let ferry: Ferry<DB>;
  const bots: VinBot[] = [];
  const prefixes = new Set<string>();

  /** A bot with its own Redis prefix (or a given one, to share it), closed and cleaned after the test. */
  function makeBot(redis: string | null, options: Partial<VinBotOptions> = {}): VinBot {
    const namespace = options.namespace ?? `vinbot-test:${process.pid}:${randomBytes(4).toString('hex')}`;
    prefixes.add(namespace);
    const bot = createVinBot({
      ferry,
      redis,
      logger: recorder(),
      decoder: createLocalDecoder(),
      ...options,
      namespace,
    });
    bots.push(bot);
    return bot;
  }

  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema: appSchema });
    await ferry.migrate(new URL('../migrations', import.meta.url).pathname);
  });
  afterAll(() => ferry?.close());
  beforeEach(async () => {
    await sql`truncate user_vin_history, vehicles, users, sessions, refresh_tokens, session_outbox restart identity cascade`.execute(
      ferry.db,
    );
  });
  afterEach(async () => {
    await Promise.all(bots.splice(0).map((b) => b.close()));
    for (const p of prefixes) await dropKeys(p);
    prefixes.clear();
  });

  for (const mode of ['redis', 'no-redis'] as const) {
    describe(mode, () => {
      const redisUrl = mode === 'redis' ? REDIS_URL : null;
      const open = async (options: Partial<VinBotOptions> = {}) => {
        const bot = makeBot(redisUrl, options);
        if (mode === 'redis') expect(await bot.cache.ready(5_000)).toBe(true);
        return bot;
      };

      it('decodes on a miss, serves the cache on a hit, logs like the seed and records history', async () => {
        const logger = recorder();
        const bot = await open({ logger });
        const first = await bot.lookupVin(alice, HONDA.toLowerCase());
        expect(first).toMatchObject({ status: 'ok', source: 'decoder', vehicle: { vin: HONDA, make: 'Honda' } });
        const second = await bot.lookupVin(alice, HONDA);
        expect(second).toMatchObject({ status: 'ok', source: 'cache', vehicle: { vin: HONDA, year: 1991 } });
        expect(bot.decoder.calls).toBe(1);
        expect(logger.lines).toContain(`INFO | Cache miss for VIN: ${HONDA} (decoded)`);
        expect(logger.lines).toContain(`INFO | Cache hit for VIN: ${HONDA}`);
        const stored = await ferry.db.selectFrom('vehicles').selectAll().execute();
        expect(stored).toHaveLength(1);
        expect(stored[0]!.expires_at.getTime() - stored[0]!.decoded_at.getTime()).toBe(90 * DAY);
        expect((await bot.history(alice)).map((h) => h.vin)).toEqual([HONDA, HONDA]);
        expect(await bot.lookupVin(alice, 'IOQ-not-a-vin')).toMatchObject({ status: 'invalid' });
        expect(normalizeVin(' wbadt43493g095554 ')).toBe(BMW);
      });

      it('a second instance finds the vehicle in Redis (with Redis) or Postgres (without)', async () => {
        const a = await open();
        const b = await open({ namespace: a.cache.namespace });
        await a.lookupVin(alice, BMW);
        const r = await b.lookupVin(bob, BMW);
        expect(r).toMatchObject({ status: 'ok', source: mode === 'redis' ? 'cache' : 'postgres' });
        expect(b.decoder.calls).toBe(0);
        if (mode === 'redis') expect(b.stats().cache.l2.hits).toBe(1);
        // Dropped from the cache: Postgres answers, the decoder is not called.
        await a.cache.delete(`vin:${BMW}`);
        expect(await a.lookupVin(alice, BMW)).toMatchObject({ status: 'ok', source: 'postgres' });
        expect(a.decoder.calls + b.decoder.calls).toBe(1);
      });

      it('concurrent lookups of one VIN call the decoder once', async () => {
        const bot = await open({ decoder: createLocalDecoder({ latencyMs: 50 }), lookupsPerMinute: 100 });
        const results = await Promise.all(Array.from({ length: 20 }, () => bot.lookupVin(alice, HONDA)));
        expect(results.every((r) => r.status === 'ok')).toBe(true);
        expect(bot.decoder.calls).toBe(1);
        expect((await bot.history(alice, 100)).length).toBe(20);
      });

      it('the Postgres copy expires after 90 days (injected clock) and is decoded again', async () => {
        let clock = Date.UTC(2026, 0, 1);
        const logger = recorder();
        const bot = await open({ now: () => new Date(clock), logger, lookupsPerMinute: 100 });
        const first = await bot.lookupVin(alice, HONDA);
        expect(first).toMatchObject({ status: 'ok', source: 'decoder' });
        if (first.status !== 'ok') throw new Error('unreachable');
        expect(first.vehicle.expires_at.getTime()).toBe(clock + 90 * DAY);

        clock += 89 * DAY; // still fresh in Postgres
        await bot.cache.delete(`vin:${HONDA}`);
        expect(await bot.lookupVin(alice, HONDA)).toMatchObject({ source: 'postgres' });
        expect(await bot.lookupVin(alice, HONDA)).toMatchObject({ source: 'cache' });

        clock += 2 * DAY; // 91 days: the cached copy and the row are both past expires_at
        const again = await bot.lookupVin(alice, HONDA);
        expect(again).toMatchObject({ status: 'ok', source: 'decoder' });
        expect(logger.lines).toContain(`INFO | Cache entry expired for VIN: ${HONDA}`);
        expect(bot.decoder.calls).toBe(2);
        const rows = await ferry.db.selectFrom('vehicles').selectAll().execute();
        expect(rows).toHaveLength(1);
        expect(rows[0]!.expires_at.getTime()).toBe(clock + 90 * DAY);
      });

      it('a row whose expires_at is in the past is not served', async () => {
        const bot = await open();
        await bot.lookupVin(alice, BMW);
        await ferry.db.updateTable('vehicles').set({ expires_at: sql<Date>`now() - interval '1 day'` }).execute();
        await bot.cache.delete(`vin:${BMW}`);
        expect(await bot.lookupVin(alice, BMW)).toMatchObject({ source: 'decoder' });
        const row = await ferry.db.selectFrom('vehicles').selectAll().executeTakeFirstOrThrow();
        expect(row.expires_at.getTime()).toBeGreaterThan(Date.now() + 89 * DAY);
      });

      it('limits lookups per user per minute', async () => {
        const a = await open({ lookupsPerMinute: 3 });
        for (let i = 0; i < 3; i++) expect((await a.lookupVin(alice, HONDA)).status).toBe('ok');
        const limited = await a.lookupVin(alice, HONDA);
        expect(limited.status).toBe('rate_limited');
        if (limited.status === 'rate_limited') {
          expect(limited.retryAfterMs).toBeGreaterThan(0);
          expect(limited.retryAfterMs).toBeLessThanOrEqual(60_000);
        }
        expect((await a.lookupVin(bob, HONDA)).status).toBe('ok'); // per user
        // With Redis the budget is shared by every instance; without, it is per process.
        const b = await open({ namespace: a.cache.namespace, lookupsPerMinute: 3 });
        expect((await b.lookupVin(alice, HONDA)).status).toBe(mode === 'redis' ? 'rate_limited' : 'ok');
        expect((await a.history(alice, 100)).length).toBe(mode === 'redis' ? 3 : 4);
      });

      it('one-hour sessions: resume slides the expiry, lookups are remembered, ending is final', async () => {
        const bot = await open();
        const s = await bot.startSession(alice);
        expect(s.expiresAt.getTime() - s.createdAt.getTime()).toBe(3_600_000);
        await new Promise((r) => setTimeout(r, 20));
        const resumed = await bot.resumeSession(s.id);
        expect(resumed!.expiresAt.getTime()).toBeGreaterThan(s.expiresAt.getTime());
        await bot.lookupVin(alice, HONDA, { session: s.id });
        await bot.lookupVin(alice, BMW, { session: s.id });
        expect((await bot.resumeSession(s.id))!.data).toEqual({ lastVin: BMW, lookups: 2 });
        expect(await bot.endSession(s.id)).toBe(true);
        expect(await bot.resumeSession(s.id)).toBeNull();
        expect(await bot.sessions.get(s.id)).toBeNull();
      });

      it('an idle session expires', async () => {
        const bot = await open({ sessionTtlSeconds: 0.3 });
        const s = await bot.startSession(bob);
        expect(await bot.resumeSession(s.id)).not.toBeNull();
        await new Promise((r) => setTimeout(r, 450));
        expect(await bot.resumeSession(s.id)).toBeNull();
      });
    });
  }

  it('keeps working when Redis is unreachable: Postgres answers, limits and sessions still hold', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const logger = recorder();
    const bot = makeBot(url, { logger, lookupsPerMinute: 5, cacheTimeoutMs: 50 });
    expect(await bot.cache.ready(300)).toBe(false);
    const started = performance.now();
    const s = await bot.startSession(alice);
    expect(await bot.lookupVin(alice, HONDA, { session: s.id })).toMatchObject({ status: 'ok', source: 'decoder' });
    // A second instance (another process, say) finds it in Postgres.
    const other = makeBot(url, { namespace: bot.cache.namespace, lookupsPerMinute: 5 });
    expect(await other.lookupVin(bob, HONDA)).toMatchObject({ status: 'ok', source: 'postgres' });
    for (let i = 0; i < 4; i++) expect((await bot.lookupVin(alice, HONDA)).status).toBe('ok');
    // The in-memory insurance limiter still enforces the limit.
    expect((await bot.lookupVin(alice, HONDA)).status).toBe('rate_limited');
    expect((await bot.resumeSession(s.id))!.data).toMatchObject({ lastVin: HONDA, lookups: 1 });
    expect(await bot.endSession(s.id)).toBe(true);
    expect(await bot.resumeSession(s.id)).toBeNull();
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(bot.stats().cache.breaker).not.toBe('closed');
    expect(bot.decoder.calls + other.decoder.calls).toBe(1);
  });

  it('the demo runs end to end', async () => {
    const namespace = `vinbot-test:${process.pid}:${randomBytes(4).toString('hex')}`;
    prefixes.add(namespace);
    const logger = recorder();
    const result = await runVinBot({ ferry, redis: REDIS_URL, namespace, decoderLatencyMs: 0, logger });
    expect(result).toEqual({ decoderCalls: 2, rateLimited: true, history: 4 });
    expect(logger.lines.join('\n')).toMatch(/Cache hit for VIN: 1HGBH41JXMN109186/);
    expect(logger.lines.join('\n')).toMatch(/session ended: gone/);
  });
});
