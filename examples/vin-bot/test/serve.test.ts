/**
 * The VIN bot service's operations endpoints (issue 14): /livez, /readyz and
 * /metrics served beside the lookup API, and a graceful stop.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeEachBackend } from '../../../test/support/backends.js';
import { serveVinBot, type VinBotService } from '../serve.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

describeEachBackend('vin-bot service: ops endpoints', (t) => {
  let service: VinBotService;
  beforeAll(async () => {
    service = await serveVinBot({
      url: t.url(),
      redis: REDIS_URL,
      namespace: `vinsrv${randomBytes(4).toString('hex')}`,
    });
  });
  afterAll(() => service?.ferry.shutdown());

  const get = async (path: string) => {
    const res = await fetch(`${service.ops.url}${path}`);
    return { status: res.status, body: await res.text() };
  };

  it('serves lookups, /livez, /readyz with every check, and /metrics counting the lookups', async () => {
    expect(await get('/livez')).toEqual({ status: 200, body: 'ok\n' });
    await vi.waitFor(async () => {
      const ready = await get('/readyz?verbose');
      expect(ready.status).toBe(200);
      for (const check of [service.ferry.backend, 'pool', 'migrations', 'cache', 'sessions']) {
        expect(ready.body).toMatch(new RegExp(`^\\[\\+\\]${check} ok`, 'm'));
      }
    });
    const lookup = await get('/vin/1HGBH41JXMN109186?user=77');
    expect(lookup.status).toBe(200);
    expect(JSON.parse(lookup.body)).toMatchObject({ status: 'ok', vehicle: { make: 'Honda' } });
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^ferry_db_query_duration_seconds_count\{[^}]*table="vehicles"[^}]*\} [1-9]/m);
    expect(metrics.body).toMatch(/^ferry_rate_limit_decisions_total\{[^}]*\} [1-9]/m);
    expect(metrics.body).toMatch(/^ferry_cache_requests_total\{/m);
  });

  it('shutdown: readiness 503 while draining, then the bot and the pools close', async () => {
    const stopping = service.ferry.shutdown({ delay: 300, servers: [service.ops.server] });
    const during = await get('/readyz');
    expect(during.status).toBe(503);
    const report = await stopping;
    expect(report).toMatchObject({ drained: true, errors: [] });
    await expect(get('/livez')).rejects.toThrow();
    await expect(service.bot.cache.get('x')).rejects.toMatchObject({ code: 'E_CACHE_CLOSED' });
  });
});
