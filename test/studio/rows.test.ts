/**
 * Studio's table routes over real HTTP, on both backends: the list and a
 * table's detail, keyset pages both ways over 100k rows, every filter
 * operator, search, relations both ways, and edits with optimistic locking.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import type { RowsResponse, TableResponse, TablesResponse } from '../../src/studio/api.js';
import { describeEachBackend } from '../support/backends.js';
import { call, createModel, q, type Served, serve } from './fixture.js';

const HASH = '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW';

describeEachBackend('studio tables and rows', (t) => {
  let handle: DbHandle;
  let served: Served;
  let token: string;
  const write = (extra: Record<string, string> = {}) => ({ 'x-ferry-studio-token': token, ...extra });

  beforeAll(async () => {
    handle = await t.open();
    await createModel(handle);
    await sql`insert into authors (name, email, password_hash, born, meta, tags, score, big, avatar, created_at) values
      ('Ada', 'ada@example.com', ${HASH}, '1815-12-10', '{"langs":["en"]}', '{a,b}', 12.50, 9007199254740993, '\\x0102'::bytea, '2026-01-01T10:00:00.123456Z'),
      ('Brendan', 'brendan@example.com', null, null, '"just text"', null, null, null, null, '2026-01-02T10:00:00Z'),
      ('Cleo', null, ${HASH}, '1990-01-01', null, '{c}', 7, 1, null, '2026-01-03T10:00:00Z')`.execute(handle.db);
    await sql`insert into books (author_id, title, pages) select 1, 'Book ' || g, g * 10 from generate_series(1, 3) g`.execute(
      handle.db,
    );
    await sql`insert into books (author_id, title, pages) values (3, 'Cleo''s only', null)`.execute(handle.db);
    await sql`create table events (id integer primary key, kind text, at timestamptz not null)`.execute(handle.db);
    await sql`insert into events select g, case g % 3 when 0 then 'click' when 1 then 'view' end,
      timestamptz '2026-01-01 00:00:00+00' + (g / 7) * interval '1 second' from generate_series(1, 100000) g`.execute(
      handle.db,
    );
    await sql`create index events_at on events (at desc, id)`.execute(handle.db);
    await sql`create table plain_log (line text)`.execute(handle.db);
    await sql`insert into plain_log values ('one'), ('two'), ('three')`.execute(handle.db);
    await sql`analyze`.execute(handle.db);
    served = await serve(handle, { write: true });
    token = served.handler.token;
  });
  afterAll(() => served?.close());

  it('lists tables with estimates from pg_class and sizes, never a count', async () => {
    const { status, body } = await call<TablesResponse>(served, 'GET', '/api/tables');
    expect(status).toBe(200);
    const events = body.tables.find((x) => x.name === 'events')!;
    expect(events.kind).toBe('table');
    expect(events.estimatedRows).toBeGreaterThan(90_000);
    expect(events.estimatedRows).toBeLessThan(110_000);
    expect(events.bytes).toBeGreaterThan(1_000_000);
    expect(body.tables.map((x) => x.name)).toEqual(expect.arrayContaining(['authors', 'books', 'plain_log']));
  });

  it('describes a table: kinds, sensitive columns, primary key, foreign keys both ways, DDL', async () => {
    const { body } = await call<TableResponse>(served, 'GET', '/api/tables/authors');
    const kinds = Object.fromEntries(body.columns.map((c) => [c.name, c.kind]));
    expect(kinds).toMatchObject({
      id: 'number',
      name: 'text',
      born: 'date',
      created_at: 'timestamp',
      meta: 'json',
      tags: 'array',
      score: 'number',
      big: 'bigint',
      avatar: 'bytea',
      active: 'boolean',
    });
    const hash = body.columns.find((c) => c.name === 'password_hash')!;
    expect(hash).toMatchObject({ sensitive: true, searchable: false });
    expect(body.primaryKey).toEqual(['id']);
    expect(body.referencedBy).toEqual([
      { name: 'books_author_id_fkey', table: 'books', columns: ['author_id'], refTable: 'authors', refColumns: ['id'] },
    ]);
    expect(body.ddl).toMatch(/^CREATE TABLE authors \(\n {2}id serial NOT NULL/);
    const books = await call<TableResponse>(served, 'GET', '/api/tables/books');
    expect(books.body.foreignKeys[0]).toMatchObject({ table: 'books', refTable: 'authors', columns: ['author_id'] });
    expect(books.body.ddl).toMatch(/FOREIGN KEY \(author_id\) REFERENCES authors/);
    const missing = await call(served, 'GET', '/api/tables/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('E_STUDIO_NOT_FOUND');
  });

  it('types cells and masks sensitive columns in rows', async () => {
    const { body } = await call<RowsResponse>(served, 'GET', '/api/tables/authors/rows?sort=id');
    const [ada, brendan] = body.rows;
    expect(ada!.cells).toMatchObject({
      password_hash: { $masked: true },
      born: '1815-12-10',
      created_at: '2026-01-01T10:00:00.123Z',
      meta: { $json: { langs: ['en'] } },
      tags: ['a', 'b'],
      score: '12.50',
      big: '9007199254740993',
      avatar: { $bytea: 2 },
    });
    expect(brendan!.cells.password_hash).toBeNull();
    expect(brendan!.cells.meta).toEqual({ $json: 'just text' });
    expect(ada!.key).toEqual({ id: 1 });
    expect(JSON.stringify(body)).not.toContain(HASH.slice(7, 20));
    expect(body.sql).toMatch(/^select .* from "public"."authors" as r order by r."id" asc limit 51$/s);
  });

  it('pages a 100k-row table to the last page and back with keyset cursors', async () => {
    const seen: number[] = [];
    let page = await call<RowsResponse>(served, 'GET', '/api/tables/events/rows?limit=500&sort=at&dir=desc');
    expect(page.body.prev).toBeNull();
    expect(page.body.estimatedTotal).toBeGreaterThan(90_000);
    const pages: RowsResponse[] = [page.body];
    while (page.body.next) {
      for (const r of page.body.rows) seen.push(r.cells.id as number);
      page = await call<RowsResponse>(
        served,
        'GET',
        `/api/tables/events/rows?limit=500&sort=at&dir=desc&after=${page.body.next}`,
      );
      expect(page.status).toBe(200);
      pages.push(page.body);
    }
    for (const r of page.body.rows) seen.push(r.cells.id as number);
    expect(pages).toHaveLength(200);
    expect(seen).toHaveLength(100_000);
    expect(new Set(seen).size).toBe(100_000);
    // at descending, then id descending among equal timestamps (each second holds 7 ids): ties are
    // broken in the sort's direction, so the other direction is this order exactly reversed.
    expect(seen.slice(0, 3)).toEqual([100000, 99999, 99998]);
    expect(seen.slice(-3)).toEqual([3, 2, 1]);
    expect(page.body.next).toBeNull();
    // Back from the last page with `before`: the same pages, in reverse.
    for (let i = pages.length - 2; i >= 0; i--) {
      const prev = pages[i + 1]!.prev;
      expect(prev).not.toBeNull();
      const back = await call<RowsResponse>(
        served,
        'GET',
        `/api/tables/events/rows?limit=500&sort=at&dir=desc&before=${prev}`,
      );
      expect(back.body.rows.map((r) => r.cells.id)).toEqual(pages[i]!.rows.map((r) => r.cells.id));
      pages[i] = back.body;
    }
    expect(pages[0]!.prev).toBeNull();
  }, 120_000);

  it('pages by a nullable column with duplicates in both directions, in the order Postgres sorts it', async () => {
    await sql`create table mixed (id integer primary key, v integer)`.execute(handle.db);
    await sql`insert into mixed select g, case when g % 4 = 0 then null else g % 5 end from generate_series(1, 40) g`.execute(
      handle.db,
    );
    const orders: Record<string, unknown[]> = {};
    for (const dir of ['asc', 'desc'] as const) {
      // Ties are broken by the key in the sort's direction.
      const expected = (
        await sql<{ id: number }>`select id from mixed order by v ${sql.raw(dir)}, id ${sql.raw(dir)}`.execute(
          handle.db,
        )
      ).rows.map((r) => r.id);
      const pages: RowsResponse[] = [];
      let cursor: string | null = null;
      do {
        const path = `/api/tables/mixed/rows?limit=3&sort=v&dir=${dir}${cursor ? `&after=${cursor}` : ''}`;
        const page: RowsResponse = (await call<RowsResponse>(served, 'GET', path)).body;
        pages.push(page);
        cursor = page.next;
      } while (cursor);
      expect(pages.flatMap((p) => p.rows.map((r) => r.cells.id))).toEqual(expected);
      // And back from the last page.
      const back: unknown[] = [...pages.at(-1)!.rows.map((r) => r.cells.id)];
      let before = pages.at(-1)!.prev;
      while (before) {
        const page: RowsResponse = (
          await call<RowsResponse>(served, 'GET', `/api/tables/mixed/rows?limit=3&sort=v&dir=${dir}&before=${before}`)
        ).body;
        back.unshift(...page.rows.map((r) => r.cells.id));
        before = page.prev;
      }
      expect(back).toEqual(expected);
      orders[dir] = back;
    }
    // So one direction is the other exactly reversed (what the page's "Last page" relies on).
    expect(orders.desc).toEqual([...(orders.asc ?? [])].reverse());
  });

  it('pages a view (no key: every column orders it)', async () => {
    await sql`create view some_events as select id, kind from events where id <= 10`.execute(handle.db);
    const seen: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page: RowsResponse = (
        await call<RowsResponse>(
          served,
          'GET',
          `/api/tables/some_events/rows?limit=4&sort=kind${cursor ? `&after=${cursor}` : ''}`,
        )
      ).body;
      seen.push(...page.rows.map((r) => r.cells.id));
      cursor = page.next;
    } while (cursor);
    const expected = (
      await sql<{ id: number }>`select id from some_events order by kind, id::text`.execute(handle.db)
    ).rows.map((r) => r.id);
    expect(seen).toEqual(expected);
    const refused = await call(served, 'POST', '/api/tables/some_events/rows', {
      headers: write(),
      body: { values: { id: 1 } },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/is a view: Studio edits tables only/);
    const view = await call<TableResponse>(served, 'GET', '/api/tables/some_events');
    expect(view.body).toMatchObject({ kind: 'view', primaryKey: [], referencedBy: [] });
    expect(view.body.ddl).toMatch(/^CREATE VIEW some_events/);
  });

  it('names tables outside public schema.name, and quotes every identifier', async () => {
    await sql`create schema "audit trail"`.execute(handle.db);
    await sql`create table "audit trail"."Odd ""Name""" ("Key" integer primary key, "a""b" text)`.execute(handle.db);
    await sql`insert into "audit trail"."Odd ""Name""" values (1, 'x'), (2, 'y')`.execute(handle.db);
    const name = 'audit trail.Odd "Name"';
    const listed = await call<TablesResponse>(served, 'GET', '/api/tables');
    expect(listed.body.tables.find((x) => x.name === name)).toMatchObject({ schema: 'audit trail', kind: 'table' });
    const path = `/api/tables/${encodeURIComponent(name)}`;
    const detail = await call<TableResponse>(served, 'GET', path);
    expect(detail.body.primaryKey).toEqual(['Key']);
    const sort = encodeURIComponent('a"b');
    const rows = await call<RowsResponse>(served, 'GET', `${path}/rows?sort=${sort}&dir=desc&limit=1`);
    expect(rows.body.rows[0]!.cells).toEqual({ Key: 2, 'a"b': 'y' });
    const next = await call<RowsResponse>(
      served,
      'GET',
      `${path}/rows?sort=${sort}&dir=desc&limit=1&after=${rows.body.next}`,
    );
    expect(next.body.rows[0]!.key).toEqual({ Key: 1 });
    const updated = await call(served, 'PATCH', `${path}/rows`, {
      headers: write(),
      body: { key: { Key: 1 }, version: next.body.rows[0]!.version, values: { 'a"b': 'z' } },
    });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body.row.cells['a"b']).toBe('z');
  });

  it('knows enum columns: their values, filters cast to the enum', async () => {
    await sql`create type mood as enum ('happy', 'sad', 'meh')`.execute(handle.db);
    await sql`create table moods (id integer primary key, m mood, ms mood[])`.execute(handle.db);
    await sql`insert into moods values (1, 'sad', '{happy,meh}'), (2, 'happy', null)`.execute(handle.db);
    const { body } = await call<TableResponse>(served, 'GET', '/api/tables/moods');
    expect(body.columns[1]).toMatchObject({ name: 'm', kind: 'enum', enumValues: ['happy', 'sad', 'meh'] });
    expect(body.columns[2]).toMatchObject({ name: 'ms', kind: 'array', type: 'mood[]' });
    const rows = await call<RowsResponse>(
      served,
      'GET',
      `/api/tables/moods/rows?filter=${q([{ column: 'm', op: 'in', value: ['happy', 'meh'] }])}`,
    );
    expect(rows.body.rows.map((r) => r.cells)).toEqual([{ id: 2, m: 'happy', ms: null }]);
    const all = await call<RowsResponse>(served, 'GET', '/api/tables/moods/rows?sort=m');
    expect(all.body.rows.map((r) => r.cells.ms)).toEqual([null, ['happy', 'meh']]);
  });

  it('refuses a cursor made for another order, and a tampered one', async () => {
    const first = await call<RowsResponse>(served, 'GET', '/api/tables/events/rows?limit=5&sort=at');
    const other = await call(served, 'GET', `/api/tables/events/rows?limit=5&sort=id&after=${first.body.next}`);
    expect(other.status).toBe(400);
    expect(other.body.error.message).toMatch(/another table or sort order/);
    const garbage = await call(served, 'GET', '/api/tables/events/rows?after=bm90IGpzb24');
    expect(garbage.status).toBe(400);
  });

  it('filters with every operator, values cast to the column type', async () => {
    const ids = async (filter: unknown, table = 'authors') => {
      const { status, body } = await call<RowsResponse>(
        served,
        'GET',
        `/api/tables/${table}/rows?sort=id&filter=${q(filter)}`,
      );
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body.estimatedTotal).toBeNull();
      return body.rows.map((r) => r.cells.id);
    };
    expect(await ids([{ column: 'name', op: 'eq', value: 'Ada' }])).toEqual([1]);
    expect(await ids([{ column: 'name', op: 'ne', value: 'Ada' }])).toEqual([2, 3]);
    expect(await ids([{ column: 'score', op: 'lt', value: '12.5' }])).toEqual([3]);
    expect(await ids([{ column: 'score', op: 'lte', value: 12.5 }])).toEqual([1, 3]);
    expect(await ids([{ column: 'created_at', op: 'gt', value: '2026-01-02T10:00:00Z' }])).toEqual([3]);
    expect(await ids([{ column: 'created_at', op: 'gte', value: '2026-01-02T10:00:00Z' }])).toEqual([2, 3]);
    expect(await ids([{ column: 'email', op: 'contains', value: 'EXAMPLE.com' }])).toEqual([1, 2]);
    expect(await ids([{ column: 'name', op: 'contains', value: '%' }])).toEqual([]);
    expect(await ids([{ column: 'email', op: 'isNull' }])).toEqual([3]);
    expect(await ids([{ column: 'born', op: 'notNull' }])).toEqual([1, 3]);
    expect(await ids([{ column: 'id', op: 'in', value: [1, 3, 99] }])).toEqual([1, 3]);
    expect(await ids([{ column: 'big', op: 'eq', value: '9007199254740993' }])).toEqual([1]);
    expect(await ids([{ column: 'meta', op: 'eq', value: { $json: { langs: ['en'] } } }])).toEqual([1]);
    expect(await ids([{ column: 'tags', op: 'eq', value: ['a', 'b'] }])).toEqual([1]);
    expect(await ids([{ column: 'password_hash', op: 'isNull' }])).toEqual([2]);
    // Values are parameters: SQL in one is a value that does not match, not SQL.
    expect(await ids([{ column: 'name', op: 'eq', value: "x' or '1'='1" }])).toEqual([]);
    const bad = await call(
      served,
      'GET',
      `/api/tables/authors/rows?filter=${q([{ column: 'id', op: 'eq', value: 'abc' }])}`,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/integer/);
    const secret = await call(
      served,
      'GET',
      `/api/tables/authors/rows?filter=${q([{ column: 'password_hash', op: 'eq', value: HASH }])}`,
    );
    expect(secret.status).toBe(400);
    expect(secret.body.error.message).toMatch(/sensitive/);
    const unknownOp = await call(
      served,
      'GET',
      `/api/tables/authors/rows?filter=${q([{ column: 'id', op: 'like', value: 1 }])}`,
    );
    expect(unknownOp.body.error.message).toMatch(/op must be one of eq, ne/);
    const unknownColumn = await call(
      served,
      'GET',
      `/api/tables/authors/rows?filter=${q([{ column: 'nme', op: 'isNull' }])}`,
    );
    expect(unknownColumn.body.error.message).toMatch(/no column "nme"/);
  });

  it('searches text columns with q (substring on a small table, full text on a big one), never sensitive ones', async () => {
    const small = await call<RowsResponse>(served, 'GET', '/api/tables/authors/rows?q=bren');
    expect(small.body.rows.map((r) => r.cells.name)).toEqual(['Brendan']);
    const hash = await call<RowsResponse>(served, 'GET', `/api/tables/authors/rows?q=${encodeURIComponent('$2b$12')}`);
    expect(hash.body.rows).toEqual([]);
    const big = await call<RowsResponse>(served, 'GET', '/api/tables/events/rows?q=click&limit=3&sort=id');
    expect(big.body.rows.map((r) => r.cells.id)).toEqual([3, 6, 9]);
    expect(big.body.sql).toContain('websearch_to_tsquery');
  });

  it('pages a table without a primary key by its row address', async () => {
    const first = await call<RowsResponse>(served, 'GET', '/api/tables/plain_log/rows?limit=2');
    expect(first.body.rows.map((r) => r.cells.line)).toEqual(['one', 'two']);
    expect(first.body.rows[0]!.key).toBeNull();
    const second = await call<RowsResponse>(
      served,
      'GET',
      `/api/tables/plain_log/rows?limit=2&after=${first.body.next}`,
    );
    expect(second.body.rows.map((r) => r.cells.line)).toEqual(['three']);
    expect(second.body.next).toBeNull();
  });

  it('follows relations both ways: a row by key, its children with capped counts', async () => {
    const parent = await call(served, 'GET', `/api/tables/authors/row?key=${q({ id: 3 })}`);
    expect(parent.body.row.cells.name).toBe('Cleo');
    const children = await call(served, 'GET', `/api/tables/authors/children?key=${q({ id: 1 })}`);
    expect(children.body.children).toEqual([
      {
        foreignKey: expect.objectContaining({ table: 'books', columns: ['author_id'] }),
        count: 3,
        cap: 1000,
        filter: [{ column: 'author_id', op: 'eq', value: '1' }],
      },
    ]);
    const listed = await call<RowsResponse>(
      served,
      'GET',
      `/api/tables/books/rows?filter=${q(children.body.children[0].filter)}`,
    );
    expect(listed.body.rows.map((r) => r.cells.title)).toEqual(['Book 1', 'Book 2', 'Book 3']);
    const none = await call(served, 'GET', `/api/tables/authors/children?key=${q({ id: 2 })}`);
    expect(none.body.children[0].count).toBe(0);
    const gone = await call(served, 'GET', `/api/tables/authors/row?key=${q({ id: 999 })}`);
    expect(gone.status).toBe(404);
  });

  describe('edits', () => {
    it('inserts, updates and deletes, each answering the SQL it ran', async () => {
      const inserted = await call(served, 'POST', '/api/tables/authors/rows', {
        headers: write(),
        body: { values: { name: 'Dora', score: '3.25', meta: { $json: [1, 2] }, tags: ['x'] } },
      });
      expect(inserted.status, JSON.stringify(inserted.body)).toBe(201);
      expect(inserted.body.row.cells).toMatchObject({
        name: 'Dora',
        score: '3.25',
        meta: { $json: [1, 2] },
        tags: ['x'],
      });
      expect(inserted.body.sql).toMatch(
        /^insert into "public"."authors" as r \("name", "score", "meta", "tags"\) values \('Dora'::character varying\(40\)/,
      );
      const { key, version } = inserted.body.row;
      const updated = await call(served, 'PATCH', '/api/tables/authors/rows', {
        headers: write(),
        body: { key, version, values: { email: 'dora@example.com' } },
      });
      expect(updated.status).toBe(200);
      expect(updated.body.row.cells.email).toBe('dora@example.com');
      expect(updated.body.row.version).not.toBe(version);
      const deleted = await call(served, 'DELETE', '/api/tables/authors/rows', {
        headers: write(),
        body: { key, version: updated.body.row.version },
      });
      expect(deleted.status).toBe(200);
      expect(deleted.body).toMatchObject({ row: null });
      expect(deleted.body.sql).toMatch(/^delete from "public"."authors"/);
      const { rows } = await sql`select count(*)::int as n from authors where name = 'Dora'`.execute(handle.db);
      expect(rows[0]).toEqual({ n: 0 });
    });

    it('does not overwrite a row changed since it was read: 409 with the current row, nothing written', async () => {
      const read = await call(served, 'GET', `/api/tables/authors/row?key=${q({ id: 2 })}`);
      const { key, version } = read.body.row;
      // Someone else edits it meanwhile.
      await sql`update authors set email = 'other@example.com' where id = 2`.execute(handle.db);
      const stale = await call(served, 'PATCH', '/api/tables/authors/rows', {
        headers: write(),
        body: { key, version, values: { email: 'mine@example.com' } },
      });
      expect(stale.status).toBe(409);
      expect(stale.body.error.code).toBe('E_STUDIO_CONFLICT');
      expect(stale.body.current.cells.email).toBe('other@example.com');
      const staleDelete = await call(served, 'DELETE', '/api/tables/authors/rows', {
        headers: write(),
        body: { key, version },
      });
      expect(staleDelete.status).toBe(409);
      const { rows } = await sql<{ email: string }>`select email from authors where id = 2`.execute(handle.db);
      expect(rows[0]!.email).toBe('other@example.com');
      // With the current version it goes through.
      const retry = await call(served, 'PATCH', '/api/tables/authors/rows', {
        headers: write(),
        body: { key, version: stale.body.current.version, values: { email: 'mine@example.com' } },
      });
      expect(retry.status).toBe(200);
    });

    it("answers 422 with the schema's and the database's messages per column", async () => {
      const invalid = await call(served, 'POST', '/api/tables/authors/rows', {
        headers: write(),
        body: { values: { name: 'x'.repeat(41), big: 'many' } },
      });
      expect(invalid.status).toBe(422);
      expect(Object.keys(invalid.body.error.fields).sort()).toEqual(['big', 'name']);
      expect(invalid.body.error.fields.name).toMatch(/longer than 40/);
      const missing = await call(served, 'POST', '/api/tables/authors/rows', {
        headers: write(),
        body: { values: { email: 'a@b' } },
      });
      expect(missing.status).toBe(422);
      expect(missing.body.error.fields.name).toMatch(/required/);
      const orphan = await call(served, 'POST', '/api/tables/books/rows', {
        headers: write(),
        body: { values: { author_id: 999, title: 'Nobody' } },
      });
      expect(orphan.status).toBe(422);
      expect(orphan.body.error.fields.author_id).toMatch(/foreign key/);
      const masked = await call(served, 'PATCH', '/api/tables/authors/rows', {
        headers: write(),
        body: { key: { id: 1 }, version: 'x', values: { password_hash: { $masked: true } } },
      });
      expect(masked.status).toBe(422);
      expect(masked.body.error.fields.password_hash).toMatch(/masked/);
    });
  });
});
