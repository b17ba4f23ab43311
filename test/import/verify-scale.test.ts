/**
 * Issue 13: `ferry verify` at real sizes. Verify analyses its staged rows and
 * compares each table in one FULL JOIN (a hash or merge join whatever the
 * estimates: the old NOT EXISTS … ORDER BY key LIMIT 5 was planned as a
 * nested loop over the unanalysed staging table, quadratic in the rows);
 * import and verify run with their own statement_timeout instead of the
 * pool's 30 s, and a timeout is E_IMPORT_TIMEOUT naming the step.
 *
 * Timeouts are provoked by a lock another connection holds on a target
 * table, so a statement waits exactly as long as the test decides, whatever
 * the machine's speed. PGlite has one connection (nobody else can hold a
 * lock) and does not enforce statement_timeout: those tests run on Postgres.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { defineImport } from '../../src/import/define.js';
import { runImport } from '../../src/import/loader.js';
import type { Source, SourceRecord } from '../../src/import/source.js';
import { checkServerVersion, verifyImport } from '../../src/import/verify.js';
import { customType, defineSchema, renderCreateSql, table, text } from '../../src/schema/index.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { recreateSchema } from '../support/schema-reset.js';
import { watchSessions } from '../support/watch-sessions.js';
import * as model from './fixtures/blog-schema.js';

const schema = defineSchema(model);

interface Legacy {
  name: string;
  joined?: string;
}

/** Users over an array; `atStart` runs when the source is first read. */
function usersImport(items: Legacy[], atStart?: () => Promise<void>) {
  const source: Source = {
    label: 'array',
    async *records(): AsyncGenerator<SourceRecord> {
      await atStart?.();
      for (const [index, value] of items.entries()) yield { kind: 'record', value, loc: { source: 'array', index } };
    },
    files: async () => [],
  };
  return defineImport({
    name: 'scale',
    schema: model,
    source,
    tables: { users: { key: ['username'] } },
    map(rec: Legacy, ctx) {
      return {
        users: {
          id: ctx.uuid('user', rec.name),
          username: rec.name,
          display_name: rec.name.toUpperCase(),
          password_hash: 'x',
          // Only some rows map joined_at: two column sets, interleaved.
          joined_at: rec.joined === undefined ? undefined : ctx.timestamp(rec.joined, 'joined_at'),
        },
      };
    },
  });
}

const people = (n: number): Legacy[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `u${i}`,
    ...(i % 3 === 0 ? {} : { joined: `2024-02-${String((i % 27) + 1).padStart(2, '0')}T09:00:00` }),
  }));

describeEachBackend('verify at scale', (t) => {
  let db: DbHandle;
  beforeAll(async () => {
    db = await t.open();
  });
  beforeEach(async () => {
    await recreateSchema(db, renderCreateSql(schema.toIR()));
  });

  it('analyses the staged rows and compares each table in a hash or merge join', async () => {
    const items = people(600);
    await runImport({ db, definition: usersImport(items) });
    const compares: { plan: string; staged: number; stats: string[] }[] = [];
    let analysed = false;
    const spy = watchSessions(db, {
      query: async (s, text, params) => {
        if (/^analyze ferry_verify_/.test(text)) analysed = true;
        if (!/^select count\(\*\) filter/.test(text)) return;
        // Inside verify's own transaction: the staging table and its statistics are visible here only.
        const { rows } = await s.query<{ n: number }>(
          `select reltuples::int as n from pg_class where relname = 'ferry_verify_0' and relpersistence = 't'`,
        );
        const plan = await s.query<{ 'QUERY PLAN': string }>(`explain ${text}`, params);
        // Only the key is analysed: the plan needs the count and the keys' spread, not samples of wide rows.
        const stats = await s.query<{ attname: string }>(
          `select attname from pg_stats where tablename = 'ferry_verify_0' order by attname`,
        );
        compares.push({
          plan: plan.rows.map((r) => r['QUERY PLAN']).join('\n'),
          staged: Number(rows[0]?.n),
          stats: stats.rows.map((r) => r.attname),
        });
      },
    });
    const report = await verifyImport({ db: spy, definition: usersImport(items) });
    expect(report.ok).toBe(true);
    expect(analysed).toBe(true);
    expect(compares).toHaveLength(1);
    // ANALYZE set the row count (never-analysed tables have reltuples -1 or 0).
    expect(compares[0]?.staged).toBe(600);
    expect(compares[0]?.stats).toEqual(['username']);
    expect(compares[0]?.plan).toMatch(/(Hash|Merge) Full Join/);
    expect(compares[0]?.plan).not.toMatch(/Nested Loop/);
  });

  it('compares each row on the columns its own column set maps, with the sets interleaved', async () => {
    const items = people(300);
    await runImport({ db, definition: usersImport(items), batchSize: 7 });
    expect((await verifyImport({ db, definition: usersImport(items) })).ok).toBe(true);
    // u1 maps joined_at: a change there is a difference. u3 does not: its joined_at is not compared.
    await sql`update users set joined_at = '2001-01-01' where username in ('u1', 'u3')`.execute(db.db);
    await sql`update users set display_name = 'changed' where username = 'u6'`.execute(db.db);
    const report = await verifyImport({ db, definition: usersImport(items) });
    expect(report.tables[0]).toMatchObject({ expected: 300, actual: 300, missing: 0, different: 2, extra: 0 });
    expect(report.tables[0]?.examples).toEqual([
      { kind: 'different', key: { username: 'u1' } },
      { kind: 'different', key: { username: 'u6' } },
    ]);
  });

  it('checksums a custom-typed column that has no hash function (as its text)', async () => {
    const notes = table('notes', { id: text().primaryKey(), words: customType('tsvector').notNull() });
    await sql.raw(renderCreateSql(defineSchema({ notes }).toIR())).execute(db.db);
    const items = Array.from({ length: 30 }, (_, i) => ({ id: `n${i}`, words: `w${i} common` }));
    const def = defineImport({
      name: 'notes',
      schema: { notes },
      source: {
        label: 'array',
        async *records(): AsyncGenerator<SourceRecord> {
          for (const [index, value] of items.entries())
            yield { kind: 'record', value, loc: { source: 'array', index } };
        },
        files: async () => [],
      },
      tables: { notes: { key: ['id'] } },
      map: (rec: { id: string; words: string }) => ({ notes: rec }),
    });
    await runImport({ db, definition: def });
    const report = await verifyImport({ db, definition: def });
    expect(report.ok).toBe(true);
    expect(report.tables[0]).toMatchObject({ expected: 30, actual: 30, different: 0 });
  });

  it('puts the pool’s statement_timeout back after verify and import', async () => {
    // Postgres: a handle of one connection, so the session read afterwards is the one they used.
    const handle =
      t.backend === 'postgres'
        ? await openDatabase({ url: t.url(), pool: { max: 1, statementTimeoutMillis: 4_321 } })
        : db;
    const setting = async () =>
      (await handle.session((s) => s.query<{ st: string }>(`select current_setting('statement_timeout') as st`)))
        .rows[0]?.st;
    try {
      const before = await setting();
      await runImport({ db: handle, definition: usersImport(people(20)) });
      await verifyImport({ db: handle, definition: usersImport(people(20)) });
      expect(await setting()).toBe(before);
      if (t.backend === 'postgres') expect(before).toBe('4321ms');
    } finally {
      if (handle !== db) await handle.close();
    }
  });

  // Postgres only (see the header): a lock held from another connection makes a statement wait.
  describePg(t, (lockUsers) => {
    it('verify is not cut by the pool’s statement_timeout: it waits past it with its own', async () => {
      const items = people(50);
      await runImport({ db, definition: usersImport(items) });
      const handle = await openDatabase({ url: t.url(), pool: { max: 1, statementTimeoutMillis: 200 } });
      try {
        // Held until verify has waited 500 ms on it: longer than the pool's 200 ms.
        const held = await lockUsers();
        await held.take();
        const released = held.releaseAfterWaiter(500);
        const report = await verifyImport({ db: handle, definition: usersImport(items) });
        await released;
        expect(report.ok).toBe(true);
      } finally {
        await handle.close();
      }
    });

    it('verify: a statement timeout is E_IMPORT_TIMEOUT naming the step, its table and what to do', async () => {
      const items = people(50);
      await runImport({ db, definition: usersImport(items) });
      const held = await lockUsers();
      await held.take();
      try {
        const err = await expectFerryError(
          verifyImport({ db, definition: usersImport(items), statementTimeout: '300ms' }),
          'E_IMPORT_TIMEOUT',
          /^Verify stopped: creating the staging table of "users" ran past its statement timeout \(300ms\).*--statement-timeout/,
        );
        expect(err.details).toMatchObject({ command: 'verify', table: 'users', timeoutMs: 300 });
      } finally {
        await held.release();
      }
    });

    it('import: a statement timeout stops the run naming the table; no row is rejected over it', async () => {
      const held = await lockUsers();
      try {
        const err = await expectFerryError(
          runImport({ db, definition: usersImport(people(40), held.take), statementTimeout: 300 }),
          'E_IMPORT_TIMEOUT',
          /^The import stopped: writing a batch into table "users" ran past its statement timeout \(300ms\)/,
        );
        expect(err.details).toMatchObject({ command: 'import', table: 'users', timeoutMs: 300 });
      } finally {
        await held.release();
      }
      // Before, the cancelled COPY/INSERT was bisected and every row rejected with the timeout as its reason.
      const rejects = await sql<{ n: string }>`select count(*) as n from ferry_import_rejects`.execute(db.db);
      expect(Number(rejects.rows[0]?.n)).toBe(0);
      const report = await runImport({ db, definition: usersImport(people(40)) });
      expect(report.tables.users).toMatchObject({ inserted: 40, rejected: 0 });
    });
  });
});

interface HeldLock {
  /** Take the lock now (called from inside the source, at the moment the test wants). */
  take: () => Promise<void>;
  /** Once a backend waits on the lock, wait `ms` more, then release. */
  releaseAfterWaiter: (ms: number) => Promise<void>;
  release: () => Promise<void>;
}

function describePg(t: { backend: string; url(): string }, fn: (lockUsers: () => Promise<HeldLock>) => void): void {
  const clients: pg.Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})));
  });
  const lockUsers = async (): Promise<HeldLock> => {
    const holder = new pg.Client({ connectionString: t.url() });
    const watcher = new pg.Client({ connectionString: t.url() });
    clients.push(holder, watcher);
    await holder.connect();
    await watcher.connect();
    let open = false;
    const release = async () => {
      if (open) await holder.query('rollback');
      open = false;
    };
    return {
      take: async () => {
        await holder.query('begin; lock table users in access exclusive mode');
        open = true;
      },
      release,
      releaseAfterWaiter: async (ms) => {
        for (;;) {
          const { rows } = await watcher.query(
            `select 1 from pg_locks where relation = 'users'::regclass and not granted`,
          );
          if (rows.length > 0) break;
          await sleep(20);
        }
        await sleep(ms);
        await release();
      },
    };
  };
  if (t.backend === 'postgres') fn(lockUsers);
}

describe('the server version verify needs', () => {
  it('PostgreSQL 13 and older are E_CONFIG naming the version and what to do; 14 and later pass', async () => {
    for (const [num, major] of [
      [130015, 13],
      [120000, 12],
    ] as const) {
      const err = await expectFerryError((async () => checkServerVersion(num))(), 'E_CONFIG');
      expect(err.message).toContain(`needs PostgreSQL 14 or later`);
      expect(err.message).toContain(`this server is PostgreSQL ${major}`);
      expect(err.message).toMatch(/Upgrade the server, or verify against a copy/);
    }
    for (const num of [140000, 150010, 180006]) expect(() => checkServerVersion(num)).not.toThrow();
  });
});
