/**
 * The Kuya Comps service on each backend, through its HTTP endpoints: the
 * three search tiers, the analytics against numbers computed here from known
 * snapshots, saved-search alerts at their threshold, the CSV export against
 * the table, and the ops endpoints.
 */
import { randomBytes } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { describeEachBackend } from '../../../test/support/backends.js';
import { summarize } from '../pricing.js';
import { type CompsService, serveComps } from '../serve.js';
import { searchKey, writeSnapshot } from '../store.js';
import { cardIdentifier, createUpstream, generateListings } from '../upstream.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const MINUTE = 60_000;
const DAY = 86_400_000;

describeEachBackend('comps service', (t) => {
  let service: CompsService;
  // The service's clock: freshness and snapshot days follow it, so tests move it instead of waiting.
  let clock = new Date();
  const upstream = createUpstream({ delayMs: 1, now: () => clock });
  beforeAll(async () => {
    service = await serveComps({
      url: t.url(),
      redis: REDIS_URL,
      namespace: `comps${randomBytes(4).toString('hex')}`,
      upstream,
      now: () => clock,
    });
    expect(await service.comps.cache.ready()).toBe(true);
  });
  afterAll(() => service?.ferry.shutdown());

  const get = async (path: string) => {
    const res = await fetch(`${service.ops.url}${path}`);
    return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
  };
  const getJson = async (path: string) => {
    const res = await get(path);
    expect(res.status, res.body).toBe(200);
    return JSON.parse(res.body);
  };

  it('searches: Redis first, then the database while fresh, then the upstream', async () => {
    const q = 'Luis Robert 2020 Topps Chrome';
    const path = `/comps?q=${encodeURIComponent(q)}&raw_only=1`;
    const calls = upstream.calls;

    const first = await getJson(path);
    expect(first.source).toBe('upstream');
    const day = clock.toISOString().slice(0, 10);
    const expected = generateListings('sold', q, { raw_only: true }, day);
    expect(first.items).toEqual(expected);
    expect(first.summary).toEqual(summarize(expected));
    expect(upstream.calls).toBe(calls + 1);

    expect((await getJson(path)).source).toBe('redis');
    // Redis lost the entry: the database still has a fresh copy, equal to what the upstream said.
    await service.comps.cache.delete(searchKey('sold', q, { raw_only: true }));
    const fromDb = await getJson(path);
    expect(fromDb.source).toBe('database');
    expect(fromDb.items).toEqual(expected);
    expect(fromDb.fetched_at).toBe(first.fetched_at);
    expect(upstream.calls).toBe(calls + 1);

    // 29 minutes on the database copy is still fresh; at 31 the Redis copy (still in Redis: real TTL)
    // and the database's are both too old, so the upstream is asked again.
    clock = new Date(clock.getTime() + 29 * MINUTE);
    await service.comps.cache.delete(searchKey('sold', q, { raw_only: true }));
    expect((await getJson(path)).source).toBe('database');
    clock = new Date(clock.getTime() + 2 * MINUTE);
    expect((await getJson(path)).source).toBe('upstream');
    expect(upstream.calls).toBe(calls + 2);

    // Active listings keep 5 minutes.
    const active = `/active?q=${encodeURIComponent(q)}`;
    expect((await getJson(active)).source).toBe('upstream');
    expect((await getJson(active)).source).toBe('redis');
    clock = new Date(clock.getTime() + 6 * MINUTE);
    expect((await getJson(active)).source).toBe('upstream');

    const { rows } = await sql<{ source: string; n: string }>`
      select source, count(*) as n from searches where query = ${q} group by source order by source`.execute(
      service.ferry.db,
    );
    expect(rows.map((r) => [r.source, Number(r.n)])).toEqual([
      ['database', 2],
      ['redis', 2],
      ['upstream', 4],
    ]);
  });

  it('analytics: daily series, 7- and 30-day moving averages, low, high and % change', async () => {
    const card = 'Analytics Test Card';
    const today = Date.parse(`${clock.toISOString().slice(0, 10)}T00:00:00Z`);
    // 45 days back, with gaps (every third day missing), prices in cents known here.
    const known = new Map<string, number>();
    for (let back = 44; back >= 0; back--) {
      if (back % 3 === 1) continue;
      const date = new Date(today - back * DAY).toISOString().slice(0, 10);
      const cents = 5_000 + ((back * 7_919) % 3_001);
      known.set(date, cents);
      await writeSnapshot(service.ferry, { card_identifier: card, snapshot_date: date, market_value: cents / 100 });
    }
    // A later snapshot of a day replaces the earlier one.
    const replaced = new Date(today - 2 * DAY).toISOString().slice(0, 10);
    known.set(replaced, 4_321);
    await writeSnapshot(service.ferry, { card_identifier: card, snapshot_date: replaced, market_value: 43.21 });

    const trend = await getJson(`/analytics?card=${encodeURIComponent(card)}&days=20`);
    const mean = (date: string, days: number) => {
      const end = Date.parse(`${date}T00:00:00Z`);
      const inWindow = [...known].filter(([d]) => {
        const at = Date.parse(`${d}T00:00:00Z`);
        return at <= end && at > end - days * DAY;
      });
      return inWindow.reduce((s, [, c]) => s + c, 0) / inWindow.length / 100;
    };
    const period = [...known].filter(([d]) => Date.parse(`${d}T00:00:00Z`) > today - 20 * DAY).sort();
    expect(trend.card).toBe(cardIdentifier(card));
    expect(trend.points.map((p: { date: string }) => p.date)).toEqual(period.map(([d]) => d));
    for (const p of trend.points) {
      expect(p.market_value).toBe((known.get(p.date) as number) / 100);
      expect(Math.abs(p.ma7 - mean(p.date, 7))).toBeLessThanOrEqual(0.0051);
      expect(Math.abs(p.ma30 - mean(p.date, 30))).toBeLessThanOrEqual(0.0051);
    }
    // The 30-day average of the first day reaches back before the period.
    expect(trend.points[0].ma30).not.toBe(trend.points[0].ma7);
    const values = period.map(([, c]) => c);
    const lowCents = Math.min(...values);
    const highCents = Math.max(...values);
    expect(trend.low).toEqual({ date: period.find(([, c]) => c === lowCents)?.[0], market_value: lowCents / 100 });
    expect(trend.high).toEqual({ date: period.find(([, c]) => c === highCents)?.[0], market_value: highCents / 100 });
    const first = values[0] as number;
    const last = values[values.length - 1] as number;
    expect(Math.abs(trend.change_pct - ((last - first) / first) * 100)).toBeLessThanOrEqual(0.0051);
  });

  it('analytics: popular searches ranked by count', async () => {
    const cards = { [`Popular A ${t.backend}`]: 3, [`Popular B ${t.backend}`]: 2, [`Popular C ${t.backend}`]: 1 };
    for (const [card, n] of Object.entries(cards)) {
      for (let i = 0; i < n; i++) await getJson(`/active?q=${encodeURIComponent(card)}`);
    }
    const { popular } = await getJson('/analytics');
    const ours = popular.filter((p: { query: string }) => p.query.startsWith('popular '));
    expect(ours.map((p: { query: string; searches: number }) => [p.query, p.searches])).toEqual(
      Object.entries(cards).map(([card, n]) => [cardIdentifier(card), n]),
    );
    expect(ours[0].rank).toBeLessThan(ours[1].rank);
    expect(ours[1].rank).toBeLessThan(ours[2].rank);
  });

  it('alerts: a new snapshot below a saved threshold records one alert; at or above it, none', async () => {
    const q = 'Alert Test Card Prizm';
    const day = clock.toISOString().slice(0, 10);
    const market = summarize(generateListings('sold', q, {}, day))?.market_value as number;
    const save = async (email: string, threshold: number | null) => {
      const res = await fetch(`${service.ops.url}/saved-searches`, {
        method: 'POST',
        body: JSON.stringify({ email, name: 'prizm', query: `  ${q.toUpperCase()} `, alert_threshold: threshold }),
      });
      expect(res.status).toBe(201);
    };
    await save('below@example.com', market + 0.01);
    await save('equal@example.com', market);
    await save('none@example.com', null);
    expect((await getJson(`/comps?q=${encodeURIComponent(q)}`)).source).toBe('upstream');

    const fired = await getJson('/alerts?email=below@example.com');
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ card_identifier: cardIdentifier(q), snapshot_date: day, name: 'prizm' });
    expect(Number(fired[0].price)).toBe(market);
    expect(await getJson('/alerts?email=equal@example.com')).toEqual([]);
    expect(await getJson('/alerts?email=none@example.com')).toEqual([]);

    // The same day's snapshot updated (a fresh fetch 31 minutes later): still one alert for the day.
    clock = new Date(clock.getTime() + 31 * MINUTE);
    if (clock.toISOString().slice(0, 10) === day) {
      expect((await getJson(`/comps?q=${encodeURIComponent(q)}`)).source).toBe('upstream');
      expect(await getJson('/alerts?email=below@example.com')).toHaveLength(1);
    }
  });

  it('exports price_snapshots as CSV, equal to the rows (all, or one card)', async () => {
    const columns = ['id', 'card_identifier', 'snapshot_date', 'market_value', 'sample_size', 'updated_at'];
    const rowsOf = async (card?: string) => {
      const { rows } = await sql<Record<string, string | null>>`
        select id::text, card_identifier, snapshot_date::text, market_value::text, sample_size::text,
               extract(epoch from updated_at)::numeric(20,3)::text as updated_at
        from price_snapshots ${card ? sql`where card_identifier = ${card}` : sql``} order by price_snapshots.id`.execute(
        service.ferry.db,
      );
      return rows.map((r) => columns.map((c) => r[c] ?? ''));
    };
    const csvOf = async (path: string) => {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^text\/csv/);
      const records = parse(res.body, { columns: true }) as Record<string, string>[];
      return records
        .map((r) =>
          columns.map((c) => (c === 'updated_at' ? (Date.parse(r[c] as string) / 1000).toFixed(3) : (r[c] as string))),
        )
        .sort((a, b) => Number(a[0]) - Number(b[0]));
    };
    const all = await rowsOf();
    expect(all.length).toBeGreaterThan(10);
    expect(await csvOf('/export/prices.csv')).toEqual(all);
    const card = cardIdentifier('Analytics Test Card');
    const one = await rowsOf(card);
    expect(one.length).toBeGreaterThan(0);
    expect(one.length).toBeLessThan(all.length);
    expect(await csvOf(`/export/prices.csv?card=${encodeURIComponent('analytics TEST card')}`)).toEqual(one);
  });

  it('answers 400 and 404 for bad requests; serves /livez, /readyz and /metrics', async () => {
    expect((await get('/comps')).status).toBe(400);
    expect((await get('/alerts')).status).toBe(400);
    expect((await get('/nowhere')).status).toBe(404);
    const bad = await fetch(`${service.ops.url}/saved-searches`, { method: 'POST', body: '{"email": 1}' });
    expect(bad.status).toBe(400);
    const notJson = await fetch(`${service.ops.url}/saved-searches`, { method: 'POST', body: 'nope' });
    expect(notJson.status).toBe(400);
    expect(await get('/livez')).toMatchObject({ status: 200, body: 'ok\n' });
    await vi.waitFor(async () => {
      const ready = await get('/readyz?verbose');
      expect(ready.status).toBe(200);
      for (const check of [service.ferry.backend, 'migrations', 'cache']) {
        expect(ready.body).toMatch(new RegExp(`^\\[\\+\\]${check} ok`, 'm'));
      }
    });
    const metrics = await get('/metrics');
    expect(metrics.body).toMatch(/^ferry_db_query_duration_seconds_count\{[^}]*table="searches"[^}]*\} [1-9]/m);
    expect(metrics.body).toMatch(/^ferry_cache_requests_total\{/m);
    for (const source of ['redis', 'database', 'upstream']) {
      expect(metrics.body).toMatch(new RegExp(`^comps_searches_total\\{kind="sold",source="${source}"\\} [1-9]`, 'm'));
    }
  });
});
