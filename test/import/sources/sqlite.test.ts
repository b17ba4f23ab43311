import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { E_SOURCE_NOT_FOUND, E_SOURCE_OPTIONS, E_SOURCE_READ } from '../../../src/import/sources/errors.js';
import { sqlite } from '../../../src/import/sources/index.js';
import { expectFerryError } from '../../support/expect-error.js';
import { collect, readFirst, useTempDir, values } from './helpers.js';

describe('sqlite', () => {
  const t = useTempDir();
  let file: string;
  beforeAll(async () => {
    file = path.join(t.dir, 'app.db');
    const db = new Database(file);
    db.exec(`
      CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, big INTEGER, avatar BLOB);
      INSERT INTO users VALUES (3, 'cy', 9007199254740993, NULL), (1, 'ann', 42, x'0102'), (2, 'bo', NULL, NULL);
      DELETE FROM users WHERE id = 2;
      INSERT INTO users (id, name) VALUES (7, 'dee');
      CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;
      INSERT INTO kv VALUES ('b', '2'), ('a', '1');
    `);
    db.close();
    await t.write('not.db', 'this is not a database, just text padding it out to a page or so');
  });

  it('yields a table in rowid order with table, index and rowid as key', async () => {
    const source = sqlite('app.db', { cwd: t.dir, table: 'users' });
    const records = await collect(source);
    const loc = (index: number, key: string) => ({
      source: 'sqlite(app.db#users)',
      file: 'app.db',
      table: 'users',
      index,
      key,
    });
    expect(records).toEqual([
      { kind: 'record', value: { id: 1, name: 'ann', big: 42, avatar: Buffer.from([1, 2]) }, loc: loc(0, '1') },
      // Past 2^53: a BigInt, not a silently rounded number.
      { kind: 'record', value: { id: 3, name: 'cy', big: 9007199254740993n, avatar: null }, loc: loc(1, '3') },
      { kind: 'record', value: { id: 7, name: 'dee', big: null, avatar: null }, loc: loc(2, '7') },
    ]);
    expect(await collect(source)).toEqual(records);
    expect(await readFirst(source, 1)).toEqual(records.slice(0, 1));
    expect(await source.files()).toEqual([file]);
    await source.close!();
  });

  it('orders WITHOUT ROWID tables by primary key', async () => {
    const records = await collect(sqlite('app.db', { cwd: t.dir, table: 'kv' }));
    expect(values(records)).toEqual([
      { k: 'a', v: '1' },
      { k: 'b', v: '2' },
    ]);
    expect(records[0]!.loc).toEqual({ source: 'sqlite(app.db#kv)', file: 'app.db', table: 'kv', index: 0 });
  });

  it('runs a query with parameters', async () => {
    const records = await collect(
      sqlite('app.db', { cwd: t.dir, query: 'SELECT name FROM users WHERE id > ? ORDER BY name DESC', params: [1] }),
    );
    expect(records).toEqual([
      { kind: 'record', value: { name: 'dee' }, loc: { source: 'sqlite(app.db)', file: 'app.db', index: 0 } },
      { kind: 'record', value: { name: 'cy' }, loc: { source: 'sqlite(app.db)', file: 'app.db', index: 1 } },
    ]);
  });

  it('never modifies the database file', async () => {
    const before = await readFile(file);
    await collect(sqlite('app.db', { cwd: t.dir, table: 'users' }));
    await collect(sqlite('app.db', { cwd: t.dir, query: 'SELECT 1 AS one' }));
    expect((await readFile(file)).equals(before)).toBe(true);
    await expectFerryError(
      collect(sqlite('app.db', { cwd: t.dir, query: 'DELETE FROM users' })),
      E_SOURCE_OPTIONS,
      /bad query: it returns no rows/,
    );
  });

  it('close() releases a connection left open by an unfinished read', async () => {
    const source = sqlite('app.db', { cwd: t.dir, table: 'users' });
    const it = source.records()[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    await source.close!();
    await source.close!(); // idempotent
    await expect(it.next()).rejects.toMatchObject({ code: 'E_CLOSED' });
  });

  it('fails clearly on a missing file, a missing table, a non-database and bad options', async () => {
    await expectFerryError(collect(sqlite('gone.db', { cwd: t.dir, table: 'users' })), E_SOURCE_NOT_FOUND, /gone\.db/);
    await expectFerryError(
      collect(sqlite('app.db', { cwd: t.dir, table: 'posts' })),
      E_SOURCE_OPTIONS,
      /no table "posts" in .*app\.db\. Tables there: "kv", "users"\./,
    );
    await expectFerryError(collect(sqlite('not.db', { cwd: t.dir, table: 'users' })), E_SOURCE_READ, /not a database/);
    expect(() => sqlite('app.db', {} as never)).toThrow(expect.objectContaining({ code: E_SOURCE_OPTIONS }));
    expect(() => sqlite('app.db', { table: 'a', query: 'SELECT 1' } as never)).toThrow(/exactly one of/);
  });
});
