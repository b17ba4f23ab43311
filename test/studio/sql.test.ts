/**
 * The SQL runner over real HTTP, on both backends: read-only by default
 * (a write is refused by the transaction itself and nothing changes), one
 * statement, a row cap, EXPLAIN, masking, the timeout named, the history.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import type { SqlHistoryResponse, SqlResponse } from '../../src/studio/api.js';
import { describeEachBackend } from '../support/backends.js';
import { call, createModel, type Served, serve } from './fixture.js';

const HASH = '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW';

describeEachBackend('studio SQL runner', (t) => {
  let handle: DbHandle;
  let readOnly: Served;
  let writable: Served;
  const run = (served: Served, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    call<SqlResponse>(served, 'POST', '/api/sql', { body, headers });
  const count = async () =>
    (await sql<{ n: number }>`select count(*)::int as n from authors`.execute(handle.db)).rows[0]!.n;

  beforeAll(async () => {
    handle = await t.open();
    await createModel(handle);
    await sql`insert into authors (name, password_hash, meta, big, created_at)
      select 'A' || g, ${HASH}, '{"n":1}', 9007199254740993, timestamptz '2026-01-01 00:00:00.5+00'
      from generate_series(1, 30) g`.execute(handle.db);
    readOnly = await serve(handle, { statementTimeout: '300ms' });
    writable = await serve(handle, { write: true, statementTimeout: '300ms' });
  });
  afterAll(async () => {
    await readOnly?.close();
    await writable?.close();
  });

  it('runs a query with typed, capped results', async () => {
    const { status, body } = await run(readOnly, {
      sql: 'select id, name, meta, big, created_at, active from authors order by id',
      maxRows: 10,
    });
    expect(status).toBe(200);
    expect(body.columns).toEqual([
      { name: 'id', type: 'integer' },
      { name: 'name', type: 'character varying' },
      { name: 'meta', type: 'jsonb' },
      { name: 'big', type: 'bigint' },
      { name: 'created_at', type: 'timestamp with time zone' },
      { name: 'active', type: 'boolean' },
    ]);
    expect(body.rows[0]).toEqual([1, 'A1', { $json: { n: 1 } }, '9007199254740993', '2026-01-01T00:00:00.500Z', true]);
    expect(body.rows).toHaveLength(10);
    expect(body).toMatchObject({ truncated: true, rowCount: null });
    const all = await run(readOnly, { sql: 'select 1 as one' });
    expect(all.body).toMatchObject({ rows: [[1]], truncated: false, rowCount: 1 });
  });

  it('masks sensitive columns, by name and (PostgreSQL) by source column', async () => {
    const { body } = await run(readOnly, { sql: 'select password_hash, name from authors where id = 1' });
    expect(body.rows[0]).toEqual([{ $masked: true }, 'A1']);
    if (t.backend === 'postgres') {
      const renamed = await run(readOnly, { sql: 'select password_hash as x from authors where id = 1' });
      expect(renamed.body.rows[0]).toEqual([{ $masked: true }]);
    }
    expect(JSON.stringify(body)).not.toContain('R9h/cIPz');
  });

  it('refuses a write in read-only mode, by the READ ONLY transaction, and writes nothing', async () => {
    const refused = await run(readOnly, { sql: "insert into authors (name) values ('sneaky')" });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: { code: 'E_STUDIO_SQL' } });
    expect((refused.body as any).error.message).toMatch(/read-only transaction.*SQLSTATE 25006.*--write/);
    const cte = await run(readOnly, { sql: 'with x as (delete from authors returning 1) select count(*) from x' });
    expect(cte.status).toBe(400);
    const asking = await run(readOnly, { sql: "insert into authors (name) values ('sneaky')", write: true });
    expect(asking.status).toBe(403);
    const noToken = await run(writable, { sql: "insert into authors (name) values ('sneaky')", write: true });
    expect(noToken.status).toBe(401);
    expect(await count()).toBe(30);
  });

  it('writes with write mode, the token and write: true', async () => {
    const token = { 'x-ferry-studio-token': writable.handler.token };
    const inserted = await run(writable, { sql: "insert into authors (name) values ('written')", write: true }, token);
    expect(inserted.status).toBe(200);
    expect(inserted.body.rowCount).toBe(1);
    expect(await count()).toBe(31);
    // Without write: true even write mode runs read-only.
    const ro = await run(writable, { sql: "delete from authors where name = 'written'" }, token);
    expect(ro.status).toBe(400);
    const deleted = await run(writable, { sql: "delete from authors where name = 'written'", write: true }, token);
    expect(deleted.body.rowCount).toBe(1);
  });

  it('runs one statement only, and never transaction control or COPY', async () => {
    const two = await run(readOnly, { sql: 'select 1; select 2' });
    expect(two.status).toBe(400);
    expect((two.body as any).error.message).toMatch(/one statement at a time; this has 2/);
    for (const statement of ['commit', 'begin', 'copy authors to stdout', 'set role postgres', 'discard all']) {
      const refused = await run(readOnly, { sql: statement });
      expect(refused.status, statement).toBe(400);
    }
  });

  it('explains (FORMAT JSON); ANALYZE only in write mode with the token', async () => {
    const plain = await run(readOnly, { sql: 'select * from authors where id = 1', explain: true });
    expect(plain.status).toBe(200);
    expect((plain.body.plan as any)[0].Plan['Node Type']).toBeTypeOf('string');
    const analyze = await run(readOnly, { sql: 'select 1', explain: true, analyze: true });
    expect(analyze.status).toBe(403);
    const analyzed = await run(
      writable,
      { sql: 'select count(*) from authors', explain: true, analyze: true },
      {
        'x-ferry-studio-token': writable.handler.token,
      },
    );
    expect((analyzed.body.plan as any)[0]['Execution Time']).toBeTypeOf('number');
  });

  it.runIf(t.backend === 'postgres')('stops a statement at the timeout and says so', async () => {
    const slow = await run(readOnly, { sql: 'select pg_sleep(5)' });
    expect(slow.status).toBe(400);
    expect((slow.body as any).error.message).toMatch(/statement timeout of 300 ms \(statementTimeout\)/);
  });

  it('keeps a history, newest first, with failures', async () => {
    await run(readOnly, { sql: 'select 42 as answer' });
    await run(readOnly, { sql: 'select nope' });
    const { body } = await call<SqlHistoryResponse>(readOnly, 'GET', '/api/sql/history');
    expect(body.entries[0]).toMatchObject({ sql: 'select nope', ok: false });
    expect(body.entries[0]!.error).toMatch(/nope/);
    expect(body.entries[1]).toMatchObject({ sql: 'select 42 as answer', ok: true, rowCount: 1 });
  });
});
