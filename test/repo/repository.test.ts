import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Ferry } from '../../src/index.js';
import type { DatabaseOf } from '../../src/schema/infer.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import * as schema from './schema.js';
import { memberships, posts, users } from './schema.js';

type DB = DatabaseOf<typeof schema>;

describeEachBackend('repository', { pgbouncer: true }, (t) => {
  let ferry: Ferry<DB>;

  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema });
    await ferry.createSchema();
  });
  afterAll(() => ferry?.close());
  beforeEach(async () => {
    await sql`truncate users, posts, memberships restart identity cascade`.execute(ferry.db);
  });

  describe('insert and read', () => {
    it('insert returns the row with defaults filled in', async () => {
      const row = await ferry.repo(users).insert({ telegram_id: 10, username: 'ann' });
      expect(row).toMatchObject({ id: 1, telegram_id: 10, username: 'ann', tier: 'free', score: 0, is_active: true });
      expect(row.created_at).toBeInstanceOf(Date);
    });

    it('insert many keeps the order and get/getMany find them', async () => {
      const repo = ferry.repo(users);
      const rows = await repo.insert([{ telegram_id: 1 }, { telegram_id: 2, username: 'b' }, { telegram_id: 3 }]);
      expect(rows.map((r) => r.telegram_id)).toEqual([1, 2, 3]);
      expect(await repo.get(rows[1]!.id)).toMatchObject({ telegram_id: 2, username: 'b' });
      expect(await repo.get(999)).toBeUndefined();
      const many = await repo.getMany([rows[2]!.id, 999, rows[0]!.id]);
      expect(many.map((r) => r.telegram_id)).toEqual([3, 1]);
      expect(await repo.insert([])).toEqual([]);
    });

    it('json values, including top-level arrays, round-trip on both backends', async () => {
      const repo = ferry.repo(users);
      const a = await repo.insert({ telegram_id: 5, prefs: [1, 'two', { three: 3 }] });
      const b = await repo.insert({ telegram_id: 6, prefs: { units: 'km', nested: [true, null] } });
      expect((await repo.get(a.id))!.prefs).toEqual([1, 'two', { three: 3 }]);
      expect((await repo.get(b.id))!.prefs).toEqual({ units: 'km', nested: [true, null] });
    });

    it('composite keys: get by key object', async () => {
      const repo = ferry.repo(memberships);
      await repo.insert([
        { user_id: 1, group_id: 1 },
        { user_id: 1, group_id: 2, role: 'admin' },
      ]);
      expect(await repo.get({ user_id: 1, group_id: 2 })).toEqual({ user_id: 1, group_id: 2, role: 'admin' });
      const many = await repo.getMany([
        { user_id: 1, group_id: 2 },
        { user_id: 1, group_id: 1 },
      ]);
      expect(many.map((m) => m.group_id)).toEqual([2, 1]);
    });

    it('findOne, count: equality, IN lists, IS NULL and Kysely expressions', async () => {
      const repo = ferry.repo(users);
      await repo.insert([
        { telegram_id: 1, username: 'ann', score: 5 },
        { telegram_id: 2, username: null, score: 7 },
        { telegram_id: 3, username: 'bob', score: 9, tier: 'pro' },
      ]);
      expect((await repo.findOne({ username: 'bob' }))?.telegram_id).toBe(3);
      expect((await repo.findOne({ username: null }))?.telegram_id).toBe(2);
      expect(await repo.count({ telegram_id: [1, 3] })).toBe(2);
      expect(await repo.count({ telegram_id: [] })).toBe(0);
      expect(await repo.count({ tier: 'pro', is_active: true })).toBe(1);
      expect(await repo.count((eb) => eb('score', '>', 6))).toBe(2);
      expect(await repo.count()).toBe(3);
    });
  });

  describe('keyset pagination', () => {
    async function pageAll(
      orderBy: Parameters<ReturnType<Ferry<DB>['repo']>['findMany']>[0] extends infer O
        ? O extends { orderBy?: infer B }
          ? B
          : never
        : never,
      limit: number,
      how: 'row' | 'cursor',
    ) {
      const repo = ferry.repo(users);
      const seen: number[] = [];
      let after: string | Record<string, unknown> | undefined;
      for (let guard = 0; guard < 100; guard++) {
        if (how === 'cursor') {
          const page = await repo.page({ orderBy: orderBy as never, limit, after: after as string | undefined });
          seen.push(...page.rows.map((r) => r.id));
          if (!page.nextCursor) return seen;
          after = page.nextCursor;
        } else {
          const rows = await repo.findMany({ orderBy: orderBy as never, limit, after: after as never });
          seen.push(...rows.map((r) => r.id));
          if (rows.length < limit) return seen;
          after = rows[rows.length - 1];
        }
      }
      throw new Error('pagination did not terminate');
    }

    beforeEach(async () => {
      // 23 users in 4 timestamp buckets and 3 scores, some usernames NULL: many ties.
      const base = Date.UTC(2024, 0, 1);
      await ferry.repo(users).insert(
        Array.from({ length: 23 }, (_, i) => ({
          telegram_id: 100 + i,
          username: i % 4 === 0 ? null : `u${i % 5}`,
          score: i % 3,
          created_at: new Date(base + (i % 4) * 60_000),
        })),
      );
    });

    const cases = [
      { orderBy: { created_at: 'desc' } as const, sql: 'created_at desc, id' },
      {
        orderBy: [
          ['score', 'asc'],
          ['created_at', 'desc'],
        ] as const,
        sql: 'score asc, created_at desc, id',
      },
      { orderBy: { username: 'asc' } as const, sql: 'username asc nulls last, id' },
      { orderBy: { username: 'desc' } as const, sql: 'username desc nulls first, id' },
      {
        orderBy: [
          ['username', 'asc'],
          ['score', 'desc'],
        ] as const,
        sql: 'username asc nulls last, score desc, id',
      },
    ];
    for (const c of cases) {
      for (const how of ['row', 'cursor'] as const) {
        it(`visits every row exactly once in order: ${c.sql} (by ${how})`, async () => {
          const expected = await sql<{ id: number }>`select id from users order by ${sql.raw(c.sql)}`.execute(ferry.db);
          for (const limit of [1, 4, 7]) {
            expect(await pageAll(c.orderBy as never, limit, how)).toEqual(expected.rows.map((r) => r.id));
          }
        });
      }
    }

    it('rejects a cursor made for another order', async () => {
      const page = await ferry.repo(users).page({ orderBy: { score: 'asc' }, limit: 2 });
      await expectFerryError(
        ferry.repo(users).page({ orderBy: { score: 'desc' }, limit: 2, after: page.nextCursor! }),
        'E_BAD_CURSOR',
        /different orderBy/,
      );
      await expectFerryError(ferry.repo(users).page({ limit: 2, after: 'garbage!' }), 'E_BAD_CURSOR');
    });
  });

  describe('upsert', () => {
    it('updates on a unique column and inserts the rest', async () => {
      const repo = ferry.repo(users);
      const [first] = await repo.upsert({ telegram_id: 1, username: 'old', score: 1 }, { conflict: ['telegram_id'] });
      const rows = await repo.upsert(
        [
          { telegram_id: 1, username: 'new', score: 2 },
          { telegram_id: 2, username: 'other' },
        ],
        { conflict: ['telegram_id'], update: ['username'] },
      );
      expect(rows).toHaveLength(2);
      const updated = rows.find((r) => r.telegram_id === 1)!;
      expect(updated).toMatchObject({ id: first!.id, username: 'new', score: 1 });
      expect(await repo.count()).toBe(2);
    });

    it('update: [] keeps existing rows (DO NOTHING)', async () => {
      const repo = ferry.repo(users);
      await repo.insert({ telegram_id: 1, username: 'kept' });
      const rows = await repo.upsert(
        [
          { telegram_id: 1, username: 'ignored' },
          { telegram_id: 2, username: 'fresh' },
        ],
        { conflict: ['telegram_id'], update: [] },
      );
      expect(rows.map((r) => r.username)).toEqual(['fresh']);
      expect((await repo.findOne({ telegram_id: 1 }))!.username).toBe('kept');
    });

    it('collapses repeated keys in one call to the last row', async () => {
      const rows = await ferry.repo(users).upsert(
        [
          { telegram_id: 7, username: 'a' },
          { telegram_id: 7, username: 'b' },
        ],
        { conflict: ['telegram_id'] },
      );
      expect(rows.map((r) => r.username)).toEqual(['b']);
    });

    it('conflicts on the primary key by default, and bumps updated_at', async () => {
      const repo = ferry.repo(memberships);
      await repo.insert({ user_id: 1, group_id: 1 });
      await repo.upsert({ user_id: 1, group_id: 1, role: 'owner' });
      expect((await repo.get({ user_id: 1, group_id: 1 }))!.role).toBe('owner');

      const u = await ferry
        .repo(users)
        .insert({ telegram_id: 9, created_at: '2020-01-01T00:00:00Z', updated_at: '2020-01-01T00:00:00Z' });
      const [after] = await ferry.repo(users).upsert({ telegram_id: 9, username: 'x' }, { conflict: ['telegram_id'] });
      expect(after!.updated_at.getTime()).toBeGreaterThan(u.updated_at.getTime());
      expect(after!.created_at).toEqual(u.created_at);
    });
  });

  describe('update and delete', () => {
    it('update by key returns the row and sets updated_at; by filter returns rows', async () => {
      const repo = ferry.repo(users);
      const old = new Date('2020-01-01T00:00:00Z');
      const row = await repo.insert({ telegram_id: 1, updated_at: old });
      const updated = await repo.update(row.id, { username: 'ann' });
      expect(updated).toMatchObject({ id: row.id, username: 'ann' });
      expect(updated!.updated_at.getTime()).toBeGreaterThan(old.getTime());
      expect(await repo.update(12345, { username: 'nobody' })).toBeUndefined();
      await repo.insert({ telegram_id: 2 });
      const rows = await repo.update({ is_active: true }, { tier: 'pro' });
      expect(rows).toHaveLength(2);
    });

    it('raw Kysely updates also set updated_at', async () => {
      const old = new Date('2020-01-01T00:00:00Z');
      const row = await ferry.repo(users).insert({ telegram_id: 1, updated_at: old });
      await ferry.db.updateTable('users').set({ score: 3 }).where('id', '=', row.id).execute();
      const after = await ferry.repo(users).get(row.id);
      expect(after!.updated_at.getTime()).toBeGreaterThan(old.getTime());
      // An explicit value wins.
      await ferry.db.updateTable('users').set({ updated_at: old }).where('id', '=', row.id).execute();
      expect((await ferry.repo(users).get(row.id))!.updated_at).toEqual(old);
    });

    it('delete by key or filter returns the count and cascades', async () => {
      const u = await ferry.repo(users).insert({ telegram_id: 1 });
      await ferry.repo(posts).insert([
        { user_id: u.id, body: 'a' },
        { user_id: u.id, body: 'b' },
      ]);
      expect(await ferry.repo(posts).delete({ body: 'a' })).toBe(1);
      expect(await ferry.repo(users).delete(u.id)).toBe(1);
      expect(await ferry.repo(posts).count()).toBe(0);
      expect(await ferry.repo(users).delete(u.id)).toBe(0);
    });

    it('refuses an empty patch or an empty filter', async () => {
      await expectFerryError(ferry.repo(users).update(1, {}), 'E_BAD_ARGUMENT', /empty patch/);
      await expectFerryError(ferry.repo(users).delete({}), 'E_BAD_ARGUMENT', /every row/);
      await expectFerryError(ferry.repo(users).update({ username: undefined }, { score: 1 }), 'E_BAD_ARGUMENT');
    });
  });

  describe('transactions', () => {
    it('commits on return and rolls back on throw', async () => {
      await ferry.transaction(async (tx) => {
        await tx.repo(users).insert({ telegram_id: 1 });
      });
      await expect(
        ferry.transaction(async (tx) => {
          await tx.repo(users).insert({ telegram_id: 2 });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await ferry.repo(users).count()).toBe(1);
    });

    it('nested transactions are savepoints: an inner failure keeps the outer work', async () => {
      const order: string[] = [];
      await ferry.transaction(async (tx) => {
        await tx.repo(users).insert({ telegram_id: 1 });
        await tx.afterCommit(() => order.push('outer'));
        await expect(
          tx.transaction(async (inner) => {
            await inner.repo(users).insert({ telegram_id: 2 });
            await inner.afterCommit(() => order.push('discarded'));
            throw new Error('inner');
          }),
        ).rejects.toThrow('inner');
        await tx.transaction(async (inner) => {
          await inner.repo(users).insert({ telegram_id: 3 });
          await inner.afterCommit(() => order.push('kept'));
          await inner.transaction(async (deeper) => {
            await deeper.repo(users).insert({ telegram_id: 4 });
          });
        });
        expect(order).toEqual([]); // nothing runs before the commit
      });
      const ids = (await ferry.repo(users).findMany({ orderBy: ['telegram_id'] })).map((r) => r.telegram_id);
      expect(ids).toEqual([1, 3, 4]);
      expect(order).toEqual(['outer', 'kept']);
    });

    it('afterCommit never runs on rollback, and runs at once outside a transaction', async () => {
      const ran: string[] = [];
      await expect(
        ferry.transaction(async (tx) => {
          await tx.afterCommit(() => ran.push('no'));
          throw new Error('rollback');
        }),
      ).rejects.toThrow();
      await ferry.afterCommit(() => ran.push('now'));
      expect(ran).toEqual(['now']);
    });

    it('concurrent tasks in their own transactions never see each other', async () => {
      const u = await ferry.repo(users).insert({ telegram_id: 1 });
      const tasks = Array.from({ length: 8 }, (_, task) =>
        ferry.transaction(async (tx) => {
          for (let i = 0; i < 5; i++) await tx.repo(posts).insert({ user_id: u.id, body: `t${task}-${i}`, task });
          // Only this task's uncommitted rows, never another's.
          expect(await tx.repo(posts).count({ task })).toBe(5);
          const others = await tx.repo(posts).count((eb) => eb('task', '!=', task));
          const committedOthers = others % 5 === 0;
          expect(committedOthers).toBe(true);
          if (task === 3) throw new Error('task 3 fails');
        }),
      );
      const results = await Promise.allSettled(tasks);
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
      expect(await ferry.repo(posts).count()).toBe(35);
      expect(await ferry.repo(posts).count({ task: 3 })).toBe(0);
    });
  });

  describe('bad input gets a clear error', () => {
    it('unknown column, with a suggestion', async () => {
      await expectFerryError(
        ferry.repo(users).insert({ telegram_id: 1, usernme: 'x' } as never),
        'E_UNKNOWN_COLUMN',
        /users has no column "usernme". Did you mean "username"\?/,
      );
      await expectFerryError(ferry.repo(users).findOne({ nope: 1 } as never), 'E_UNKNOWN_COLUMN');
      await expectFerryError(ferry.repo(users).findMany({ orderBy: { nope: 'asc' } as never }), 'E_UNKNOWN_COLUMN');
    });

    it('wrong value types name the table, column and row', async () => {
      await expectFerryError(
        ferry.repo(users).insert({ telegram_id: 'abc' } as never),
        'E_INVALID_VALUE',
        /users\.telegram_id \(bigint\).*string "abc"/,
      );
      await expectFerryError(
        ferry.repo(users).insert([{ telegram_id: 1 }, { telegram_id: 2, tier: 'gold' as never }]),
        'E_INVALID_VALUE',
        /users\.tier.*\(row 1\)/,
      );
      await expectFerryError(
        ferry.repo(users).insert({ telegram_id: 1, username: 'x'.repeat(33) }),
        'E_INVALID_VALUE',
        /longer than 32/,
      );
      await expectFerryError(
        ferry.repo(users).insert({ telegram_id: 1, username: 'a\u0000b' }),
        'E_INVALID_VALUE',
        /NUL/,
      );
      await expectFerryError(
        ferry.repo(users).insert({ username: 'x' } as never),
        'E_INVALID_VALUE',
        /telegram_id is required/,
      );
      await expectFerryError(ferry.repo(users).get('1' as never), 'E_INVALID_VALUE');
      expect(await ferry.repo(users).count()).toBe(0);
    });

    it('constraint violations name the constraint', async () => {
      await ferry.repo(users).insert({ telegram_id: 1 });
      const err = await expectFerryError(
        ferry.repo(users).insert({ telegram_id: 1 }),
        'E_CONSTRAINT',
        /unique constraint \(users_telegram_id_key\)/,
      );
      expect(err.details.sqlstate).toBe('23505');
      await expectFerryError(ferry.repo(posts).insert({ user_id: 999, body: 'x' }), 'E_CONSTRAINT', /foreign key/);
    });
  });
});
