/**
 * `RawSession.copyIn` with statements around the COPY (one round trip on
 * Postgres): they run in order, and a failing COPY skips what follows it,
 * leaving what ran before it (a savepoint) to roll back to.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import { describeEachBackend } from '../support/backends.js';

describeEachBackend('copyIn with statements around it', (t) => {
  let db: DbHandle;
  beforeAll(async () => {
    db = await t.open();
    await db.session((s) =>
      s.query(`drop table if exists copy_around_c; drop table if exists copy_around_p;
        create table copy_around_p (id int primary key);
        create table copy_around_c (id int primary key, p int references copy_around_p)`),
    );
  });

  const count = (s: Parameters<Parameters<DbHandle['session']>[0]>[0], table: string) =>
    s.query<{ n: number }>(`select count(*)::int as n from ${table}`).then((r) => r.rows[0]?.n);

  describe('in a transaction', () => {
    it('runs before, the COPY, then after', async () => {
      await db.session(async (s) => {
        await s.query('begin');
        try {
          await s.copyIn('copy copy_around_p (id) from stdin', '1\n2\n', {
            before: 'create temp table copy_around_log (step text) on commit drop',
            after: "insert into copy_around_log values ('after'); savepoint copy_around_sp",
          });
          expect(await count(s, 'copy_around_p')).toBe(2);
          expect((await s.query<{ step: string }>('select step from copy_around_log')).rows).toEqual([
            { step: 'after' },
          ]);
          // The savepoint made by `after` exists: releasing it works.
          await s.query('release savepoint copy_around_sp');
        } finally {
          await s.query('rollback');
        }
      });
    });

    it('a COPY the database refuses skips `after` and leaves the savepoint `before` made', async () => {
      await db.session(async (s) => {
        await s.query('begin');
        try {
          await s.query('insert into copy_around_p values (10)');
          await expect(
            s.copyIn('copy copy_around_c (id, p) from stdin', '1\t10\n2\t999\n', {
              before: 'savepoint copy_around_direct',
              after: 'release savepoint copy_around_direct',
            }),
          ).rejects.toMatchObject({ code: '23503' });
          // Not released: rolling back to it works, and what came before it is kept.
          await s.query('rollback to savepoint copy_around_direct; release savepoint copy_around_direct');
          expect(await count(s, 'copy_around_c')).toBe(0);
          expect(await count(s, 'copy_around_p')).toBe(1);
        } finally {
          await s.query('rollback');
        }
      });
    });
  });
});
