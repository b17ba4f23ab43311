/**
 * Studio's other pages over real HTTP, on both backends: the ER diagram and
 * DDL, migrations (checksums, pending, lint, drift by `migrate check`'s
 * code), import runs and their rejects (filters, paging, NDJSON, masking),
 * the cache against the real Redis, and the cutover tables.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCache } from '../../src/cache/index.js';
import { CONTROL_TABLE, ensureTables, MISMATCHES_TABLE } from '../../src/cutover/tables.js';
import type { DbHandle } from '../../src/db/open.js';
import { checkpointStatement, emptyStats, ensureStateTables, insertRejects } from '../../src/import/state.js';
import { Migrator } from '../../src/migrate/runner.js';
import { serial, table, text } from '../../src/schema/index.js';
import { defineSchema } from '../../src/schema/schema.js';
import type { CacheResponse, MigrationsResponse, RejectsResponse, SchemaResponse } from '../../src/studio/api.js';
import { describeEachBackend } from '../support/backends.js';
import { tempDirs } from '../support/temp-dirs.js';
import { call, createModel, type Served, serve } from './fixture.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const newDir = tempDirs('ferry-studio-');

describeEachBackend('studio pages', (t) => {
  let handle: DbHandle;
  let served: Served;

  beforeAll(async () => {
    handle = await t.open();
    await createModel(handle);
    served = await serve(handle);
  });
  afterAll(() => served?.close());

  it('draws the ER diagram and prints the DDL of the schema', async () => {
    const { status, body } = await call<SchemaResponse>(served, 'GET', '/api/schema');
    expect(status).toBe(200);
    expect(body.svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(body.svg).toContain('data-table="authors"');
    expect(body.svg).toContain('books(author_id) → authors(id)');
    expect(body.ddl).toContain('CREATE TABLE books');
    expect(body.tables).toEqual([
      { name: 'authors', kind: 'table' },
      { name: 'books', kind: 'table' },
    ]);
    // The same schema draws the same picture.
    expect((await call<SchemaResponse>(served, 'GET', '/api/schema')).body.svg).toBe(body.svg);
  });

  describe('migrations', () => {
    let dir: string;
    let page: Served;
    const first = '20260101000000_widgets';
    const second = '20260102000000_widget_index';
    const write = (id: string, up: string) => {
      mkdirSync(join(dir, id), { recursive: true });
      writeFileSync(join(dir, id, 'up.sql'), up);
      writeFileSync(join(dir, id, 'down.sql'), '-- ferry:empty\n');
    };
    beforeAll(async () => {
      dir = newDir();
      write(first, 'create table widgets (id serial primary key, name text);\n');
      write(second, 'create index widgets_name on widgets (name);\n');
      await new Migrator(handle.db, { dir }).up({ to: first });
      const widgets = table('widgets', { id: serial().primaryKey(), name: text() });
      page = await serve(handle, { schema: defineSchema({ widgets }), migrationsDir: dir });
    });
    afterAll(() => page?.close());

    it('lists applied and pending migrations with checksums, lint findings and drift', async () => {
      const { status, body } = await call<MigrationsResponse>(page, 'GET', '/api/migrations');
      expect(status).toBe(200);
      expect(body.directory).toBe(dir);
      expect(body.applied).toEqual([expect.objectContaining({ id: first, name: 'widgets', checksumMatches: true })]);
      expect(body.pending).toEqual([
        { id: second, name: 'widget_index', checksum: expect.stringMatching(/^[0-9a-f]{64}$/) },
      ]);
      expect(body.lint).toContainEqual(expect.objectContaining({ migration: second, rule: expect.any(String) }));
      expect(body.drift.status).toBe('drift');
      expect(body.drift.differences).toContain(`pending migration ${second} is not applied (run ferry migrate up)`);
    });

    it('flags an applied migration edited since', async () => {
      write(first, 'create table widgets (id serial primary key, name text, edited int);\n');
      const { body } = await call<MigrationsResponse>(page, 'GET', '/api/migrations');
      expect(body.applied[0]!.checksumMatches).toBe(false);
    });

    it('says drift is unknown without a schema module', async () => {
      const { body } = await call<MigrationsResponse>(served, 'GET', '/api/migrations');
      expect(body).toMatchObject({ directory: null, pending: [], drift: { status: 'unknown' } });
      expect(body.applied.map((a) => a.id)).toEqual([first]);
    });
  });

  describe('imports', () => {
    beforeAll(async () => {
      await handle.session(async (s) => {
        await ensureStateTables(s);
        const stats = emptyStats(['authors', 'books']);
        stats.records = 5;
        stats.rejects = 4;
        stats.rejectedRecords = 3;
        stats.tables.authors!.inserted = 2;
        stats.tables.authors!.rejected = 3;
        const [text, params] = checkpointStatement({
          name: 'legacy',
          runId: 'run-1',
          status: 'done',
          position: 5,
          fingerprint: 'f',
          stats,
        });
        await s.query(text, params);
        const reject = (
          ordinal: number,
          table: string | null,
          reason: string,
          sqlstate: string | null,
          record: unknown,
        ) => ({
          ordinal,
          rowIndex: table === null ? null : 0,
          location: { source: 'users.csv', line: ordinal + 1 },
          table,
          column: null,
          reason,
          sqlstate,
          record: JSON.stringify(record),
        });
        await insertRejects(s, 'legacy', 'run-1', [
          reject(1, 'authors', 'duplicate key value violates unique constraint', '23505', {
            name: 'Ada',
            password_hash: 'hash-1',
          }),
          reject(2, 'authors', 'value too long for type character varying(40)', '22001', { name: 'x'.repeat(50) }),
          reject(3, 'books', 'insert or update violates foreign key constraint', '23503', { author_id: 9 }),
          reject(4, null, 'Unparseable record', null, { raw: 'garbage' }),
        ]);
      });
    });

    it('lists runs from the checkpoint table', async () => {
      const { body } = await call(served, 'GET', '/api/imports');
      expect(body.runs).toEqual([
        expect.objectContaining({
          name: 'legacy',
          runId: 'run-1',
          status: 'done',
          position: 5,
          records: 5,
          rejects: 4,
          rejectedRecords: 3,
          tables: expect.objectContaining({ authors: expect.objectContaining({ inserted: 2, rejected: 3 }) }),
        }),
      ]);
    });

    it('filters rejects by table, reason and SQLSTATE, pages them, and masks sensitive fields', async () => {
      const all = await call<RejectsResponse>(served, 'GET', '/api/imports/legacy/rejects');
      expect(all.body.rejects.map((r) => r.ordinal)).toEqual([1, 2, 3, 4]);
      expect(all.body.facets).toEqual({
        tables: { authors: 2, books: 1 },
        sqlstates: { '23505': 1, '22001': 1, '23503': 1 },
      });
      expect(all.body.rejects[0]).toMatchObject({
        source: 'users.csv',
        location: 'line=2',
        table: 'authors',
        sqlstate: '23505',
      });
      expect(all.body.rejects[0]!.data).toEqual({ name: 'Ada', password_hash: '****' });
      const byTable = await call<RejectsResponse>(served, 'GET', '/api/imports/legacy/rejects?table=authors');
      expect(byTable.body.rejects.map((r) => r.ordinal)).toEqual([1, 2]);
      const byReason = await call<RejectsResponse>(served, 'GET', '/api/imports/legacy/rejects?reason=FOREIGN%20KEY');
      expect(byReason.body.rejects.map((r) => r.ordinal)).toEqual([3]);
      const byState = await call<RejectsResponse>(served, 'GET', '/api/imports/legacy/rejects?sqlstate=22001');
      expect(byState.body.rejects.map((r) => r.ordinal)).toEqual([2]);
      const first = await call<RejectsResponse>(served, 'GET', '/api/imports/legacy/rejects?limit=3');
      expect(first.body.rejects).toHaveLength(3);
      const rest = await call<RejectsResponse>(
        served,
        'GET',
        `/api/imports/legacy/rejects?limit=3&after=${first.body.next}`,
      );
      expect(rest.body.rejects.map((r) => r.ordinal)).toEqual([4]);
      expect(rest.body.next).toBeNull();
      expect((await call(served, 'GET', '/api/imports/nope/rejects')).status).toBe(404);
    });

    it('downloads the filtered rejects as NDJSON', async () => {
      const { status, headers, text } = await call(served, 'GET', '/api/imports/legacy/rejects.ndjson?table=authors');
      expect(status).toBe(200);
      expect(headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
      expect(headers['content-disposition']).toBe('attachment; filename="legacy-rejects.ndjson"');
      const lines = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.ordinal)).toEqual([1, 2]);
      expect(text).not.toContain('hash-1');
    });
  });

  describe('cache', () => {
    const prefix = `ferrytest:studio:${process.pid}:${randomBytes(4).toString('hex')}`;
    let redis: Redis;
    let page: Served;
    let writable: Served;
    const cache = createCache({ namespace: `${prefix}:c`, redis: REDIS_URL, logger: false });
    beforeAll(async () => {
      redis = new Redis(REDIS_URL);
      await redis.set(`${prefix}:sess:{u1}:j1`, 'a');
      await redis.set(`${prefix}:sess:{u1}:j1~revoked`, '1');
      await redis.set(`${prefix}:sess:{u2}:j2`, 'b');
      await redis.set(`${prefix}:rate:ip1`, '3', 'PX', 60_000);
      // Ready (Redis answered, the bus proven) before the reads below, or L1 is not trusted and 'k' misses.
      if (!(await cache.ready(30_000)))
        throw new Error(`the cache did not become ready: ${JSON.stringify(cache.stats())}`);
      await cache.get('missing');
      await cache.set('k', 1);
      await cache.get('k');
      const options = {
        cache,
        redis,
        redisUrl: 'redis://:hunter2-pw@127.0.0.1:6379/0',
        sessionPrefix: `${prefix}:sess`,
        rateLimitPrefix: `${prefix}:rate`,
      };
      page = await serve(handle, options);
      writable = await serve(handle, { ...options, write: true });
    });
    afterAll(async () => {
      await page?.close();
      await writable?.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await cache.close();
      await redis.quit();
    });

    it('is unavailable without a cache or Redis', async () => {
      expect((await call<CacheResponse>(served, 'GET', '/api/cache')).body).toEqual({ available: false });
    });

    it('shows hits and misses per tier, the breaker, Redis without its password, session and rate-limit counts', async () => {
      const { body, text } = await call<CacheResponse>(page, 'GET', '/api/cache');
      expect(body.available).toBe(true);
      expect(body.tiers!.l1.hits).toBeGreaterThanOrEqual(1);
      expect(body.tiers!.l1.misses).toBeGreaterThanOrEqual(1);
      expect(body.tiers!.l2).not.toBeNull();
      expect(['closed', 'open', 'half-open']).toContain(body.breaker);
      expect(body.redis).toEqual({ connected: true, url: 'redis://127.0.0.1:6379/0' });
      expect(text).not.toContain('hunter2');
      expect(body.sessions).toBe(2);
      expect(body.rateLimits).toBe(1);
    });

    it('looks keys up by prefix with SCAN, and deletes by prefix only in write mode with the token', async () => {
      const { body } = await call(page, 'GET', `/api/cache/keys?prefix=${encodeURIComponent(`${prefix}:rate:`)}`);
      expect(body.keys).toEqual([{ key: `${prefix}:rate:ip1`, ttlMs: expect.any(Number), bytes: expect.any(Number) }]);
      expect(body.keys[0].ttlMs).toBeGreaterThan(0);
      const path = `/api/cache/keys?prefix=${encodeURIComponent(`${prefix}:sess:`)}`;
      expect((await call(page, 'DELETE', path)).status).toBe(403);
      expect((await call(writable, 'DELETE', path)).status).toBe(401);
      expect(await redis.exists(`${prefix}:sess:{u1}:j1`)).toBe(1);
      const deleted = await call(writable, 'DELETE', path, {
        headers: { 'x-ferry-studio-token': writable.handler.token },
      });
      expect(deleted.body).toEqual({ deleted: 3 });
      expect(await redis.exists(`${prefix}:sess:{u1}:j1`)).toBe(0);
      expect(await redis.exists(`${prefix}:rate:ip1`)).toBe(1);
    });
  });

  describe('cutover', () => {
    it('is unavailable, and creates nothing, when no cutover was set up', async () => {
      expect((await call(served, 'GET', '/api/cutover')).body).toEqual({ available: false });
      const { rows } = await sql<{ ok: boolean }>`select to_regclass(${CONTROL_TABLE}) is null as ok`.execute(
        handle.db,
      );
      expect(rows[0]!.ok).toBe(true);
    });

    it('shows stage, read share, journal size, mismatch rate and recent mismatches', async () => {
      await ensureTables(handle);
      await sql`insert into ${sql.table(CONTROL_TABLE)} (name, stage, comparisons, mismatches) values ('users', 'shadow', 200, 3)`.execute(
        handle.db,
      );
      await sql`insert into ${sql.table(MISMATCHES_TABLE)} (name, key, old_value, new_value, fields)
        values ('users', 'user:1', '{"email":"a@x"}', '{"email":"A@x"}', '["email"]')`.execute(handle.db);
      const { body } = await call(served, 'GET', '/api/cutover');
      expect(body).toEqual({
        available: true,
        cutovers: [
          {
            name: 'users',
            stage: 'shadow',
            readShare: 0,
            journalSize: 0,
            comparisons: 200,
            mismatches: 3,
            mismatchRate: 0.015,
            recentMismatches: [
              {
                key: 'user:1',
                table: null,
                legacy: { email: 'a@x' },
                postgres: { email: 'A@x' },
                at: expect.any(String),
              },
            ],
          },
        ],
      });
    });
  });
});
