/**
 * ferry/ops metrics, scraped through a real node:http server and parsed with
 * the strict exposition parser of test/support/prom-text.ts (prom-client 15
 * ships no parser), on both backends: values must move with real work.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { Counter as PromCounter, Registry } from 'prom-client';
import { beforeAll, beforeEach, expect, it } from 'vitest';
import { cachedRepository, createCache } from '../../src/cache/index.js';
import type { DbHandle } from '../../src/db/open.js';
import { openDatabase } from '../../src/db/open.js';
import { defineImport } from '../../src/import/define.js';
import { runImport } from '../../src/import/loader.js';
import type { Source, SourceRecord } from '../../src/import/source.js';
import { Ferry } from '../../src/index.js';
import { createMetrics, type Metrics, type MetricsOptions } from '../../src/ops/index.js';
import { createRateLimiter } from '../../src/rate-limit/index.js';
import { defineSchema, integer, serial, table, text, varchar } from '../../src/schema/index.js';
import type { DatabaseOf } from '../../src/schema/infer.js';
import { createSessionStore } from '../../src/sessions/index.js';
import { sessionTables } from '../../src/sessions/tables.js';
import { autoCleanup, makeCache, uniqueNamespace } from '../cache/support/redis.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { conventionProblems, type Family, parsePromText, sampleValue } from '../support/prom-text.js';
import { sparePort } from '../support/redis-server.js';

autoCleanup();

const widgets = table('widgets', {
  id: serial().primaryKey(),
  name: varchar(64).notNull().unique(),
  size: integer().notNull().default(0),
  note: text(),
});
const { sessions } = sessionTables({ names: { sessions: 'metrics_sessions' } });
const schema = { widgets, sessions };
type DB = DatabaseOf<typeof schema>;

/** A node:http server around `metrics.handler` on a loopback port; `scrape()` GETs and parses it. */
async function serve(metrics: Metrics) {
  const server = http.createServer((req, res) => metrics.handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  return {
    url,
    async scrape(): Promise<Map<string, Family>> {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      return parsePromText(await res.text());
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const histogramCount = (f: Map<string, Family>, labels: Record<string, string>) =>
  sampleValue(f, 'ferry_db_query_duration_seconds_count', labels) ?? 0;

describeEachBackend('metrics', (t) => {
  // One handle per file (PGlite allows one opener of a data dir); the Ferry wraps it, so
  // repositories and raw sessions report to the same observer slot.
  let handle: DbHandle;
  let ferry: Ferry<DB>;
  /** Metrics on the suite's database with a registry of their own, closed after `fn`. */
  async function withMetrics(
    options: MetricsOptions,
    fn: (m: Metrics, scrape: () => Promise<Map<string, Family>>) => Promise<void>,
  ): Promise<void> {
    const m = createMetrics(ferry, { registry: new Registry(), sampleInterval: 0, ...options });
    try {
      await fn(m, async () => parsePromText(await m.text()));
    } finally {
      m.close();
    }
  }

  beforeAll(async () => {
    handle = await t.open();
    ferry = new Ferry<DB>(handle, defineSchema(schema), {});
    await ferry.createSchema();
  });
  beforeEach(async () => {
    await sql`truncate widgets restart identity`.execute(ferry.db);
  });

  it('serves a valid exposition over node:http whose names and labels follow Prometheus conventions', async () => {
    await withMetrics({}, async (m) => {
      const server = await serve(m);
      try {
        await ferry.repo(widgets).insert({ name: 'conv' });
        await ferry
          .repo(widgets)
          .insert({ name: 'conv' })
          .catch(() => {});
        await m.sample();
        const families = await server.scrape();
        expect(conventionProblems(families)).toEqual([]);
        for (const name of [
          'ferry_db_pool_connections',
          'ferry_db_pool_max_connections',
          'ferry_db_pool_waiting_requests',
          'ferry_db_pool_acquire_wait_seconds',
          'ferry_db_pool_acquire_timeouts_total',
          'ferry_db_query_duration_seconds',
          'ferry_db_slow_queries_total',
          'ferry_db_query_errors_total',
          'ferry_db_size_bytes',
          'ferry_db_table_size_bytes',
          'ferry_metrics_last_sample_timestamp_seconds',
          'ferry_metrics_sample_errors_total',
        ]) {
          expect(families.has(name), name).toBe(true);
        }
        expect(families.get('ferry_db_query_duration_seconds')!.type).toBe('histogram');
        expect(families.get('ferry_db_pool_connections')!.type).toBe('gauge');
        expect(families.get('ferry_db_query_errors_total')!.type).toBe('counter');
        // Other methods are refused; HEAD answers headers only.
        expect((await fetch(server.url, { method: 'POST' })).status).toBe(405);
        const head = await fetch(server.url, { method: 'HEAD' });
        expect(head.status).toBe(200);
        expect(await head.text()).toBe('');
      } finally {
        await server.close();
      }
    });
  });

  it('repository calls move the duration histogram of their operation and table', async () => {
    await withMetrics({}, async (_m, scrape) => {
      const before = await scrape();
      const repo = ferry.repo(widgets);
      const a = await repo.insert({ name: 'a', size: 1 });
      await repo.insert([{ name: 'b' }, { name: 'c' }]);
      for (let i = 0; i < 3; i++) await repo.get(a.id);
      await repo.findMany({ where: { size: 1 } });
      await repo.update(a.id, { size: 2 });
      await repo.delete({ name: 'c' });
      await repo.count();
      // Inside a transaction too: its repositories share the handle's observer.
      await ferry.transaction(async (tx) => {
        await tx.repo(widgets).upsert({ name: 'd', size: 4 }, { conflict: ['name'] });
      });
      const after = await scrape();
      const moved = (operation: string) =>
        histogramCount(after, { operation, table: 'widgets' }) -
        histogramCount(before, { operation, table: 'widgets' });
      expect(moved('insert')).toBe(2);
      expect(moved('get')).toBe(3);
      expect(moved('findMany')).toBe(1);
      expect(moved('update')).toBe(1);
      expect(moved('delete')).toBe(1);
      expect(moved('count')).toBe(1);
      expect(moved('upsert')).toBe(1);
      expect(moved('page')).toBe(0);
      const sum = (f: Map<string, Family>) =>
        sampleValue(f, 'ferry_db_query_duration_seconds_sum', { operation: 'get', table: 'widgets' }) ?? 0;
      expect(sum(after)).toBeGreaterThan(sum(before));
    });
  });

  it('a failing repository call counts an error by its code', async () => {
    await withMetrics({}, async (_m, scrape) => {
      const repo = ferry.repo(widgets);
      await repo.insert({ name: 'dup' });
      const errors = (f: Map<string, Family>) =>
        sampleValue(f, 'ferry_db_query_errors_total', { table: 'widgets', code: 'E_CONSTRAINT' }) ?? 0;
      expect(errors(await scrape())).toBe(0);
      await expectFerryError(repo.insert({ name: 'dup' }), 'E_CONSTRAINT');
      await expectFerryError(repo.insert({ name: 'dup' }), 'E_CONSTRAINT');
      expect(errors(await scrape())).toBe(2);
      // The failed calls are in the histogram too (they took time).
      expect(histogramCount(await scrape(), { operation: 'insert', table: 'widgets' })).toBe(3);
    });
  });

  it('pool gauges follow poolStats(), and checkouts are timed', async () => {
    await withMetrics({}, async (_m, scrape) => {
      let f = await scrape();
      const stats = ferry.poolStats();
      expect(sampleValue(f, 'ferry_db_pool_max_connections')).toBe(t.backend === 'postgres' ? 10 : 1);
      const idle = sampleValue(f, 'ferry_db_pool_connections', { state: 'idle' })!;
      const inUse = sampleValue(f, 'ferry_db_pool_connections', { state: 'in_use' })!;
      expect(idle + inUse).toBe(stats.total);
      expect(sampleValue(f, 'ferry_db_pool_waiting_requests')).toBe(0);
      expect(sampleValue(f, 'ferry_db_pool_acquire_timeouts_total')).toBe(0);
      const waits = sampleValue(f, 'ferry_db_pool_acquire_wait_seconds_count')!;
      // A transaction holds a connection: seen as in use while it is open.
      await ferry.transaction(async (tx) => {
        await tx.repo(widgets).insert({ name: 'in-tx' });
        f = await scrape();
        expect(sampleValue(f, 'ferry_db_pool_connections', { state: 'in_use' })).toBeGreaterThanOrEqual(1);
      });
      await ferry.repo(widgets).get(1);
      f = await scrape();
      // The transaction's checkout and the get's.
      expect(sampleValue(f, 'ferry_db_pool_acquire_wait_seconds_count')).toBeGreaterThanOrEqual(waits + 2);
    });
  });

  it('sampled gauges appear after a sample, not per scrape', async () => {
    await withMetrics({}, async (m, scrape) => {
      // Before the first sample: unlabelled gauges read 0 (prom-client always exports them), the
      // per-table ones are absent, and the sample timestamp 0 says nothing was sampled yet.
      let f = await scrape();
      expect(sampleValue(f, 'ferry_db_size_bytes')).toBe(0);
      expect(sampleValue(f, 'ferry_metrics_last_sample_timestamp_seconds')).toBe(0);
      expect(sampleValue(f, 'ferry_db_table_size_bytes', { table: 'widgets' })).toBeUndefined();
      await m.sample();
      f = await scrape();
      expect(sampleValue(f, 'ferry_db_size_bytes')).toBeGreaterThan(0);
      expect(sampleValue(f, 'ferry_db_table_size_bytes', { table: 'widgets' })).toBeGreaterThan(0);
      expect(sampleValue(f, 'ferry_metrics_last_sample_timestamp_seconds')).toBeGreaterThan(0);
      expect(sampleValue(f, 'ferry_metrics_sample_errors_total')).toBe(0);
      // Scrapes run no query: the checkout count does not move.
      const waits = sampleValue(f, 'ferry_db_pool_acquire_wait_seconds_count');
      await scrape();
      f = await scrape();
      expect(sampleValue(f, 'ferry_db_pool_acquire_wait_seconds_count')).toBe(waits);
      // A table created later shows up at the next sample, and goes when dropped.
      await sql`create table metrics_later (id int primary key)`.execute(handle.db);
      await m.sample();
      f = await scrape();
      expect(sampleValue(f, 'ferry_db_table_size_bytes', { table: 'metrics_later' })).toBeGreaterThan(0);
      await sql`drop table metrics_later`.execute(handle.db);
      await m.sample();
      f = await scrape();
      expect(sampleValue(f, 'ferry_db_table_size_bytes', { table: 'metrics_later' })).toBeUndefined();
    });
  });

  it('samples on its interval, with an unref timer that close() stops', async () => {
    const m = createMetrics(handle, { registry: new Registry(), sampleInterval: 50 });
    try {
      let stamp: number | undefined;
      for (let i = 0; i < 200 && stamp === undefined; i++) {
        await new Promise((r) => setTimeout(r, 20));
        stamp = sampleValue(parsePromText(await m.text()), 'ferry_metrics_last_sample_timestamp_seconds');
      }
      expect(stamp).toBeGreaterThan(0);
      // Let a sample in flight finish (the timer cannot fire between this await and close()).
      await m.sample();
    } finally {
      m.close();
    }
    // Stopped: over several intervals, no sample checks a connection out any more.
    await withMetrics({}, async (_m, scrape) => {
      await new Promise((r) => setTimeout(r, 300));
      expect(sampleValue(await scrape(), 'ferry_db_pool_acquire_wait_seconds_count')).toBe(0);
    });
  });

  it('raw SQL through handle.session() is timed as operation raw; slow queries and SQLSTATE errors are counted', async () => {
    await withMetrics({ slowQuery: '20ms' }, async (_m, scrape) => {
      await handle.session(async (s) => {
        await s.query('select 1');
        // pg_sleep guarantees the lower bound: this one is slow on any machine.
        await s.query('select pg_sleep(0.05)');
        await s.query('select * from no_such_table').catch(() => {});
      });
      const f = await scrape();
      expect(sampleValue(f, 'ferry_db_query_duration_seconds_count', { operation: 'raw', table: '' })).toBe(3);
      expect(sampleValue(f, 'ferry_db_slow_queries_total', { operation: 'raw', table: '' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(f, 'ferry_db_query_errors_total', { table: '', code: '42P01' })).toBe(1);
    });
    // An hour-long threshold counts nothing as slow.
    await withMetrics({ slowQuery: '1h' }, async (_m, scrape) => {
      await handle.session((s) => s.query('select pg_sleep(0.01)'));
      expect(
        sampleValue(await scrape(), 'ferry_db_slow_queries_total', { operation: 'raw', table: '' }),
      ).toBeUndefined();
    });
  });

  it('migration state is sampled: applied, pending, drift', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ferry-metrics-mig-'));
    const historyTable = 'metrics_migrations';
    try {
      await mkdir(path.join(dir, '20240101000000_first'));
      await writeFile(path.join(dir, '20240101000000_first', 'up.sql'), 'create table metrics_m1 (id int);\n');
      await mkdir(path.join(dir, '20240102000000_second'));
      await writeFile(path.join(dir, '20240102000000_second', 'up.sql'), 'create table metrics_m2 (id int);\n');
      await ferry.migrator({ dir, table: historyTable }).up({ to: '20240101000000_first' });
      await withMetrics({ migrations: { dir, table: historyTable } }, async (m, scrape) => {
        await m.sample();
        let f = await scrape();
        expect(sampleValue(f, 'ferry_migrations_applied')).toBe(1);
        expect(sampleValue(f, 'ferry_migrations_pending')).toBe(1);
        expect(sampleValue(f, 'ferry_migrations_drift', { code: 'E_MIGRATION_CHECKSUM' })).toBe(0);
        // Edit the applied file: drift; apply the other: nothing pending.
        await writeFile(path.join(dir, '20240101000000_first', 'up.sql'), 'create table metrics_m1 (id bigint);\n');
        await m.sample();
        f = await scrape();
        expect(sampleValue(f, 'ferry_migrations_drift', { code: 'E_MIGRATION_CHECKSUM' })).toBe(1);
        expect(sampleValue(f, 'ferry_migrations_pending')).toBe(1);
      });
    } finally {
      await sql`drop table if exists metrics_m1, metrics_m2, ${sql.table(historyTable)}`.execute(handle.db);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('cache requests are counted by tier and result (real Redis)', async () => {
    const ns = uniqueNamespace('metrics');
    const cache = await makeCache({ namespace: ns });
    const other = await makeCache({ namespace: uniqueNamespace('metrics') });
    const twin = await makeCache({ namespace: ns });
    await Promise.all([cache.ready(), other.ready(), twin.ready()]);
    await withMetrics({ cache: [cache, other] }, async (_m, scrape) => {
      const row = await ferry.repo(widgets).insert({ name: 'cached' });
      const view = cachedRepository(ferry.repo(widgets), cache, { ttl: '1h' });
      await view.get(row.id); // L1 miss, L2 miss, loaded
      await view.get(row.id); // L1 hit
      await view.get(row.id); // L1 hit
      await cachedRepository(ferry.repo(widgets), twin, { ttl: '1h' }).get(row.id); // fills nothing of `cache`
      const f = await scrape();
      const req = (c: string, tier: string, result: string) =>
        sampleValue(f, 'ferry_cache_requests_total', { cache: c, tier, result });
      const s = cache.stats();
      expect(s.l1.hits).toBe(2);
      expect(req(ns, 'l1', 'hit')).toBe(2);
      expect(req(ns, 'l1', 'miss')).toBe(s.l1.misses);
      expect(req(ns, 'l2', 'miss')).toBe(s.l2.misses);
      expect(req(ns, 'l2', 'hit')).toBe(s.l2.hits);
      expect(s.l1.misses).toBeGreaterThanOrEqual(1);
      // The untouched cache reports zeros under its own name.
      expect(req(other.namespace, 'l1', 'hit')).toBe(0);
      expect(sampleValue(f, 'ferry_cache_loads_total', { cache: ns, result: 'ok' })).toBe(1);
      expect(sampleValue(f, 'ferry_cache_invalidations_replayed_total', { cache: ns })).toBe(0);
      expect(sampleValue(f, 'ferry_cache_l1_entries', { cache: ns })).toBe(s.l1.entries);
      expect(conventionProblems(f)).toEqual([]);
      // Counters keep counting between scrapes.
      await view.get(row.id);
      expect(sampleValue(await scrape(), 'ferry_cache_requests_total', { cache: ns, tier: 'l1', result: 'hit' })).toBe(
        3,
      );
    });
  });

  it('breaker state: closed with Redis up, not closed when Redis refuses connections', async () => {
    const up = await makeCache({ namespace: uniqueNamespace('metrics') });
    await up.ready();
    const port = await sparePort(); // nobody listens there: connections are refused
    const down = createCache({
      namespace: uniqueNamespace('metrics'),
      redis: `redis://127.0.0.1:${port}`,
      logger: false,
    });
    try {
      expect(await down.ready(300)).toBe(false);
      await withMetrics({ cache: [up, down] }, async (_m, scrape) => {
        const f = await scrape();
        const state = (c: { namespace: string }, s: string) =>
          sampleValue(f, 'ferry_cache_breaker_state', { cache: c.namespace, state: s });
        expect(state(up, 'closed')).toBe(1);
        expect(state(up, 'open')).toBe(0);
        const now = down.stats().breaker;
        expect(now).not.toBe('closed');
        expect(state(down, now)).toBe(1);
        expect(state(down, 'closed')).toBe(0);
      });
    } finally {
      await down.close();
    }
  });

  it('rate-limit decisions are counted by decision and store', async () => {
    const limiter = createRateLimiter({
      redis: 'redis://127.0.0.1:6379',
      points: 2,
      duration: '60s',
      keyPrefix: `ferrytest:metrics:${process.pid}:${Date.now()}`,
      logger: false,
    });
    const memoryOnly = createRateLimiter({ redis: null, points: 1, duration: '60s', keyPrefix: 'ferrytest:mem' });
    try {
      await withMetrics({ rateLimiter: [limiter, memoryOnly] }, async (_m, scrape) => {
        for (let i = 0; i < 3; i++) await limiter.consume('user-1');
        await memoryOnly.consume('k');
        await memoryOnly.consume('k');
        const f = await scrape();
        const d = (l: { keyPrefix: string }, decision: string, store: string) =>
          sampleValue(f, 'ferry_rate_limit_decisions_total', { limiter: l.keyPrefix, decision, store });
        const s = limiter.stats();
        expect(s.allowed.redis + s.allowed.memory).toBe(2);
        expect(s.rejected.redis + s.rejected.memory).toBe(1);
        expect(d(limiter, 'allowed', 'redis')).toBe(s.allowed.redis);
        expect(d(limiter, 'rejected', 'redis')).toBe(s.rejected.redis);
        expect(d(limiter, 'allowed', 'memory')).toBe(s.allowed.memory);
        expect(d(memoryOnly, 'allowed', 'memory')).toBe(1);
        expect(d(memoryOnly, 'rejected', 'memory')).toBe(1);
        expect(d(memoryOnly, 'allowed', 'redis')).toBe(0);
        expect(sampleValue(f, 'ferry_rate_limit_breaker_state', { limiter: memoryOnly.keyPrefix, state: 'off' })).toBe(
          1,
        );
      });
    } finally {
      await limiter.close();
      await memoryOnly.close();
    }
  });

  it('observeImport counts records, rows by table and rejects from a real import', async () => {
    const items = [
      { name: 'w1', size: 1 },
      { name: 'w2', size: 2 },
      { name: 'w3', size: 'big' },
      { name: 'w4', size: 4 },
    ];
    const source: Source = {
      label: 'array',
      async *records(): AsyncGenerator<SourceRecord> {
        for (const [index, value] of items.entries()) yield { kind: 'record', value, loc: { source: 'array', index } };
      },
      files: async () => [],
      estimate: async () => ({ records: items.length }),
    };
    const definition = defineImport({
      name: 'metrics-widgets',
      schema: { widgets },
      source,
      tables: { widgets: { key: ['name'] } },
      map: (rec: { name: string; size: unknown }) => ({ widgets: { name: rec.name, size: rec.size as number } }),
    });
    await withMetrics({}, async (m, scrape) => {
      const watch = m.observeImport('widgets');
      let progressCalls = 0;
      const report = await runImport({
        db: handle,
        definition,
        batchSize: 2,
        onProgress: (p) => {
          progressCalls++;
          watch.onProgress(p);
        },
      });
      // Progress alone already moved the run's counters.
      const mid = await scrape();
      expect(progressCalls).toBeGreaterThanOrEqual(2);
      expect(sampleValue(mid, 'ferry_import_records_total', { import: 'widgets' })).toBe(4);
      watch.finish(report);
      const f = await scrape();
      const labels = { import: 'widgets' };
      expect(report.records).toBe(4);
      expect(sampleValue(f, 'ferry_import_records_total', labels)).toBe(4);
      expect(report.tables.widgets!.inserted).toBe(3);
      expect(
        sampleValue(f, 'ferry_import_table_rows_total', { ...labels, table: 'widgets', outcome: 'inserted' }),
      ).toBe(3);
      expect(sampleValue(f, 'ferry_import_rows_written_total', labels)).toBe(3);
      expect(report.tables.widgets!.rejected).toBe(1);
      expect(sampleValue(f, 'ferry_import_table_rejects_total', { ...labels, table: 'widgets' })).toBe(1);
      expect(sampleValue(f, 'ferry_import_rejected_records_total', labels)).toBe(report.rejectedRecords);
      expect(sampleValue(f, 'ferry_import_runs_total', { ...labels, mode: 'run' })).toBe(1);
      expect(conventionProblems(f)).toEqual([]);
    });
  });

  it('active sessions are sampled from the sessions table; store counters read at scrape time', async () => {
    const store = createSessionStore({ redis: null, ttl: '1h' });
    try {
      const hour = 3_600_000;
      const now = Date.now();
      const row = (jti: string, expiresIn: number, revoked = false) => ({
        user_id: 'u1',
        access_jti: jti,
        created_at: new Date(now),
        last_activity: new Date(now),
        expires_at: new Date(now + expiresIn),
        revoked,
      });
      await withMetrics({ sessions: store, sessionsTable: 'metrics_sessions' }, async (m, scrape) => {
        await ferry.repo(sessions).insert([row('a', hour), row('b', hour), row('c', hour, true), row('d', -hour)]);
        await m.sample();
        let f = await scrape();
        expect(sampleValue(f, 'ferry_sessions_active')).toBe(2);
        expect(sampleValue(f, 'ferry_sessions_pending_revocations')).toBe(store.stats().pendingRevocations);
        expect(sampleValue(f, 'ferry_sessions_revocations_replayed_total')).toBe(0);
        await ferry.repo(sessions).update({ access_jti: 'a' }, { revoked: true });
        await m.sample();
        f = await scrape();
        expect(sampleValue(f, 'ferry_sessions_active')).toBe(1);
      });
    } finally {
      await sql`truncate metrics_sessions`.execute(handle.db);
      await store.close();
    }
  });

  it.runIf(t.backend === 'postgres')('checkout timeouts are counted (Postgres pool exhausted)', async () => {
    const small = await openDatabase({ url: t.url(), pool: { max: 1, connectionTimeoutMillis: 200 } });
    const m = createMetrics(small, { registry: new Registry(), sampleInterval: 0 });
    try {
      await small.session(async () => {
        // The only connection is held: this checkout waits its 200 ms out and gives up.
        await expectFerryError(sql`select 1`.execute(small.db), 'E_CONNECT', /no pooled connection became free/);
      });
      const f = parsePromText(await m.text());
      expect(sampleValue(f, 'ferry_db_pool_acquire_timeouts_total')).toBe(1);
      // Both checkouts are in the wait histogram: the session's and the one that timed out.
      expect(sampleValue(f, 'ferry_db_pool_acquire_wait_seconds_count')).toBe(2);
      expect(sampleValue(f, 'ferry_db_pool_max_connections')).toBe(1);
    } finally {
      m.close();
      await small.close();
    }
  });

  it('merges into the app registry, refuses a second observer, and close() detaches cleanly', async () => {
    const registry = new Registry();
    const mine = new PromCounter({ name: 'app_requests_total', help: 'the app', registers: [registry] });
    mine.inc(5);
    const first = createMetrics(handle, { registry, prefix: 'svc_', sampleInterval: 0 });
    try {
      const f = parsePromText(await registry.metrics());
      expect(sampleValue(f, 'app_requests_total')).toBe(5);
      expect(f.has('svc_db_query_duration_seconds')).toBe(true);
      expect(f.has('ferry_db_query_duration_seconds')).toBe(false);
      // Ferry and its handle share one slot: a second createMetrics on either is refused.
      expect(() => createMetrics(ferry, { registry: new Registry(), sampleInterval: 0 })).toThrow(
        /already has a query observer/,
      );
      expect(handle.observers.current).toBeDefined();
    } finally {
      first.close();
      first.close();
    }
    expect(handle.observers.current).toBeUndefined();
    expect([...parsePromText(await registry.metrics()).keys()]).toEqual(['app_requests_total']);
    // A name clash in the registry: E_CONFIG, and nothing left behind (no observer, no half of the metrics).
    const clash = new PromCounter({ name: 'svc_db_query_errors_total', help: 'taken', registers: [registry] });
    clash.inc();
    expect(() => createMetrics(handle, { registry, prefix: 'svc_', sampleInterval: 0 })).toThrow(
      /already has a metric named svc_db_query_errors_total/,
    );
    expect(handle.observers.current).toBeUndefined();
    expect([...parsePromText(await registry.metrics()).keys()].sort()).toEqual([
      'app_requests_total',
      'svc_db_query_errors_total',
    ]);
    expect(() => createMetrics(handle, { prefix: '1bad', sampleInterval: 0 })).toThrow(/prefix "1bad"/);
    expect(() => createMetrics(handle, { slowQuery: 'soon' as never })).toThrow(/slowQuery/);
    // Detached: a new createMetrics may attach, and sees only what happens after it.
    await ferry.repo(widgets).count();
    const second = createMetrics(handle, { registry: new Registry(), sampleInterval: 0 });
    try {
      await ferry.repo(widgets).count();
      const f = parsePromText(await second.text());
      expect(histogramCount(f, { operation: 'count', table: 'widgets' })).toBe(1);
    } finally {
      second.close();
    }
  });
});
