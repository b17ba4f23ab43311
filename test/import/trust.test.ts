/**
 * Issue 10, "Trust first": a broken source never looks like a success.
 * Truncated, garbage, missing and unreadable sources fail with nothing of
 * them committed (or, with `partial`, with what was read, marked as such);
 * verify fails on them too; Redis expiries are stable across reads; the
 * duplicates policy; record rejects counted under the table they were headed for.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DbHandle } from '../../src/db/open.js';
import { defineImport } from '../../src/import/define.js';
import { runImport } from '../../src/import/loader.js';
import type { Source, SourceRecord } from '../../src/import/source.js';
import { csv, json, ndjson, type RedisRecord, redis, tinydb } from '../../src/import/sources/index.js';
import { verifyImport } from '../../src/import/verify.js';
import { jsonb, primaryKey, table, text, timestamptz, varchar } from '../../src/schema/index.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';
import { recreateSchema, resetPublicSchema } from '../support/schema-reset.js';

const people = table('people', {
  email: varchar(200).primaryKey(),
  name: text().notNull(),
  joined_at: timestamptz(),
});
const prices = table('prices', { card: text().notNull(), day: text().notNull(), price: text().notNull() }, (t) => [
  primaryKey(t.card, t.day),
]);
const sessions = table('sessions', {
  sid: text().primaryKey(),
  data: jsonb().notNull(),
  expires_at: timestamptz(),
});
const schema = { people, prices, sessions };
const DDL = `
  create table people (email varchar(200) primary key, name text not null, joined_at timestamptz);
  create table prices (card text not null, day text not null, price text not null, primary key (card, day));
  create table sessions (sid text primary key, data jsonb not null, expires_at timestamptz);`;

/** Records from an array; `table` sets loc.table (as TinyDB's table would). */
function list(items: { value: unknown; table?: string }[] | unknown[], label = 'list'): Source {
  return {
    label,
    async *records(): AsyncGenerator<SourceRecord> {
      for (const [index, item] of items.entries()) {
        const wrapped = typeof item === 'object' && item !== null && 'value' in item;
        const value = wrapped ? (item as { value: unknown }).value : item;
        const table = wrapped ? (item as { table?: string }).table : undefined;
        yield { kind: 'record', value, loc: { source: label, index, ...(table ? { table } : {}) } };
      }
    },
    files: async () => [],
  };
}

type Person = { email: string; name: string; joined?: string };

/** An import of people from `source` (records are Person objects). */
function peopleImport(source: Source | Record<string, Source>) {
  return defineImport({
    name: 'people',
    schema,
    source,
    tables: { people: { key: ['email'] } },
    map: (p: Person, ctx) => ({
      people: {
        email: p.email,
        name: p.name,
        joined_at: p.joined === undefined ? null : ctx.timestamp(p.joined, 'joined_at'),
      },
    }),
  });
}

const person = (i: number) => ({ email: `p${i}@x`, name: `P${i}` });
const tinyDbText = (n: number) =>
  JSON.stringify({ people: Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i + 1), person(i)])) });

const dir = { path: '' };
beforeAll(async () => {
  dir.path = await mkdtemp(path.join(tmpdir(), 'ferry-trust-'));
});
afterAll(() => rm(dir.path, { recursive: true, force: true }));
const write = async (name: string, text: string) => {
  const abs = path.join(dir.path, name);
  await writeFile(abs, text);
  return abs;
};

describeEachBackend('import: a broken source never looks like a success', (t) => {
  let db: DbHandle;
  beforeAll(async () => {
    db = await t.open();
  });
  beforeEach(async () => {
    await recreateSchema(db, DDL);
  });

  const count = async (name: string) =>
    Number((await sql<{ n: string }>`select count(*) as n from ${sql.table(name)}`.execute(db.db)).rows[0]?.n);
  const checkpoint = async () =>
    (
      await sql<{
        status: string;
        position: string;
        stats: { partial?: unknown[] };
      }>`select status, position, stats from ferry_import_state where name = 'people'`.execute(db.db)
    ).rows[0];

  // Cut in half: the first half holds ~45 whole documents, in many batches of 2.
  const cutInHalf = (text: string) => text.slice(0, Math.floor(text.length / 2));

  it('a TinyDB file cut in half fails with file:line:column and commits nothing', async () => {
    await write('half.json', cutInHalf(tinyDbText(90)));
    const err = await expectFerryError(
      runImport({ db, definition: peopleImport(tinydb('half.json', { cwd: dir.path })), batchSize: 2 }),
      'E_SOURCE_MALFORMED',
      /^half\.json:1:\d+: invalid JSON: unexpected end of input/,
    );
    expect(err.details).toMatchObject({ file: 'half.json', line: 1 });
    expect(err.message.split('\n')).toHaveLength(1);
    expect(await count('people')).toBe(0);
    expect((await checkpoint())?.status).not.toBe('done');
    // verify re-reads the source: it fails as well, never OK on a partial read.
    await expectFerryError(
      verifyImport({ db, definition: peopleImport(tinydb('half.json', { cwd: dir.path })) }),
      'E_SOURCE_MALFORMED',
    );
  });

  it('a file of garbage, a cut lowdb file, a cut ndjson and a cut CSV fail the same way', async () => {
    await write('garbage.json', '\u0000\u0001 this is not JSON at all');
    await write(
      'cut-lowdb.json',
      cutInHalf(JSON.stringify({ people: Array.from({ length: 50 }, (_, i) => person(i)) })),
    );
    await write(
      'cut.ndjson',
      Array.from({ length: 20 }, (_, i) => JSON.stringify(person(i)))
        .join('\n')
        .slice(0, -5),
    );
    await write(
      'cut.csv',
      `email,name\n${Array.from({ length: 20 }, (_, i) => `p${i}@x,"P${i}"`).join('\n')}\np99@x,"P9`,
    );
    const cases: [Source, RegExp][] = [
      [tinydb('garbage.json', { cwd: dir.path }), /^garbage\.json:1:1: invalid JSON: expected '\{'/],
      [json.collections('cut-lowdb.json', { cwd: dir.path }), /^cut-lowdb\.json:1:\d+: invalid JSON: unexpected end/],
      [ndjson('cut.ndjson', { cwd: dir.path }), /^cut\.ndjson:20:\d+: invalid JSON: .*cut short/],
      [
        csv('cut.csv', { cwd: dir.path }),
        /^cut\.csv:22: invalid CSV: the quoted field opened on this line is never closed/,
      ],
    ];
    for (const [source, message] of cases) {
      await expectFerryError(
        runImport({ db, definition: peopleImport(source), batchSize: 2 }),
        'E_SOURCE_MALFORMED',
        message,
      );
      expect(await count('people'), source.label).toBe(0);
    }
  });

  it('a missing file fails with E_SOURCE_NOT_FOUND naming it; a directory in its place too', async () => {
    await expectFerryError(
      runImport({ db, definition: peopleImport(tinydb('nowhere.json', { cwd: dir.path })) }),
      'E_SOURCE_NOT_FOUND',
      /nowhere\.json does not exist/,
    );
    // chmod 000 stops nobody when tests run as root: a directory where the file should be is unreadable for everyone.
    await mkdir(path.join(dir.path, 'a-dir.ndjson'), { recursive: true });
    await expectFerryError(
      runImport({ db, definition: peopleImport(ndjson('a-dir.ndjson', { cwd: dir.path })) }),
      'E_SOURCE_NOT_FOUND',
      /a-dir\.ndjson is not a regular file/,
    );
    await expectFerryError(
      verifyImport({ db, definition: peopleImport(tinydb('nowhere.json', { cwd: dir.path })) }),
      'E_SOURCE_NOT_FOUND',
    );
  });

  it('with partial, imports what precedes the fault and marks the report and the checkpoint', async () => {
    await write('half-partial.json', cutInHalf(tinyDbText(90)));
    const def = peopleImport({
      legacy: tinydb('half-partial.json', { cwd: dir.path }),
      more: list([{ email: 'late@x', name: 'Late' }]),
    });
    const report = await runImport({ db, definition: def, batchSize: 2, partial: true });
    const n = await count('people');
    expect(n).toBeGreaterThan(30); // the documents before the cut (~45), and the next source
    expect(report.records).toBe(n);
    expect(report.partial).toEqual([
      expect.objectContaining({ source: 'legacy', file: 'half-partial.json', line: 1, column: expect.any(Number) }),
    ]);
    expect(report.partial?.[0]?.message).toMatch(/^half-partial\.json:1:\d+: invalid JSON: unexpected end of input/);
    const cp = await checkpoint();
    expect(cp?.status).toBe('partial');
    expect(cp?.stats.partial).toHaveLength(1);
    // A sound source in a partial run is not partial.
    await write('whole.json', tinyDbText(5));
    const whole = await runImport({
      db,
      definition: peopleImport(tinydb('whole.json', { cwd: dir.path })),
      partial: true,
    });
    expect(whole.partial).toBeNull();
    expect((await checkpoint())?.status).toBe('done');
  });

  it('a sound file with a bad document still imports, the document a reject under its table', async () => {
    await write(
      'sound.json',
      JSON.stringify({
        people: { '1': person(1), '2': { email: 'bad@x', name: 'Bad', joined: '2024-02-30' }, '3': 7 },
      }),
    );
    const report = await runImport({ db, definition: peopleImport(tinydb('sound.json', { cwd: dir.path })) });
    expect(report.partial).toBeNull();
    expect(await count('people')).toBe(1);
    // Both the ctx.timestamp reject and the non-object document count under people, the source's table.
    expect(report.tables.people).toMatchObject({ inserted: 1, rejected: 2 });
    expect(report.unmapped).toBe(0);
  });
});

describeEachBackend('import: rejects counted under the table they were headed for', (t) => {
  let db: DbHandle;
  beforeAll(async () => {
    db = await t.open();
  });
  beforeEach(async () => {
    await resetPublicSchema(db.db);
    await sql.raw(DDL).execute(db.db);
    await db.refreshTypes();
  });

  it('uses the source table, the first table emitted to, else the "not mapped" count', async () => {
    const searches = Array.from({ length: 30 }, (_, i) => ({ email: `s${i}@x`, name: 'S', joined: '2024-02-30' }));
    const def = defineImport({
      name: 'mixed',
      schema,
      source: list([
        ...searches.map((value) => ({ value, table: 'people' })),
        { value: { kind: 'price', card: 'c', day: 'd', at: 'nope' }, table: 'legacy_prices' },
        { value: { kind: 'mystery' }, table: 'legacy_misc' },
      ]),
      tables: { people: { key: ['email'] }, prices: { key: ['card', 'day'] } },
      map(r: Record<string, string>, ctx) {
        if (r.kind === 'price') {
          ctx.emit('prices', { card: r.card as string, day: r.day as string, price: '1' });
          ctx.timestamp(r.at); // rejects the record after it emitted a prices row
          return undefined;
        }
        if (r.kind === 'mystery') return ctx.reject('unknown record kind');
        return { people: { email: r.email as string, name: r.name as string, joined_at: ctx.timestamp(r.joined) } };
      },
    });
    const report = await runImport({ db, definition: def, batchSize: 7 });
    expect(report.tables.people?.rejected).toBe(30);
    expect(report.tables.prices?.rejected).toBe(1);
    expect(report.unmapped).toBe(1);
    expect(report.rejectedRecords).toBe(32);
  });
});

describeEachBackend('import: duplicates first or last', (t) => {
  let db: DbHandle;
  beforeAll(async () => {
    db = await t.open();
  });
  beforeEach(async () => {
    await resetPublicSchema(db.db);
    await sql.raw(DDL).execute(db.db);
    await db.refreshTypes();
  });

  // Re-scraped prices: the same card and day seen again later, across batches.
  const scrapes = [
    { card: 'a', day: '1', price: '10' },
    { card: 'b', day: '1', price: '20' },
    { card: 'a', day: '1', price: '11' },
    { card: 'c', day: '1', price: '30' },
    { card: 'b', day: '1', price: '21' },
    { card: 'a', day: '1', price: '12' },
    { card: 'a', day: '2', price: '99' },
  ];
  const pricesImport = (duplicates?: 'first' | 'last') =>
    defineImport({
      name: `prices-${duplicates ?? 'default'}`,
      schema,
      source: list(scrapes),
      tables: { prices: { key: ['card', 'day'], ...(duplicates ? { duplicates } : {}) } },
      map: (r: { card: string; day: string; price: string }) => ({ prices: r }),
    });
  const stored = async () =>
    (
      await sql<{
        card: string;
        day: string;
        price: string;
      }>`select card, day, price from prices order by card, day`.execute(db.db)
    ).rows.map((r) => `${r.card}${r.day}=${r.price}`);

  it('keeps the first occurrence by default and with first', async () => {
    for (const policy of [undefined, 'first'] as const) {
      await sql`delete from prices`.execute(db.db);
      const report = await runImport({ db, definition: pricesImport(policy), batchSize: 2 });
      expect(report.tables.prices).toMatchObject({ inserted: 4, duplicates: 3 });
      expect(await stored()).toEqual(['a1=10', 'a2=99', 'b1=20', 'c1=30']);
    }
  });

  it('keeps the last occurrence with last; a rerun changes nothing and verify agrees', async () => {
    const report = await runImport({ db, definition: pricesImport('last'), batchSize: 2 });
    expect(report.tables.prices).toMatchObject({ inserted: 4, updated: 0, duplicates: 3 });
    expect(await stored()).toEqual(['a1=12', 'a2=99', 'b1=21', 'c1=30']);
    const again = await runImport({ db, definition: pricesImport('last'), batchSize: 2 });
    expect(again.tables.prices).toMatchObject({ inserted: 0, updated: 0, unchanged: 4, duplicates: 3 });
    expect((await verifyImport({ db, definition: pricesImport('last') })).ok).toBe(true);
    // And verify with the other policy sees the first occurrences as different.
    expect((await verifyImport({ db, definition: pricesImport('first') })).ok).toBe(false);
  });

  it('refuses an unknown policy', async () => {
    const def = defineImport({
      ...pricesImport(),
      tables: { prices: { key: ['card', 'day'], duplicates: 'middle' as never } },
    });
    await expectFerryError(
      runImport({ db, definition: def }),
      'E_IMPORT_DEFINITION',
      /duplicates must be 'first' or 'last'/,
    );
  });
});

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describeEachBackend('import: Redis expiries are stable across reads', (t) => {
  let db: DbHandle;
  let admin: Redis;
  const prefix = `ferrytrust${process.pid}x${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    db = await t.open();
    admin = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });
  beforeEach(async () => {
    await resetPublicSchema(db.db);
    await sql.raw(DDL).execute(db.db);
    await db.refreshTypes();
  });

  const sessionsImport = () =>
    defineImport({
      name: 'sessions',
      schema,
      source: redis({ url: REDIS_URL, match: `${prefix}:*`, type: 'json' }),
      tables: { sessions: { key: ['sid'] } },
      map: (r: RedisRecord) => ({ sessions: { sid: r.key, data: r.value as object, expires_at: r.expiresAt } }),
    });

  it('a connect-redis style import (TTL, no Keyv envelope) reruns with 0 updates and verifies', async () => {
    // Plain JSON values with a TTL, as connect-redis writes them: no envelope with an absolute expiry.
    for (let i = 0; i < 200; i++) {
      await admin.set(`${prefix}:sess${i}`, JSON.stringify({ cookie: { i }, user: `u${i}` }), 'PX', 3_600_000 + i * 7);
    }
    const first = await runImport({ db, definition: sessionsImport() });
    expect(first.tables.sessions).toMatchObject({ inserted: 200 });
    const at = await sql<{
      ms: string;
    }>`select (extract(epoch from expires_at) * 1000)::bigint as ms from sessions where sid = ${`${prefix}:sess3`}`.execute(
      db.db,
    );
    expect(Number(at.rows[0]?.ms)).toBe(Number(await admin.call('pexpiretime', `${prefix}:sess3`)));
    await sleep(25); // the remaining TTLs have moved on
    const second = await runImport({ db, definition: sessionsImport() });
    expect(second.tables.sessions).toMatchObject({ inserted: 0, updated: 0, unchanged: 200 });
    const verify = await verifyImport({ db, definition: sessionsImport() });
    expect(verify.tables[0]).toMatchObject({ missing: 0, different: 0, extra: 0 });
    expect(verify.ok).toBe(true);
  });
});

describe('redis source expiries', () => {
  it('gives every key its absolute expiry (PEXPIRETIME) on every read, while ttlMs moves', async () => {
    const admin = new Redis(REDIS_URL);
    const prefix = `ferrytrustx${process.pid}${randomBytes(4).toString('hex')}`;
    const source = redis({ url: REDIS_URL, match: `${prefix}:*` });
    try {
      // Many keys and several reads: read time + TTL is off by a millisecond here and there.
      const p = admin.pipeline();
      for (let i = 0; i < 300; i++) p.set(`${prefix}:k${i}`, 'v', 'PX', 600_000 + i * 13);
      await p.exec();
      const truth = new Map<string, number>();
      for (let i = 0; i < 300; i++) {
        truth.set(`${prefix}:k${i}`, Number(await admin.call('pexpiretime', `${prefix}:k${i}`)));
      }
      const ttls: number[] = [];
      for (let read = 0; read < 3; read++) {
        if (read > 0) await sleep(15);
        const seen = new Map<string, number | undefined>();
        for await (const r of source.records()) {
          if (r.kind !== 'record') continue;
          seen.set(r.value.key, r.value.expiresAt?.getTime());
          if (r.value.key === `${prefix}:k0`) ttls.push(r.value.ttlMs as number);
        }
        expect(seen).toEqual(truth);
      }
      expect(ttls[2]).toBeLessThan(ttls[0] as number);
    } finally {
      await source.close?.();
      const keys = await admin.keys(`${prefix}:*`);
      if (keys.length > 0) await admin.del(...keys);
      await admin.quit();
    }
  });
});
