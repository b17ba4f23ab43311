/**
 * CSV/NDJSON export on both backends: CSV bytes equal to `psql \copy … csv
 * header` (Postgres) and to one PGlite COPY of the same SELECT across page
 * boundaries (PGlite), NDJSON values by Ferry's value policy, the options,
 * the file written whole or not at all, and the errors.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { Ferry } from '../../src/connect.js';
import type { DbHandle } from '../../src/db/open.js';
import { exportRows, exportTo } from '../../src/ops/export.js';
import { defineSchema } from '../../src/schema/schema.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Awkward values, cycled over the rows: NULL vs '', quotes, delimiters, newlines, unicode, `\.`. */
const TEXTS = [
  null,
  '',
  'plain',
  'a,b',
  'say "hi"',
  'line1\nline2',
  'cr\r\nlf',
  'héllo 🚢 ü',
  '\\.',
  ' padded ',
  "o'brien",
];
const ROWS = 23;

const SETUP = `
create type mood as enum ('ok', 'sad face');
create table awkward (
  id integer primary key,
  t text, big bigint, num numeric(24,6), r real, d double precision, b boolean,
  by bytea, js json, jb jsonb, arr text[], iarr integer[],
  ts timestamp, tstz timestamptz, dt date, iv interval, u uuid, m mood
);
insert into awkward
select i,
  (array[${TEXTS.map((t) => (t === null ? 'null' : `'${t.replaceAll("'", "''")}'`)).join(', ')}]::text[])[1 + i % ${TEXTS.length}],
  case when i % 3 = 0 then 9007199254740993 + i else i end,
  case when i % 4 = 0 then null else 123456789012345.123456 / i end,
  case when i % 5 = 0 then 'NaN'::real else i / 7.0 end,
  i * 1.1,
  case when i % 2 = 0 then true when i % 3 = 0 then null else false end,
  case when i % 2 = 0 then '\\x00ff2c22'::bytea else convert_to('bytes ' || i, 'UTF8') end,
  json_build_object('i', i, 'text', 'x,"y"', 'nested', json_build_array(1, 'two', null)),
  jsonb_build_object('k', i, 'big', 12345678901234567890),
  array['a,b', null, 'q"uote', '', 'ü ' || i],
  array[i, null, -i],
  case when i = 1 then 'infinity'::timestamp else timestamp '2024-03-10 02:30:00.123456' + i * interval '1 day 1 hour' end,
  timestamptz '2024-03-10 02:30:00.5+05:30' + i * interval '7 minutes',
  date '2024-02-29' + i,
  i * interval '1 day 02:03:04.5',
  ('8f14e45f-ceea-467f-a0e6-2f7a9b1c0d' || lpad(i::text, 2, '0'))::uuid,
  case when i % 2 = 0 then 'ok'::mood else 'sad face' end
from generate_series(1, ${ROWS}) as i;
create table pairs (k text, n integer, note text, primary key (k, n));
insert into pairs select (array['a', 'b''c', 'd,e', 'Z'])[1 + i % 4], i, 'note ' || i from generate_series(1, 17) as i;
create table keyless (v text);
insert into keyless values ('x'), (null), ('y,z'), ('\\.'), (''), ('"');
create sequence counter;
`;

/** A Writable that keeps what it is given. */
function sink(): Writable & { text(): string } {
  const parts: Buffer[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      cb();
    },
  });
  return Object.assign(w, { text: () => Buffer.concat(parts).toString('utf8') });
}

async function csv(db: DbHandle, options: Parameters<typeof exportTo>[1]): Promise<string> {
  const out = sink();
  const summary = await exportTo(db, options, out);
  expect(summary.bytes).toBe(Buffer.byteLength(out.text()));
  return out.text();
}

/** One COPY of `select` on the session, as PGlite's `COPY … TO '/dev/blob'` (or the server) gives it whole. */
async function oneCopy(db: DbHandle, select: string): Promise<string> {
  const parts: Buffer[] = [];
  await db.session((s) => s.copyOut(`copy (${select}) to stdout with (format csv, header)`, (c) => void parts.push(c)));
  return Buffer.concat(parts).toString('utf8');
}

/** `psql \copy (select) to file csv header`, in the session settings Ferry uses (UTC, ISO dates). */
function psqlCopy(url: string, select: string): string {
  const file = join(dir, `psql-${Math.random().toString(36).slice(2)}.csv`);
  execFileSync(
    'psql',
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', `\\copy (${select}) to '${file}' csv header`],
    {
      env: {
        ...process.env,
        PGTZ: 'UTC',
        PGDATESTYLE: 'ISO,MDY',
        PGOPTIONS: '-c IntervalStyle=postgres',
        PGCLIENTENCODING: 'UTF8',
      },
    },
  );
  return readFileSync(file, 'utf8');
}

describeEachBackend('export', (t) => {
  let db: DbHandle;
  beforeAll(async () => {
    db = await t.open();
    await db.session((s) => s.query(SETUP));
    await db.refreshTypes();
  });

  it('CSV of a table equals one COPY of it (psql \\copy on Postgres), across page boundaries', async () => {
    const ordered = 'select * from awkward order by id';
    const reference = t.backend === 'postgres' ? psqlCopy(t.url(), ordered) : await oneCopy(db, ordered);
    expect(reference.split('\n')[0]).toBe('id,t,big,num,r,d,b,by,js,jb,arr,iarr,ts,tstz,dt,iv,u,m');
    expect(reference).toContain('""'); // the empty string is quoted, NULL is not
    expect(reference).toContain(',\\.,'); // quoted only when alone on its line (a one-column export)
    if (t.backend === 'postgres') {
      // Postgres: one COPY of the table, in its physical order, as psql's \copy of the table gives it.
      expect(await csv(db, { table: 'awkward' })).toBe(psqlCopy(t.url(), 'select * from awkward'));
      expect(await csv(db, { query: ordered })).toBe(reference);
    } else {
      // PGlite: pages by primary key; 1 (every row its page), 4, 23 (one full page, then an empty one) and 100.
      for (const chunkRows of [1, 4, ROWS, 100]) {
        expect(await csv(db, { table: 'awkward', chunkRows }), `chunkRows ${chunkRows}`).toBe(reference);
      }
    }
  });

  it.runIf(t.backend === 'pglite')(
    'CSV pages hold chunkRows rows each, in the key’s order (not its text: "10" < "9")',
    async () => {
      // At each write, progress counts the rows of the pages already written: a page per step of chunkRows.
      const seen: number[] = [];
      await exportTo(db, { table: 'awkward', chunkRows: 4, onProgress: (p) => void seen.push(p.rows) }, sink());
      const starts = [...new Set(seen)];
      expect(starts.slice(0, 6)).toEqual([0, 4, 8, 12, 16, 20]);
      expect(starts.at(-1)).toBe(ROWS);
    },
  );

  it('CSV pages on a composite key with quotes in it, with where and columns', async () => {
    const select = `select n, k from pairs where (n % 3 <> 0) order by k, n`;
    const reference = t.backend === 'postgres' ? psqlCopy(t.url(), select) : await oneCopy(db, select);
    expect(reference.split('\n').length - 2).toBe(12);
    const options = { table: 'public.pairs', where: 'n % 3 <> 0', columns: ['n', 'k'], chunkRows: 5 };
    const got = await csv(db, options);
    if (t.backend === 'pglite') expect(got).toBe(reference);
    // On Postgres the table's rows come in physical order: the same lines, maybe in another order.
    else expect(got.split('\n').sort()).toEqual(reference.split('\n').sort());
    const summary = await exportTo(db, options, sink());
    expect(summary.rows).toBe(12);
  });

  it('CSV of a query equals one COPY of it (PGlite: a cursor, across FETCH boundaries)', async () => {
    const query = 'select * from awkward order by id';
    const reference = t.backend === 'postgres' ? psqlCopy(t.url(), query) : await oneCopy(db, query);
    for (const chunkRows of [1, 4, ROWS, 100]) {
      expect(await csv(db, { query, chunkRows }), `chunkRows ${chunkRows}`).toBe(reference);
    }
    const all = 'select * from keyless';
    const keyless = t.backend === 'postgres' ? psqlCopy(t.url(), all) : await oneCopy(db, all);
    expect(await csv(db, { table: 'keyless', chunkRows: 2 })).toBe(keyless);
    expect(await csv(db, { query: 'select id, t from awkward where false', chunkRows: 2 })).toBe('id,t\n');
  });

  it('a table without a primary key and a query, with where and columns', async () => {
    expect(await csv(db, { table: 'keyless', chunkRows: 1 })).toBe('v\nx\n\n"y,z"\n"\\."\n""\n""""\n');
    const query = `select id, t as "Text, quoted" from awkward where id <= 3 order by id;`;
    expect(await csv(db, { query, chunkRows: 1 })).toBe('id,"Text, quoted"\n1,""\n2,plain\n3,"a,b"\n');
    expect(await csv(db, { query, where: 'id > 1', columns: ['id'] })).toBe('id\n2\n3\n');
  });

  it('NDJSON: values as Ferry reads them, in pages of chunkRows', async () => {
    const out = sink();
    const summary = await exportTo(db, { table: 'awkward', format: 'ndjson', chunkRows: 4, where: 'id <= 6' }, out);
    const lines = out.text().split('\n');
    expect(lines.pop()).toBe('');
    expect(summary.rows).toBe(6);
    expect(lines).toHaveLength(6);
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>).sort((a, b) => Number(a.id) - Number(b.id));
    expect(Object.keys(rows[0]!)).toEqual('id,t,big,num,r,d,b,by,js,jb,arr,iarr,ts,tstz,dt,iv,u,m'.split(','));
    expect(rows.map((r) => r.t)).toEqual(TEXTS.slice(1, 7)); // SQL arrays count from 1
    const [one, two, three, four, five] = rows as [Record<string, unknown>, ...Record<string, unknown>[]];
    expect(one.big).toBe(1);
    expect(three?.big).toBe('9007199254740996'); // past 2^53: a string, exact
    expect(one.num).toBe('123456789012345.123456'); // numeric: exact, as a string
    expect(four?.num).toBeNull();
    expect(five?.r).toBe('NaN');
    expect(one.ts).toBe('infinity');
    expect(two?.ts).toBe('2024-03-12T04:30:00.123Z');
    expect(one.tstz).toBe('2024-03-09T21:07:00.500Z');
    expect(one.dt).toBe('2024-03-01');
    expect(one.iv).toBe('1 day 02:03:04.5');
    expect(two?.by).toBe(Buffer.from([0, 0xff, 0x2c, 0x22]).toString('base64'));
    expect(Buffer.from(String(one.by), 'base64').toString()).toBe('bytes 1');
    expect(one.js).toEqual({ i: 1, text: 'x,"y"', nested: [1, 'two', null] });
    expect(one.jb).toEqual({ k: 1, big: Number('12345678901234567890') });
    expect(one.arr).toEqual(['a,b', null, 'q"uote', '', 'ü 1']);
    expect(one.iarr).toEqual([1, null, -1]);
    expect(one.b).toBe(false);
    expect(two?.b).toBe(true);
    expect(three?.b).toBeNull();
    expect(one.m).toBe('sad face');
  });

  it('NDJSON of a query', async () => {
    const out = sink();
    await exportTo(
      db,
      { query: 'select k, count(*)::int as n from pairs group by k order by k collate "C"', format: 'ndjson' },
      out,
    );
    expect(out.text()).toBe('{"k":"Z","n":4}\n{"k":"a","n":4}\n{"k":"b\'c","n":5}\n{"k":"d,e","n":4}\n');
  });

  it('exportRows streams the same bytes, and holds back while nobody reads', async () => {
    const options = { query: "select i, repeat('x', 1000) as pad from generate_series(1, 300) as i", chunkRows: 1 };
    const stream = exportRows(db, { ...options, format: 'ndjson' });
    // Nobody reads: the export fills the stream's buffer and then waits for it to drain.
    // Waited for by time, not by a count of event-loop turns: on a loaded machine the server's rows come later.
    await vi.waitFor(() => expect(stream.writableNeedDrain).toBe(true), { timeout: 20_000, interval: 5 });
    let settled = false;
    void stream.summary.then(() => {
      settled = true;
    });
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    const parts: Buffer[] = [];
    for await (const chunk of stream) parts.push(chunk as Buffer);
    expect((await stream.summary).rows).toBe(300);
    const whole = sink();
    await exportTo(db, { ...options, format: 'ndjson' }, whole);
    expect(Buffer.concat(parts).toString()).toBe(whole.text());
  });

  it('a file is written whole under a temporary name and renamed, or not at all', async () => {
    const file = join(dir, `${t.backend}-awkward.csv`);
    const summary = await exportTo(db, { table: 'awkward', chunkRows: 5 }, file);
    expect(summary).toMatchObject({ rows: ROWS, file, bytes: readFileSync(file).length });
    const before = readFileSync(file, 'utf8');
    expect(before).toBe(await csv(db, { table: 'awkward' }));
    // A failing export leaves the old file as it was and no temporary file behind.
    await expectFerryError(exportTo(db, { table: 'awkward', where: 'nope > 1' }, file), 'E_EXPORT_QUERY');
    const failing = join(dir, `${t.backend}-never.csv`);
    await expectFerryError(exportTo(db, { table: 'awkward', where: 'nope > 1' }, failing), 'E_EXPORT_QUERY');
    expect(existsSync(failing)).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await expectFerryError(
      exportTo(db, { table: 'awkward' }, join(dir, 'no-such-dir', 'x.csv')),
      'E_EXPORT_OUTPUT',
      /no-such-dir/,
    );
  });

  it('a destination that fails mid-export fails the export, and the session stays usable', async () => {
    let writes = 0;
    const broken = new Writable({
      highWaterMark: 1,
      write(_chunk, _enc, cb) {
        writes++;
        cb(writes === 2 ? new Error('disk full') : null);
      },
    });
    broken.on('error', () => {});
    await expect(exportTo(db, { table: 'awkward', format: 'ndjson', chunkRows: 2 }, broken)).rejects.toThrow(
      /disk full/,
    );
    // CSV: on Postgres the COPY is abandoned mid-stream (far more rows than the socket buffers hold).
    writes = 0;
    const huge = "select i, repeat('x', 1000) as pad from generate_series(1, 100000) as i";
    await expect(exportTo(db, { query: huge, chunkRows: 1000 }, broken)).rejects.toThrow(/disk full|closed/);
    expect(await csv(db, { table: 'keyless' })).toBe('v\nx\n\n"y,z"\n"\\."\n""\n""""\n');
  });

  it('errors name the table, the column or the server message', async () => {
    const unknown = await expectFerryError(
      exportTo(db, { table: 'awkard' }, sink()),
      'E_EXPORT_TABLE',
      /"awkard".*"awkward"/,
    );
    expect(unknown.details).toMatchObject({ table: 'awkard', candidates: ['awkward'] });
    await expectFerryError(exportTo(db, { table: 'bad name"' }, sink()), 'E_EXPORT_TABLE');
    await expectFerryError(
      exportTo(db, { table: 'awkward', columns: ['id', 'tt'] }, sink()),
      'E_UNKNOWN_COLUMN',
      /"tt".*"t"/,
    );
    await expectFerryError(exportTo(db, {}, sink()), 'E_EXPORT_OPTIONS');
    await expectFerryError(exportTo(db, { table: 'awkward', query: 'select 1' }, sink()), 'E_EXPORT_OPTIONS');
    await expectFerryError(exportTo(db, { table: 'awkward', format: 'xml' as 'csv' }, sink()), 'E_EXPORT_OPTIONS');
    await expectFerryError(exportTo(db, { table: 'awkward', chunkRows: 0 }, sink()), 'E_EXPORT_OPTIONS');
    await expectFerryError(
      exportTo(db, { table: 'awkward', statementTimeout: 'soon' as '30s' }, sink()),
      'E_EXPORT_OPTIONS',
    );
    if (t.backend === 'postgres') {
      // The export's own statement_timeout (PGlite does not enforce one).
      await expectFerryError(
        exportTo(db, { query: 'select pg_sleep(5)', statementTimeout: 50 }, sink()),
        'E_EXPORT_QUERY',
        /cancelled.*--statement-timeout/,
      );
    }
    for (const format of ['csv', 'ndjson'] as const) {
      const bad = await expectFerryError(
        exportTo(db, { query: 'select idd from awkward', format }, sink()),
        'E_EXPORT_QUERY',
        /column "idd" does not exist/,
      );
      expect(bad.details.sqlstate).toBe('42703');
      // The export runs READ ONLY: the query cannot change anything.
      await expectFerryError(
        exportTo(db, { query: "select nextval('counter')", format }, sink()),
        'E_EXPORT_QUERY',
        /read-only transaction/,
      );
    }
    const { rows } = await db.session((s) => s.query<{ v: string }>('select last_value::text as v from counter'));
    expect(rows[0]?.v).toBe('1');
  });

  it('ferry.export(table, { to }) loads the export on demand', async () => {
    const ferry = new Ferry(db, defineSchema({}), {});
    const file = join(dir, `${t.backend}-ferry.ndjson`);
    writeFileSync(file, 'old');
    const summary = await ferry.export('pairs', { to: file, format: 'ndjson', where: "k = 'Z'" });
    expect(summary.rows).toBe(4);
    expect(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).k),
    ).toEqual(['Z', 'Z', 'Z', 'Z']);
    const bySql = await ferry.export(null, { query: 'select 1 as one', to: sink() });
    expect(bySql).toMatchObject({ rows: 1, bytes: 6, file: null });
  });
});
