/**
 * Regression tests for inputs that used to escape as raw errors (TypeError,
 * SyntaxError, a server error): each now fails as a FerryError with a stable
 * code, and the ones the schema can judge fail before any statement is sent.
 */
import { type Kysely, sql as ksql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type Ferry } from '../../src/index.js';
import { Repository } from '../../src/repo/repository.js';
import type { Table } from '../../src/schema/table.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { CaptureQueries } from './capture.js';
import { handles } from './conflict-schema.js';
import * as base from './schema.js';
import { memberships, users } from './schema.js';

const schema = { ...base, handles };

/** Decode a page() cursor, let `edit` change its payload, encode it again. */
function tamper(cursor: string, edit: (payload: { o: string; v: unknown[] }) => unknown): string {
  const payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  return Buffer.from(JSON.stringify(edit(payload))).toString('base64url');
}

describeEachBackend('repository: bad input fails as a FerryError', (t) => {
  let ferry: Ferry<any>;
  const capture = new CaptureQueries();
  /** A repository whose statements `capture` sees. */
  const repo = <T extends Table>(tbl: T) => {
    // The constructor compiles (not runs) its get statement; that is not a query sent.
    const before = capture.statements.length;
    const r = new Repository((ferry.db as Kysely<any>).withPlugin(capture), tbl);
    capture.statements.length = before;
    return r;
  };

  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema });
    await ferry.createSchema();
  });
  afterAll(() => ferry?.close());
  beforeEach(async () => {
    await ksql`truncate users, posts, memberships, handles restart identity cascade`.execute(ferry.db);
    capture.clear();
  });

  describe('a tampered page() cursor is E_BAD_CURSOR, before any query', () => {
    it('$bigint that is not an integer (was a SyntaxError)', async () => {
      await repo(users).insert([{ telegram_id: 2n ** 60n }, { telegram_id: 2n ** 61n }]);
      const page = await repo(users).page({ orderBy: { telegram_id: 'asc' }, limit: 1 });
      expect(Buffer.from(page.nextCursor!, 'base64url').toString()).toContain('"$bigint"');
      const bad = tamper(page.nextCursor!, (p) => ({ ...p, v: [{ $bigint: 'xyz' }, p.v[1]] }));
      capture.clear();
      await expectFerryError(
        repo(users).page({ orderBy: { telegram_id: 'asc' }, limit: 1, after: bad }),
        'E_BAD_CURSOR',
        /telegram_id value does not decode/,
      );
      expect(capture.statements).toHaveLength(0);
      // An int8 past the column's range is tampering too, not a server error.
      const huge = tamper(page.nextCursor!, (p) => ({ ...p, v: [{ $bigint: '9'.repeat(20) }, p.v[1]] }));
      await expectFerryError(
        repo(users).page({ orderBy: { telegram_id: 'asc' }, limit: 1, after: huge }),
        'E_BAD_CURSOR',
      );
    });

    it('$date that is not a date (was a TypeError)', async () => {
      await repo(users).insert([{ telegram_id: 1 }, { telegram_id: 2 }]);
      const page = await repo(users).page({ orderBy: { created_at: 'desc' }, limit: 1 });
      for (const value of [{ $date: 'garbage' }, { $date: 5 }, { $date: null }]) {
        const bad = tamper(page.nextCursor!, (p) => ({ ...p, v: [value, p.v[1]] }));
        await expectFerryError(
          repo(users).page({ orderBy: { created_at: 'desc' }, limit: 1, after: bad }),
          'E_BAD_CURSOR',
          /created_at/,
        );
      }
    });

    it('a payload of null, a number or an array, and a null key value (were TypeErrors)', async () => {
      await repo(users).insert([{ telegram_id: 1 }, { telegram_id: 2 }]);
      const page = await repo(users).page({ orderBy: { score: 'asc' }, limit: 1 });
      const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      for (const after of [encode(null), encode(7), encode([1]), encode({ o: 'score:asc,id:asc' })]) {
        await expectFerryError(repo(users).page({ orderBy: { score: 'asc' }, limit: 1, after }), 'E_BAD_CURSOR');
      }
      const nullKey = tamper(page.nextCursor!, (p) => ({ ...p, v: [null, p.v[1]] }));
      await expectFerryError(
        repo(users).page({ orderBy: { score: 'asc' }, limit: 1, after: nullKey }),
        'E_BAD_CURSOR',
        /score/,
      );
      expect(capture.statements).toHaveLength(2); // the insert and the first page()
    });

    it('an array where a key value belongs (was a raw server error)', async () => {
      await repo(users).insert([{ telegram_id: 1 }, { telegram_id: 2 }]);
      const page = await repo(users).page({ orderBy: { score: 'asc' }, limit: 1 });
      for (const value of [[1, 2], ['a'], { nested: 1 }, 'text']) {
        const bad = tamper(page.nextCursor!, (p) => ({ ...p, v: [value, p.v[1]] }));
        await expectFerryError(
          repo(users).page({ orderBy: { score: 'asc' }, limit: 1, after: bad }),
          'E_BAD_CURSOR',
          /score/,
        );
      }
      expect(capture.statements).toHaveLength(2);
    });

    it('the untampered cursor still pages, and a row as `after` with a list value is E_INVALID_VALUE', async () => {
      await repo(users).insert([{ telegram_id: 1 }, { telegram_id: 2 }]);
      const page = await repo(users).page({ orderBy: { score: 'asc' }, limit: 1 });
      const next = await repo(users).page({ orderBy: { score: 'asc' }, limit: 1, after: page.nextCursor! });
      expect(next.rows.map((r) => r.telegram_id)).toEqual([2]);
      await expectFerryError(
        repo(users).findMany({ orderBy: { score: 'asc' }, after: { score: [1, 2] as never, id: 1 } }),
        'E_INVALID_VALUE',
        /users\.score/,
      );
      await expectFerryError(repo(users).findMany({ after: null as never }), 'E_BAD_ARGUMENT', /after/);
    });
  });

  it('cursors and after-rows carry ±infinity timestamps (JSON would turn them into null)', async () => {
    await repo(users).insert([
      { telegram_id: 1, created_at: 'infinity' },
      { telegram_id: 2, created_at: '2024-01-01T00:00:00Z' },
      { telegram_id: 3, created_at: '-infinity' },
      { telegram_id: 4, created_at: 'infinity' },
    ]);
    const byCursor: number[] = [];
    let after: string | undefined;
    for (let guard = 0; guard < 10; guard++) {
      const page = await repo(users).page({ orderBy: { created_at: 'desc' }, limit: 1, after });
      byCursor.push(...page.rows.map((r) => r.telegram_id as number));
      if (!page.nextCursor) break;
      after = page.nextCursor;
    }
    expect(byCursor).toEqual([1, 4, 2, 3]);
    const [first] = await repo(users).findMany({ orderBy: { created_at: 'desc' }, limit: 1 });
    expect(first!.created_at).toBe(Number.POSITIVE_INFINITY);
    const rest = await repo(users).findMany({ orderBy: { created_at: 'desc' }, after: first });
    expect(rest.map((r) => r.telegram_id)).toEqual([4, 2, 3]);
  });

  it('a json (not jsonb) column in a filter or orderBy is E_BAD_ARGUMENT (was a raw server error)', async () => {
    await expectFerryError(
      repo(handles).findMany({ where: { meta: { a: 1 } } }),
      'E_BAD_ARGUMENT',
      /handles\.meta is json/,
    );
    await expectFerryError(repo(handles).count({ meta: [1, 2] }), 'E_BAD_ARGUMENT', /handles\.meta is json/);
    await expectFerryError(repo(handles).findMany({ orderBy: { meta: 'asc' } }), 'E_BAD_ARGUMENT', /cannot be sorted/);
    expect(capture.statements).toHaveLength(0);
    // IS NULL works on any column, and json values round-trip.
    await repo(handles).insert({ tenant: 1, slug: 'a', meta: { a: [1, 'x'] } });
    expect(await repo(handles).count({ meta: null })).toBe(0);
    expect((await repo(handles).findOne({ slug: 'a' }))!.meta).toEqual({ a: [1, 'x'] });
  });

  it('a composite key with a list or object for a key column is E_INVALID_VALUE (was a raw syntax error)', async () => {
    const m = repo(memberships);
    await expectFerryError(
      m.getMany([{ user_id: {}, group_id: [] } as never]),
      'E_INVALID_VALUE',
      /memberships\.user_id/,
    );
    await expectFerryError(
      m.get({ user_id: 1, group_id: [1, 2] } as never),
      'E_INVALID_VALUE',
      /memberships\.group_id/,
    );
    expect(capture.statements).toHaveLength(0);
  });

  describe('jsonb that JSON cannot represent is E_INVALID_VALUE naming table.column', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;

    for (const [what, value] of [
      ['a BigInt', { n: 10n }],
      ['a circular object', circular],
    ] as const) {
      it(`${what} (was a TypeError)`, async () => {
        await expectFerryError(repo(users).insert({ telegram_id: 1, prefs: value }), 'E_INVALID_VALUE', /users\.prefs/);
        await expectFerryError(
          repo(users).upsert({ telegram_id: 1, prefs: value }, { conflict: ['telegram_id'] }),
          'E_INVALID_VALUE',
          /users\.prefs/,
        );
        const row = await repo(users).insert({ telegram_id: 2 });
        await expectFerryError(repo(users).update(row.id, { prefs: value }), 'E_INVALID_VALUE', /users\.prefs/);
        await expectFerryError(repo(users).findOne({ prefs: value }), 'E_INVALID_VALUE', /users\.prefs/);
        expect(capture.statements).toHaveLength(1); // only the good insert
      });
    }
  });

  describe('upsert conflict must be a unique key of the schema, checked before any query', () => {
    it('a column without a unique constraint is E_BAD_ARGUMENT (was a raw server error)', async () => {
      const err = await expectFerryError(
        repo(users).upsert({ telegram_id: 1, username: 'ann' }, { conflict: ['username'] }),
        'E_BAD_ARGUMENT',
        /users: conflict on no primary key, unique constraint or unique index covers exactly \[username\]. Usable conflict targets: \[id\], \[telegram_id\]/,
      );
      expect(err.details.conflict).toEqual(['username']);
      await expectFerryError(
        repo(handles).upsert({ tenant: 1, slug: 'a' }, { conflict: ['tenant'] }),
        'E_BAD_ARGUMENT',
      );
      await expectFerryError(repo(handles).upsert({ tenant: 1, slug: 'a' }, { conflict: [] }), 'E_BAD_ARGUMENT');
      await expectFerryError(
        repo(handles).upsert({ tenant: 1, slug: 'a' }, { conflict: 'slug' as never }),
        'E_BAD_ARGUMENT',
        /array of column names/,
      );
      expect(capture.statements).toHaveLength(0);
    });

    it('a partial unique index is refused with a pointer to the query builder', async () => {
      await expectFerryError(
        repo(handles).upsert({ tenant: 1, slug: 'a', nick: 'x' }, { conflict: ['nick'] }),
        'E_BAD_ARGUMENT',
        /partial index handles_live_nick.*onConflict/,
      );
      expect(capture.statements).toHaveLength(0);
    });

    it('primary key, composite unique constraint (any order) and full unique index work', async () => {
      const h = repo(handles);
      await h.upsert({ tenant: 1, slug: 'a', note: 'one' }, { conflict: ['slug', 'tenant'] });
      await h.upsert({ tenant: 1, slug: 'a', note: 'two' }, { conflict: ['tenant', 'slug'] });
      await h.upsert({ tenant: 2, slug: 'b', email: 'e@x', note: 'three' }, { conflict: ['email'] });
      await h.upsert({ tenant: 3, slug: 'c', email: 'e@x', note: 'four' }, { conflict: ['email'] });
      await h.upsert({ id: 1, tenant: 1, slug: 'a', note: 'five' });
      const rows = await h.findMany({ orderBy: ['id'] });
      expect(rows.map((r) => [r.tenant, r.slug, r.note])).toEqual([
        [1, 'a', 'five'],
        [3, 'c', 'four'],
      ]);
    });

    it('update naming an unknown column, or not an array, is refused too', async () => {
      await expectFerryError(
        repo(handles).upsert({ tenant: 1, slug: 'a', email: 'e' }, { conflict: ['email'], update: ['nope' as never] }),
        'E_UNKNOWN_COLUMN',
      );
      await expectFerryError(
        repo(handles).upsert({ tenant: 1, slug: 'a', email: 'e' }, { conflict: ['email'], update: 'note' as never }),
        'E_BAD_ARGUMENT',
      );
      expect(capture.statements).toHaveLength(0);
    });
  });
});
