/**
 * The VIN bot on Upstash-style Redis: `rediss://default:<token>@host:port`,
 * here a TLS-only redis-server of the test's own with a password and a
 * throwaway CA (test/support/tls-certs.ts), on both database backends. The
 * decode cache, the shared rate limit and the sessions go through TLS; a
 * wrong CA is a clear warning and the bot keeps answering from Postgres, the
 * decoder and its in-memory limiter.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from 'vitest';
import { connect, type Ferry } from '../../../src/index.js';
import { openRedis, type RedisConnection } from '../../../src/redis/connection.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { type OwnRedis, startRedisServer } from '../../../test/support/redis-server.js';
import { makeTestCertificates, type TestCertificates } from '../../../test/support/tls-certs.js';
import { createLocalDecoder } from '../decoder.js';
import { runVinBot } from '../demo.js';
import { appSchema, type BotLogger, createVinBot, type DB, type VinBot, type VinBotOptions } from '../vin-service.js';

const TOKEN = 'AYk9ACQgUpstashStyleToken0123456789';
const HONDA = '1HGBH41JXMN109186';
const BMW = 'WBADT43493G095554';
const alice = { id: 2001, username: 'alice' };
const bob = { id: 2002, username: 'bob' };

let dir: string;
let certs: TestCertificates;
let server: OwnRedis;
let admin: RedisConnection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vinbot-tls-'));
  certs = makeTestCertificates(dir);
  server = await startRedisServer({ tls: certs, password: TOKEN });
  admin = openRedis(server.url, { tls: { caFile: certs.caFile }, env: {} })!;
});
afterAll(async () => {
  await admin?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function keys(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin.client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== '0');
  return found;
}

function recorder(): BotLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (l) => lines.push(`INFO | ${l}`), warn: (l) => lines.push(`WARNING | ${l}`) };
}

describeEachBackend('vin-bot over rediss://', (t) => {
  let ferry: Ferry<DB>;
  const bots: VinBot[] = [];
  const bot = (options: Partial<VinBotOptions>) => {
    const b = createVinBot({
      ferry,
      redis: server.url,
      logger: recorder(),
      decoder: createLocalDecoder(),
      namespace: `vintls${randomBytes(4).toString('hex')}`,
      ...options,
    });
    bots.push(b);
    return b;
  };

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
  });

  it('the decode cache, the rate limit and the sessions go through TLS to the Redis with a password', async () => {
    const a = bot({ redisTls: { caFile: certs.caFile }, lookupsPerMinute: 3 });
    const b = bot({ redisTls: { caFile: certs.caFile }, lookupsPerMinute: 3, namespace: a.cache.namespace });
    expect(await a.cache.ready(5_000)).toBe(true);
    expect(await b.cache.ready(5_000)).toBe(true);
    expect(await a.lookupVin(alice, HONDA)).toMatchObject({ status: 'ok', source: 'decoder' });
    // The other instance finds the vehicle in Redis (the 30-day copy), not in Postgres.
    expect(await b.lookupVin(bob, HONDA)).toMatchObject({ status: 'ok', source: 'cache', vehicle: { make: 'Honda' } });
    expect(b.stats().cache.l2.hits).toBe(1);
    expect(b.decoder.calls).toBe(0);
    expect(await keys(`${a.cache.namespace}~v:vin:*`)).toEqual([`${a.cache.namespace}~v:vin:${HONDA}`]);
    // The per-minute budget is shared through Redis: alice used 1 on a, 2 more on b, the 4th is refused on a.
    expect((await b.lookupVin(alice, BMW)).status).toBe('ok');
    expect((await b.lookupVin(alice, BMW)).status).toBe('ok');
    expect((await a.lookupVin(alice, BMW)).status).toBe('rate_limited');
    expect(await keys(`${a.cache.namespace}:rate*`)).not.toEqual([]);
    // Sessions live in Redis (and Postgres): started on one instance, resumed on the other.
    const s = await a.startSession(alice);
    expect(await keys(`${a.cache.namespace}:sess*`)).not.toEqual([]);
    expect((await b.resumeSession(s.id))?.userId).toBe(String(alice.id));
    expect(await b.endSession(s.id)).toBe(true);
    expect(await a.resumeSession(s.id)).toBeNull();
  });

  it('the demo runs end to end over rediss://, the CA from REDIS_TLS_CA', async () => {
    const logger = recorder();
    const namespace = `vintls${randomBytes(4).toString('hex')}`;
    vi.stubEnv('REDIS_TLS_CA', certs.caFile);
    try {
      const result = await runVinBot({ ferry, redis: server.url, namespace, decoderLatencyMs: 0, logger });
      expect(result).toEqual({ decoderCalls: 2, rateLimited: true, history: 4 });
    } finally {
      vi.unstubAllEnvs();
    }
    const out = logger.lines.join('\n');
    expect(out).toMatch(/cache: L1 \+ Redis/);
    expect(out).not.toMatch(/Redis not reachable|WARNING/);
    expect(out).toMatch(/L2 \d+ hits \/ [1-9]\d* misses/); // it did ask Redis
    expect(out).not.toContain(TOKEN);
  });

  it('a wrong CA: one clear warning, the password unseen, and the bot keeps answering without Redis', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const logger = recorder();
      const a = bot({ redisTls: { caFile: certs.wrongCaFile }, logger, lookupsPerMinute: 3, cacheTimeoutMs: 50 });
      expect(await a.cache.ready(1_000)).toBe(false);
      await vi.waitFor(() => expect(logger.lines.join('\n')).toMatch(/WARNING \| .*Redis at rediss:/));
      const warning = logger.lines.find((l) => l.startsWith('WARNING'))!;
      expect(warning).toContain(`rediss://default:****@127.0.0.1:${server.port}`);
      expect(warning).toMatch(/TLS: .*certificate.*not trusted.*REDIS_TLS_CA=<PEM file>/);
      expect(warning).toMatch(/reads go to the loader/);
      // Lookups: the decoder, then Postgres for a second instance; the limit holds in memory.
      const s = await a.startSession(alice);
      expect(await a.lookupVin(alice, HONDA, { session: s.id })).toMatchObject({ status: 'ok', source: 'decoder' });
      const b = bot({ redisTls: { caFile: certs.wrongCaFile }, namespace: a.cache.namespace, cacheTimeoutMs: 50 });
      expect(await b.lookupVin(bob, HONDA)).toMatchObject({ status: 'ok', source: 'postgres' });
      expect((await a.lookupVin(alice, HONDA)).status).toBe('ok');
      expect((await a.lookupVin(alice, HONDA)).status).toBe('ok');
      expect((await a.lookupVin(alice, HONDA)).status).toBe('rate_limited');
      // Sessions from Postgres.
      expect((await a.resumeSession(s.id))?.data).toMatchObject({ lastVin: HONDA, lookups: 1 });
      expect(await a.endSession(s.id)).toBe(true);
      expect(a.stats().cache.breaker).not.toBe('closed');
      expect(a.decoder.calls + b.decoder.calls).toBe(1);
      // Nothing was written to Redis under this namespace.
      expect(await keys(`${a.cache.namespace}*`)).toEqual([]);
      // The session store and the rate limiter (no logger here) said it as process warnings, redacted too.
      await vi.waitFor(() => expect(warnings.join('\n')).toMatch(/createSessionStore: Redis at rediss:.*TLS: /));
      for (const text of [...logger.lines, ...warnings]) expect(text).not.toContain(TOKEN);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
