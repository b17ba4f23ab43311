/**
 * The value contract: every type reads back as the *same* JS value on PGlite
 * and on PostgreSQL. Expected values are written once; both backends must
 * match them with toStrictEqual (so a Buffer vs Uint8Array or a Date vs
 * string difference fails), and a final suite compares the backends' raw
 * results with each other.
 */
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import { describeEachBackend, TEST_BACKENDS } from '../support/backends.js';

const BIG = 9007199254740993n; // 2^53 + 1: not a safe integer

const COLUMNS = `
  id integer primary key,
  i2 smallint, i4 integer, i8 bigint, i8_small bigint,
  num numeric(10,2), r real, d double precision, b boolean,
  t text, vc varchar(20), ch char(5), u uuid,
  dt date, ts timestamp, tstz timestamptz, iv interval,
  js json, jb jsonb, by bytea, m mood,
  a_int integer[], a_text text[], a_date date[], a_ts timestamp[], a_mood mood[],
  a_i8 bigint[], a_2d integer[][], a_jb jsonb[]`;

/** What every row reads back as, on every backend. */
const EXPECTED = {
  i2: 32767,
  i4: -2147483648,
  i8: BIG,
  i8_small: 42,
  num: '12345678.90',
  r: 3.25,
  d: 0.30000000000000004,
  b: true,
  t: 'héllo "quoted" \\ back, {brace} 🚢',
  vc: 'short',
  ch: 'ab   ',
  u: '8f14e45f-ceea-467f-a0e6-2f7a9b1c0d3e',
  dt: '2024-02-29',
  ts: new Date('2024-03-10T02:30:00.123Z'),
  tstz: new Date('2024-03-10T02:30:00.456Z'),
  iv: '1 day 02:00:00',
  js: { a: [1, 'x', null], b: { c: true } },
  jb: { a: [1, 'x', null], b: { c: true } },
  by: Buffer.from([0, 1, 254, 255]),
  m: 'sad',
  a_int: [1, null, 3],
  a_text: ['a', 'b c', 'with,comma', 'quote"s', 'back\\slash', 'NULL', null, '', '{x}'],
  a_date: ['2024-01-01', '1999-12-31'],
  a_ts: [new Date('2024-01-01T00:00:00.000Z'), new Date('1970-01-01T00:00:00.001Z')],
  a_mood: ['happy', 'meh'],
  a_i8: [1, BIG],
  a_2d: [
    [1, 2],
    [3, 4],
  ],
  a_jb: [{ k: 1 }, [2], 'three'],
};

/** Literal SQL spelling of EXPECTED, to check the server's own input parsing reads back the same. */
const LITERALS = `
  32767, -2147483648, 9007199254740993, 42,
  12345678.90, 3.25, 0.30000000000000004, true,
  E'héllo "quoted" \\\\ back, {brace} 🚢', 'short', 'ab', '8f14e45f-ceea-467f-a0e6-2f7a9b1c0d3e',
  '2024-02-29', '2024-03-10 02:30:00.123', '2024-03-10 04:30:00.456+02', '1 day 2 hours',
  '{"a": [1, "x", null], "b": {"c": true}}', '{"a": [1, "x", null], "b": {"c": true}}', '\\x0001feff', 'sad',
  '{1,NULL,3}', ARRAY['a', 'b c', 'with,comma', 'quote"s', E'back\\\\slash', 'NULL', NULL, '', '{x}'],
  '{2024-01-01,1999-12-31}', '{"2024-01-01 00:00:00","1970-01-01 00:00:00.001"}', '{happy,meh}',
  '{1,9007199254740993}', '{{1,2},{3,4}}', ARRAY['{"k": 1}', '[2]', '"three"']::jsonb[]`;

const NULL_ROW = Object.fromEntries(Object.keys(EXPECTED).map((k) => [k, null]));

/** Raw results per backend, for the cross-backend comparison at the end. */
const seen = new Map<string, unknown>();

describeEachBackend('value types', (t) => {
  let h: DbHandle;
  let db: Kysely<any>;

  beforeAll(async () => {
    h = await t.open();
    db = h.db;
    // Created after open: enum (array) types must still parse without a manual refresh.
    await sql`create type mood as enum ('happy', 'sad', 'meh')`.execute(db);
    await sql.raw(`create table every_type (${COLUMNS})`).execute(db);
  });

  it('reads parameter-inserted values back identically', async () => {
    // Objects become JSON text and arrays array literals on both drivers, so
    // jsonb[] elements must be JSON-encoded by the caller (as with plain pg).
    await db
      .insertInto('every_type')
      .values({ id: 1, ...EXPECTED, a_jb: EXPECTED.a_jb.map((v) => JSON.stringify(v)) })
      .execute();
    const row = await db.selectFrom('every_type').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
    seen.set(`${t.backend}:params`, row);
    expect(row).toStrictEqual({ id: 1, ...EXPECTED });
  });

  it('reads literal-inserted values back identically', async () => {
    await sql.raw(`insert into every_type values (2, ${LITERALS})`).execute(db);
    const row = await db.selectFrom('every_type').selectAll().where('id', '=', 2).executeTakeFirstOrThrow();
    seen.set(`${t.backend}:literals`, row);
    expect(row).toStrictEqual({ id: 2, ...EXPECTED });
  });

  it('reads NULL as null for every type', async () => {
    await db.insertInto('every_type').values({ id: 3 }).execute();
    const row = await db.selectFrom('every_type').selectAll().where('id', '=', 3).executeTakeFirstOrThrow();
    expect(row).toStrictEqual({ id: 3, ...NULL_ROW });
  });

  it('returns count(*) and safe int8 expressions as numbers, numeric aggregates as strings', async () => {
    const row = await db
      .selectFrom('every_type')
      .select([
        sql<number>`count(*)`.as('n'),
        sql<string>`sum(i8)`.as('sum_i8'),
        sql<number>`max(i8_small)`.as('max_i8'),
        sql<string>`avg(i4)`.as('avg_i4'),
      ])
      .executeTakeFirstOrThrow();
    seen.set(`${t.backend}:aggregates`, row);
    expect(row).toStrictEqual({ n: 3, sum_i8: '18014398509481986', max_i8: 42, avg_i4: '-2147483648.00000000' });
  });

  it('parses computed values and special timestamps the same way', async () => {
    const { rows } = await sql`
      select
        '2024-01-01 00:00:00'::timestamptz as tz_no_offset,
        'infinity'::timestamp as ts_inf, '-infinity'::timestamptz as tstz_ninf,
        '0044-03-15 12:00:00 BC'::timestamp as ts_bc, '0099-12-31 23:59:59.999999'::timestamp as ts_99,
        'infinity'::date as date_inf, '2024-01-01'::date + 1 as date_plus,
        interval '1 year 2 months 3 days 04:05:06.5' as iv, interval '-1 day' as iv_neg,
        1::numeric / 3 as third, 'NaN'::float8 as nan, '-Infinity'::float4 as ninf,
        current_setting('TimeZone') as tz, current_setting('DateStyle') as datestyle,
        '{}'::int[] as empty_arr, '[0:1]={7,8}'::int[] as bounded_arr,
        array['2024-01-01 00:00:00+00'::timestamptz] as a_tstz,
        array[true, false, null] as a_bool, array['\\x01'::bytea, '\\x'::bytea] as a_bytea,
        array[1.5, 2]::numeric[] as a_num, array['1 hour'::interval] as a_iv,
        row(1, 'a') as rec, '(1,2)'::point as pt, '12:34:56'::time as tm`.execute(db);
    const row = rows[0] as Record<string, unknown>;
    seen.set(`${t.backend}:computed`, row);
    expect(row).toStrictEqual({
      tz_no_offset: new Date('2024-01-01T00:00:00Z'), // session time zone is UTC on both
      ts_inf: Number.POSITIVE_INFINITY,
      tstz_ninf: Number.NEGATIVE_INFINITY,
      ts_bc: (() => {
        const d = new Date(Date.UTC(2000, 0, 1, 12));
        d.setUTCFullYear(-43, 2, 15);
        return d;
      })(),
      ts_99: (() => {
        const d = new Date(Date.UTC(2000, 0, 1, 23, 59, 59, 999));
        d.setUTCFullYear(99, 11, 31);
        return d;
      })(),
      date_inf: 'infinity',
      date_plus: '2024-01-02',
      iv: '1 year 2 mons 3 days 04:05:06.5',
      iv_neg: '-1 days',
      third: '0.33333333333333333333',
      nan: Number.NaN,
      ninf: Number.NEGATIVE_INFINITY,
      tz: 'UTC',
      datestyle: 'ISO, MDY',
      empty_arr: [],
      bounded_arr: [7, 8],
      a_tstz: [new Date('2024-01-01T00:00:00Z')],
      a_bool: [true, false, null],
      a_bytea: [Buffer.from([1]), Buffer.alloc(0)],
      a_num: ['1.5', '2'],
      a_iv: ['01:00:00'],
      rec: '(1,a)',
      pt: '(1,2)',
      tm: '12:34:56',
    });
  });

  it('stores Date parameters as UTC on timestamp, timestamptz and date columns', async () => {
    const when = new Date('2023-06-30T23:30:00.000Z'); // a different calendar day in most zones east of UTC
    const res = await sql`select ${when}::timestamp as ts, ${when}::timestamptz as tstz, ${when}::date as d,
      ${when}::timestamp::text as ts_text, ${[when]}::timestamptz[] as arr`.execute(db);
    expect(res.rows[0]).toStrictEqual({
      ts: when,
      tstz: when,
      d: '2023-06-30',
      ts_text: '2023-06-30 23:30:00',
      arr: [when],
    });
  });

  it('serialises parameters the same way (booleans, bigint, objects, nested arrays, bytes in arrays)', async () => {
    const res = await sql`select ${true}::boolean as b, ${BIG}::int8 as big, ${{ x: [1, 2] }}::jsonb as obj,
      ${[
        [1, 2],
        [3, null],
      ]}::int[] as nested, ${[Buffer.from([9, 10])]}::bytea[] as bytes, ${['a"b', 'c\\d', null]}::text[] as texts`.execute(
      db,
    );
    expect(res.rows[0]).toStrictEqual({
      b: true,
      big: BIG,
      obj: { x: [1, 2] },
      nested: [
        [1, 2],
        [3, null],
      ],
      bytes: [Buffer.from([9, 10])],
      texts: ['a"b', 'c\\d', null],
    });
  });

  it('parses enum and composite arrays created inside a still-open transaction', async () => {
    await db.transaction().execute(async (trx) => {
      await sql`create type size as enum ('s', 'm', 'l')`.execute(trx);
      await sql`create table shirts (id int, sizes size[], tags mood[])`.execute(trx);
      await sql`insert into shirts values (1, '{s,l}', '{meh}')`.execute(trx);
      const row = await trx.selectFrom('shirts').selectAll().executeTakeFirstOrThrow();
      expect(row).toStrictEqual({ id: 1, sizes: ['s', 'l'], tags: ['meh'] });
      const composite = await sql`select array[row(1, null, null)::shirts] as a`.execute(trx);
      expect(composite.rows[0]).toStrictEqual({ a: ['(1,,)'] });
    });
  });

  it('refreshTypes() reloads array types explicitly', async () => {
    await sql`create type color as enum ('red', 'blue')`.execute(db);
    await h.refreshTypes();
    const res = await sql`select '{red,blue}'::color[] as c`.execute(db);
    expect(res.rows[0]).toStrictEqual({ c: ['red', 'blue'] });
  });
});

// Redundant with EXPECTED by construction, but this is the claim the module makes, so check it literally.
describe.runIf(TEST_BACKENDS.length > 1)('value types: backends agree', () => {
  afterAll(() => seen.clear());
  it('every recorded result is deep-equal across backends', () => {
    const [first, ...others] = TEST_BACKENDS;
    const keys = [...seen.keys()].filter((k) => k.startsWith(`${first}:`)).map((k) => k.slice(first!.length + 1));
    expect(keys.length).toBeGreaterThan(0);
    for (const other of others) {
      for (const key of keys) expect(seen.get(`${other}:${key}`), key).toStrictEqual(seen.get(`${first}:${key}`));
    }
  });
});
