import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import type { RawSession } from '../../src/db/session.js';
import { casefold, ImportContext, parseLegacyTimestamp, stableUuid } from '../../src/import/context.js';
import { defineImport } from '../../src/import/define.js';
import { csvField, csvLineFields } from '../../src/import/encode.js';
import { runImport } from '../../src/import/loader.js';
import type { Source, SourceRecord } from '../../src/import/source.js';
import { verifyImport } from '../../src/import/verify.js';
import { defineSchema, renderCreateSql } from '../../src/schema/index.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { recreateSchema } from '../support/schema-reset.js';
import { watchSessions } from '../support/watch-sessions.js';
import * as model from './fixtures/blog-schema.js';

const schema = defineSchema(model);

interface ArrayOptions {
  failAt?: number;
  errors?: number[];
  /** The source's `check()` (a structure pass the loader runs beside the first batches). */
  check?: () => Promise<void>;
}

/** An in-test source over an array; `failAt` throws mid-stream once, like a crash. */
function arraySource(items: unknown[], opts: ArrayOptions = {}): Source {
  let failAt = opts.failAt;
  return {
    label: 'array',
    async *records(): AsyncGenerator<SourceRecord> {
      for (const [index, value] of items.entries()) {
        if (failAt !== undefined && index === failAt) {
          failAt = undefined;
          throw new Error('simulated crash');
        }
        if (opts.errors?.includes(index)) yield { kind: 'error', reason: 'bad line', loc: { source: 'array', index } };
        else yield { kind: 'record', value, loc: { source: 'array', index } };
      }
    },
    files: async () => [],
    estimate: async () => ({ records: items.length }),
    ...(opts.check ? { check: opts.check } : {}),
  };
}

interface LegacyUser {
  type: 'user';
  name: string;
  joined?: unknown;
}
interface LegacyPost {
  type: 'post';
  author: string;
  title: unknown;
  body?: unknown;
  at?: unknown;
}

function blogImport(items: unknown[], opts: ArrayOptions = {}) {
  return defineImport({
    name: 'blog',
    schema: model,
    source: arraySource(items, opts),
    tables: {
      users: { key: ['username'], insertOnly: ['password_hash'] },
      posts: { key: ['id'] },
    },
    async map(rec: LegacyUser | LegacyPost, ctx) {
      if (rec.type === 'user') {
        const username = ctx.casefold(rec.name);
        return {
          users: {
            id: ctx.uuid('user', username),
            username,
            display_name: rec.name,
            password_hash: await ctx.unusablePassword(),
            joined_at: rec.joined === undefined ? undefined : ctx.timestamp(rec.joined, 'joined_at'),
          },
        };
      }
      const author = ctx.casefold(rec.author);
      return {
        posts: {
          id: ctx.uuid('post', author, rec.title),
          user_id: ctx.uuid('user', author),
          title: rec.title as string,
          body: rec.body ?? null,
          created_at: rec.at === undefined ? undefined : ctx.timestamp(rec.at, 'created_at'),
        },
      };
    },
  });
}

const users = (n: number): LegacyUser[] => Array.from({ length: n }, (_, i) => ({ type: 'user', name: `User${i}` }));
const posts = (n: number, authors: number): LegacyPost[] =>
  Array.from({ length: n }, (_, i) => ({
    type: 'post',
    author: `user${i % authors}`,
    title: `Post ${i}`,
    body: { words: i, tags: ['a', `t${i % 3}`] },
    at: `2024-01-${String((i % 28) + 1).padStart(2, '0')}T10:00:00`,
  }));

describe('import helpers', () => {
  it('casefolds like Python', () => {
    expect(casefold('Straße')).toBe('strasse');
    expect(casefold('ÀDMIN')).toBe('àdmin');
  });
  it('derives stable version-5 UUIDs', () => {
    expect(stableUuid(['a', 1])).toBe(stableUuid(['a', 1]));
    expect(stableUuid(['a', 1])).not.toBe(stableUuid(['a', 2]));
    expect(stableUuid(['x'])).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  it('parses legacy timestamps and refuses impossible dates', () => {
    expect(parseLegacyTimestamp('2024-01-02T03:04:05')?.toISOString()).toBe('2024-01-02T03:04:05.000Z');
    expect(parseLegacyTimestamp('2024-01-02 03:04:05+02:00')?.toISOString()).toBe('2024-01-02T01:04:05.000Z');
    expect(parseLegacyTimestamp(1_700_000_000)?.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    expect(parseLegacyTimestamp(1_700_000_000_000)?.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    expect(parseLegacyTimestamp('2024-13-45')).toBeNull();
    expect(parseLegacyTimestamp('2023-02-29')).toBeNull();
    expect(parseLegacyTimestamp('yesterday')).toBeNull();
  });
  it('keeps derived ids and hashes identical across versions (a rerun must find its rows)', () => {
    // Pinned from the first release: changing either would duplicate every imported row.
    expect(stableUuid(['chatcore.user', 'alice'])).toBe('d876fe3d-b4b0-5660-b8a0-08d4f9cac0bb');
    const ctx = new ImportContext({ source: 's' }, 's', 0);
    expect(ctx.hash('user', 'héllo "x"\n', '2024-01-02T03:04:05.123Z')).toBe(
      'f6ec61c081dfc59e5ebd50a407b129b953cb557e5ffabbaa8040b0279df87628',
    );
  });
  it('reads back the CSV fields it writes (the row a database reject shows)', () => {
    const target = { table: { columns: {} } } as never;
    const values = ['plain', '', null, 'a,b', 'line\nbreak', '\u0001', 'x\u0001\u0001y', '"quoted"', 42, '', null];
    const line = values.map((v, i) => csvField(target, `c${i}`, v)).join(',');
    expect(csvLineFields(line)).toEqual(values.map((v) => (v === null ? null : String(v))));
    expect(csvLineFields(csvField(target, 'c', null))).toEqual([null]);
  });
  it('parses plain ISO timestamps on the fast path exactly as the general path does', () => {
    // A leading space skips the fast path (its pattern is anchored) and the
    // general path trims it: the two must agree on every input, valid or not.
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pad = (v: number, width = 2) => String(v).padStart(width, '0');
    for (let i = 0; i < 20_000; i++) {
      const fraction = next(3) === 0 ? '' : `.${pad(next(1e9), 9).slice(0, 1 + next(9))}`;
      const text =
        `${pad(next(2200), 4)}-${pad(next(14))}-${pad(next(33))}${next(2) ? 'T' : ' '}` +
        `${pad(next(26))}:${pad(next(62))}:${pad(next(62))}${fraction}${next(2) ? 'Z' : ''}`;
      const fast = parseLegacyTimestamp(text)?.getTime() ?? null;
      const general = parseLegacyTimestamp(` ${text}`)?.getTime() ?? null;
      if (fast !== general) expect({ text, fast }).toEqual({ text, fast: general });
    }
  });
});

describeEachBackend('import loader', { pgbouncer: true, directUrl: true }, (t) => {
  let db: DbHandle;
  beforeAll(async () => {
    db = await t.open();
  });
  beforeEach(async () => {
    await recreateSchema(db, renderCreateSql(schema.toIR()));
  });

  const count = async (table: string) =>
    Number((await sql<{ n: string }>`select count(*) as n from ${sql.table(table)}`.execute(db.db)).rows[0]?.n);

  it('imports, then a second run changes nothing', async () => {
    const items = [...users(20), ...posts(100, 20)];
    const first = await runImport({ db, definition: blogImport(items), batchSize: 37 });
    expect(first.records).toBe(120);
    expect(first.tables.users).toMatchObject({ inserted: 20, updated: 0, unchanged: 0, rejected: 0 });
    expect(first.tables.posts).toMatchObject({ inserted: 100, updated: 0, unchanged: 0, rejected: 0 });
    expect(await count('posts')).toBe(100);
    const body = await sql<{
      body: unknown;
      created_at: Date;
    }>`select body, created_at from posts where title = 'Post 7'`.execute(db.db);
    expect(body.rows[0]).toEqual({
      body: { words: 7, tags: ['a', 't1'] },
      created_at: new Date('2024-01-08T10:00:00Z'),
    });

    const second = await runImport({ db, definition: blogImport(items), batchSize: 37 });
    expect(second.tables.users).toMatchObject({ inserted: 0, updated: 0, unchanged: 20 });
    expect(second.tables.posts).toMatchObject({ inserted: 0, updated: 0, unchanged: 100 });
    expect(second.resumedFrom).toBeNull();
  });

  it('analyzes the tables it wrote once done: row estimates and statistics are there at once (PGlite has no autovacuum)', async () => {
    const estimates = async () =>
      Object.fromEntries(
        (
          await sql<{ relname: string; reltuples: number; analyzed: boolean }>`
            select c.relname, c.reltuples::float8 as reltuples,
                   exists (select 1 from pg_stats s where s.tablename = c.relname) as analyzed
              from pg_class c where c.relname in ('users', 'posts') and c.relkind = 'r'`.execute(db.db)
        ).rows.map((r) => [r.relname, { rows: Number(r.reltuples), analyzed: r.analyzed }]),
      );
    // Never analysed: Postgres 14+ says -1.
    expect(await estimates()).toEqual({ users: { rows: -1, analyzed: false }, posts: { rows: -1, analyzed: false } });
    await runImport({ db, definition: blogImport([...users(20), ...posts(100, 20)]), dryRun: true });
    expect((await estimates()).posts).toEqual({ rows: -1, analyzed: false });
    await runImport({ db, definition: blogImport([...users(20), ...posts(100, 20)]), batchSize: 37 });
    expect(await estimates()).toEqual({ users: { rows: 20, analyzed: true }, posts: { rows: 100, analyzed: true } });
  });

  it.skipIf(t.flavour !== 'postgres+pgbouncer')(
    'through PgBouncer without a direct URL: E_DIRECT_URL_REQUIRED before anything is written',
    async () => {
      const bounced = await openDatabase({ url: t.url(), env: {} });
      try {
        await expectFerryError(
          runImport({ db: bounced, definition: blogImport([...users(3), ...posts(5, 3)]) }),
          'E_DIRECT_URL_REQUIRED',
          /DIRECT_DATABASE_URL/,
        );
      } finally {
        await bounced.close();
      }
      expect(await count('users')).toBe(0);
      expect(await count('posts')).toBe(0);
    },
  );

  it('updates only rows whose content changed', async () => {
    const items = [...users(5), ...posts(10, 5)];
    await runImport({ db, definition: blogImport(items) });
    const changed = structuredClone(items);
    (changed[7] as LegacyPost).body = { words: -1 };
    const report = await runImport({ db, definition: blogImport(changed) });
    expect(report.tables.posts).toMatchObject({ inserted: 0, updated: 1, unchanged: 9 });
    expect(report.tables.users).toMatchObject({ updated: 0, unchanged: 5 });
  });

  it('merges duplicates into the first occurrence, across batches', async () => {
    const items: LegacyUser[] = [
      { type: 'user', name: 'Alice' },
      { type: 'user', name: 'bob' },
      { type: 'user', name: 'ALICE' },
      { type: 'user', name: 'alice' },
    ];
    const report = await runImport({ db, definition: blogImport(items), batchSize: 2 });
    expect(report.tables.users).toMatchObject({ inserted: 2, duplicates: 2 });
    // The key sets that found them are reported: one per target, at least its empty shards (256 × 16 slots × 8 B).
    const targets = Object.keys(blogImport(items).tables).length;
    expect(report.keyMemoryBytes).toBeGreaterThanOrEqual(targets * 256 * 16 * 8);
    const rows = await sql<{ display_name: string }>`select display_name from users order by username`.execute(db.db);
    expect(rows.rows.map((r) => r.display_name)).toEqual(['Alice', 'bob']);
    const again = await runImport({ db, definition: blogImport(items), batchSize: 2 });
    expect(again.tables.users).toMatchObject({ inserted: 0, updated: 0, unchanged: 2, duplicates: 2 });
  });

  it('rejects bad records with a reason and imports the rest', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ferry-rejects-'));
    const rejectsFile = path.join(dir, 'rejects.ndjson');
    const items: unknown[] = [
      ...users(3),
      { type: 'post', author: 'user0', title: 'fine', at: '2024-02-01T00:00:00Z' },
      { type: 'post', author: 'user1', title: 'nul \u0000 byte' },
      { type: 'post', author: 'user1', title: 42 },
      { type: 'post', author: 'user2', title: 'bad date', at: '2024-13-45' },
      { type: 'post', author: 'nobody', title: 'orphan' },
      { type: 'post', author: 'user2', title: 'json nul', body: { x: 'a\u0000b' } },
      { type: 'post', author: 'user2', title: 'x'.repeat(300) },
      { type: 'mystery' },
      { type: 'post', author: 'user0', title: 'also fine' },
    ];
    const report = await runImport({ db, definition: blogImport(items, { errors: [1] }), rejectsFile, batchSize: 4 });
    expect(await count('posts')).toBe(2);
    expect(await count('users')).toBe(2);
    const lines = (await readFile(rejectsFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const byIndex = Object.fromEntries(lines.map((l) => [l.location.index, l]));
    expect(byIndex[1]).toMatchObject({ reason: 'bad line', table: null });
    expect(byIndex[4]).toMatchObject({ table: 'posts', column: 'title' });
    expect(byIndex[4].reason).toMatch(/NUL/);
    expect(byIndex[5]).toMatchObject({ table: 'posts', column: 'title' });
    expect(byIndex[6]).toMatchObject({ column: 'created_at' });
    expect(byIndex[6].reason).toMatch(/invalid timestamp "2024-13-45"/);
    expect(byIndex[7]).toMatchObject({ table: 'posts', sqlstate: '23503' });
    expect(byIndex[7].reason).toMatch(/foreign key/);
    // A row the database refused shows as sent: column → text.
    expect(JSON.parse(byIndex[7].record)).toMatchObject({ title: 'orphan' });
    expect(byIndex[8]).toMatchObject({ table: 'posts', column: 'body' });
    expect(byIndex[9]).toMatchObject({ table: 'posts', column: 'title' });
    expect(byIndex[10].reason).toMatch(/map\(\) failed/);
    expect(lines).toHaveLength(8);
    expect(report.rejects).toBe(8);
    // The bad line, the bad date and the mystery record are rejected whole before any table is
    // known (no source table, nothing emitted, two targets): counted as not mapped.
    expect(report.tables.posts).toMatchObject({ inserted: 2, rejected: 5 });
    expect(report.unmapped).toBe(3);
    expect(report.rejectedRecords).toBe(8);
    expect(report.rejects).toBe(8);
  });

  it('rejects orphans spread over many batches one by one, and lands every other row', async () => {
    // Orphans in several batches: the first is found by its failed upsert, later
    // batches set them apart first. A too-long title (a database-side error of
    // another kind) in a batch with orphans is still bisected out.
    const good = posts(60, 5);
    const ghost = (i: number): LegacyPost => ({ type: 'post', author: `ghost${i}`, title: `orphan ${i}` });
    const items: unknown[] = [...users(5)];
    for (const [i, p] of good.entries()) {
      items.push(p);
      if (i % 7 === 3) items.push(ghost(i));
    }
    items.splice(40, 0, { type: 'post', author: 'user1', title: 'y'.repeat(300) }, ghost(1000), ghost(1001));
    const orphans = items.filter((x) => (x as LegacyPost).author?.startsWith('ghost')).length;
    const dir = await mkdtemp(path.join(tmpdir(), 'ferry-orphans-'));
    const rejectsFile = path.join(dir, 'rejects.ndjson');
    const report = await runImport({ db, definition: blogImport(items), batchSize: 9, rejectsFile });
    expect(await count('posts')).toBe(60);
    expect(report.tables.posts).toMatchObject({ inserted: 60, rejected: orphans + 1 });
    const lines = (await readFile(rejectsFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const fk = lines.filter((l) => l.sqlstate === '23503');
    expect(fk).toHaveLength(orphans);
    for (const l of fk) expect(l.reason).toMatch(/foreign key/);
    expect(fk.map((l) => l.location.index)).toEqual(
      items.flatMap((x, i) => ((x as LegacyPost).author?.startsWith('ghost') ? [i] : [])),
    );
    expect(lines.filter((l) => l.sqlstate !== '23503')).toHaveLength(1);
    const again = await runImport({ db, definition: blogImport(items), batchSize: 9 });
    expect(again.tables.posts).toMatchObject({ inserted: 0, unchanged: 60, rejected: orphans + 1 });
  });

  it('resumes after a crash and ends where an uninterrupted run ends', async () => {
    const items = [...users(10), ...posts(200, 10), ...users(12).slice(10), { type: 'user', name: 'USER3' }];
    await expect(runImport({ db, definition: blogImport(items, { failAt: 150 }), batchSize: 40 })).rejects.toThrow(
      'simulated crash',
    );
    expect(await count('posts')).toBe(110);
    const resumed = await runImport({ db, definition: blogImport(items), batchSize: 40 });
    expect(resumed.resumedFrom).toBe(120);
    expect(resumed.records).toBe(items.length);
    expect(resumed.tables.users).toMatchObject({ inserted: 12, duplicates: 1 });
    expect(resumed.tables.posts).toMatchObject({ inserted: 200 });
    expect(await count('posts')).toBe(200);
    expect(await count('users')).toBe(12);
  });

  it("logs through the one logger under layer 'import', still calls log; retryForMs takes a Duration", async () => {
    const items = [...users(5), ...posts(20, 5)];
    await expect(runImport({ db, definition: blogImport(items, { failAt: 12 }), batchSize: 4 })).rejects.toThrow(
      'simulated crash',
    );
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const messages: string[] = [];
    const report = await runImport({
      db,
      definition: blogImport(items),
      batchSize: 4,
      retryForMs: '2m',
      logger,
      log: (m) => messages.push(m),
    });
    expect(report.resumedFrom).toBe(12);
    expect(messages).toEqual(['Resuming import "blog" after record 12.']);
    expect(lines).toMatchObject([{ level: 30, layer: 'import', name: 'blog', msg: messages[0] }]);
    await expectFerryError(
      runImport({ db, definition: blogImport(items), retryForMs: 'soon' as never }),
      'E_BAD_ARGUMENT',
      /retryForMs/,
    );
  });

  it('refuses to resume when the source changed, unless restarted', async () => {
    const items = [...users(5), ...posts(50, 5)];
    const changedSource = defineImport({ ...blogImport(items), source: { ...arraySource(items), label: 'other' } });
    await expect(runImport({ db, definition: blogImport(items, { failAt: 30 }), batchSize: 10 })).rejects.toThrow();
    await expectFerryError(runImport({ db, definition: changedSource }), 'E_IMPORT_SOURCE_CHANGED', /--restart/);
    const restarted = await runImport({ db, definition: changedSource, mode: 'restart' });
    expect(restarted.resumedFrom).toBeNull();
    expect(restarted.tables.posts).toMatchObject({ inserted: 25, unchanged: 25 });
  });

  it('dry run reports what would change and writes nothing', async () => {
    const items = [...users(5), ...posts(20, 5), { type: 'post', author: 'ghost', title: 'orphan' }];
    const report = await runImport({ db, definition: blogImport(items), dryRun: true, batchSize: 7 });
    expect(report.tables.posts).toMatchObject({ inserted: 20, rejected: 1 });
    expect(await count('posts')).toBe(0);
    const state = await sql<{ n: string | null }>`select to_regclass('ferry_import_state')::text as n`.execute(db.db);
    expect(state.rows[0]?.n).toBeNull();
  });

  it('stops past --max-rejects, keeping what committed', async () => {
    const bad = Array.from({ length: 10 }, (_, i) => ({ type: 'post', author: 'ghost', title: `g${i}` }));
    const items = [...users(3), ...bad];
    await expectFerryError(
      runImport({ db, definition: blogImport(items), maxRejects: 4, batchSize: 5 }),
      'E_IMPORT_MAX_REJECTS',
      /--max-rejects 4/,
    );
    expect(await count('users')).toBe(3);
  });

  it("commits batches without waiting for their WAL's flush; the run's end waits, and so flushes every batch", async () => {
    const setting = async (s: RawSession) =>
      (await s.query<{ v: string }>(`select current_setting('synchronous_commit') as v`)).rows[0]?.v;
    const commits: (string | undefined)[] = [];
    let done: string | undefined;
    const watched = watchSessions(db, {
      query: async (s, text, params) => {
        if (text === 'commit') commits.push(await setting(s));
        if (params?.includes('done')) done = await setting(s);
      },
    });
    const items = [...users(10), ...posts(60, 10)];
    const report = await runImport({ db: watched, definition: blogImport(items), batchSize: 7 });
    expect(report.tables.posts).toMatchObject({ inserted: 60 });
    const batches = commits.slice(1, -1); // the first commits the run's start
    expect(batches.length).toBeGreaterThan(3);
    expect(new Set(batches)).toEqual(new Set(['off']));
    // The source's check settled early: the last batch committed alone, and 'done' commits alone (the default, on).
    expect([commits.at(-1), done]).toEqual(['off', 'on']);
    expect(await db.session(setting)).toBe('on'); // SET LOCAL: the pooled connection keeps its default

    // A source check still running after the last batch: every batch and 'done' wait in one transaction, whose
    // commit must be durable. (The check ends 200 ms after the last batch's checkpoint is sent; should a loaded
    // machine take longer than that to return it, the batch commits alone as above, which is checked too.)
    await recreateSchema(db, renderCreateSql(schema.toIR()));
    commits.length = 0;
    let release = () => {};
    const checked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = watchSessions(db, {
      query: async (s, text, params) => {
        if (text === 'commit') commits.push(await setting(s));
        if (params?.includes('done')) done = await setting(s);
        if (params?.includes('running') && params.includes(items.length)) setTimeout(release, 200);
      },
    });
    await runImport({ db: slow, definition: blogImport(items, { check: () => checked }), batchSize: 7 });
    // commits: the run's start (a plain transaction), then the one holding every batch and 'done'.
    if (commits.length === 2) expect([commits, done]).toEqual([['on', 'on'], 'off']);
    else expect([commits.at(-1), done]).toEqual(['off', 'on']);
  });

  it('refuses a key that is not unique in the schema', async () => {
    const def = defineImport({ ...blogImport([]), tables: { users: { key: ['display_name'] } } });
    await expectFerryError(runImport({ db, definition: def }), 'E_IMPORT_DEFINITION', /not a primary key or unique/);
  });

  it('verify agrees after an import with rejects, and finds missing, changed and extra rows', async () => {
    const items = [...users(5), ...posts(30, 5), { type: 'post', author: 'ghost', title: 'orphan' }];
    await runImport({ db, definition: blogImport(items), batchSize: 8 });
    const clean = await verifyImport({ db, definition: blogImport(items) });
    expect(clean.ok).toBe(true);
    const postsCheck = clean.tables.find((x) => x.table === 'posts');
    expect(postsCheck).toMatchObject({ expected: 30, actual: 30, missing: 0, different: 0, extra: 0 });
    expect(postsCheck?.sourceChecksum).toBe(postsCheck?.databaseChecksum);
    expect(clean.tables.find((x) => x.table === 'users')?.columns).not.toContain('password_hash');

    await sql`update posts set body = '{"edited": true}' where title = 'Post 3'`.execute(db.db);
    await sql`delete from posts where title = 'Post 4'`.execute(db.db);
    await sql`insert into posts (id, user_id, title) select gen_random_uuid(), id, 'intruder' from users limit 1`.execute(
      db.db,
    );
    const dirty = await verifyImport({ db, definition: blogImport(items) });
    expect(dirty.ok).toBe(false);
    const p = dirty.tables.find((x) => x.table === 'posts');
    expect(p).toMatchObject({ expected: 30, actual: 30, missing: 1, different: 1, extra: 1 });
    expect(p?.sourceChecksum).not.toBe(p?.databaseChecksum);
    expect(p?.examples.map((e) => e.kind).sort()).toEqual(['different', 'extra', 'missing']);
  });
});
