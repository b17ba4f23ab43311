import { open } from 'node:fs/promises';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import { describe, expect, it } from 'vitest';
import { E_SOURCE_MALFORMED, E_SOURCE_NOT_FOUND, E_SOURCE_OPTIONS } from '../../../src/import/sources/errors.js';
import { json, tinydb } from '../../../src/import/sources/index.js';
import { expectFerryError } from '../../support/expect-error.js';
import { collect, collectBytes, collectUntilThrow, errors, readFirst, useTempDir, values } from './helpers.js';

// A real `gc()` without --expose-gc on the command line (vitest starts the workers).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const t = useTempDir();

describe('json.collections (lowdb)', () => {
  it('reads a file written by the real lowdb package', async () => {
    type Data = { posts: { id: number; title: string; tags: string[] }[]; users: { name: string }[]; meta: object };
    const file = path.join(t.dir, 'lowdb.json');
    // Not JSONFilePreset: under NODE_ENV=test (vitest) it swaps in an in-memory adapter.
    const db = new Low<Data>(new JSONFile(file), { posts: [], users: [], meta: {} });
    await db.read();
    await db.update(({ posts, users }) => {
      posts.push({ id: 1, title: 'héllo "world"', tags: ['a', ']}'] }, { id: 2, title: 'second', tags: [] });
      users.push({ name: 'ann' });
    });

    const source = json.collections('lowdb.json', { cwd: t.dir });
    const records = await collect(source);
    const src = { source: 'json.collections(lowdb.json)', file: 'lowdb.json' };
    expect(records.filter((r) => r.kind === 'record')).toEqual([
      { kind: 'record', value: db.data.posts[0], loc: { ...src, table: 'posts', index: 0, line: 3 } },
      { kind: 'record', value: db.data.posts[1], loc: { ...src, table: 'posts', index: 1, line: 11 } },
      { kind: 'record', value: { name: 'ann' }, loc: { ...src, table: 'users', index: 0, line: 18 } },
    ]);
    // `meta` is not an array of records: said once, not thrown.
    expect(errors(records)).toEqual([
      {
        kind: 'error',
        reason: 'table "meta" at line 22 column 11 is an object, not an array of records; it was skipped',
        loc: { ...src, table: 'meta', line: 22 },
      },
    ]);
    expect(await collect(source)).toEqual(records);
    expect(await readFirst(source, 2)).toEqual(records.slice(0, 2));
    expect(await source.files()).toEqual([file]);
  });

  it('restricts to `collections`', async () => {
    await t.write('two.json', '{"a": [1, 2], "b": [{"x": 1}], "c": {"skipped": true}}');
    const records = await collect(json.collections('two.json', { cwd: t.dir, collections: ['b', 'zz'] }));
    expect(records).toEqual([
      {
        kind: 'record',
        value: { x: 1 },
        loc: { source: 'json.collections(two.json)', file: 'two.json', table: 'b', index: 0, line: 1 },
      },
      {
        kind: 'error',
        reason: 'table "zz" is not in the file (tables there: "a", "b", "c")',
        loc: { source: 'json.collections(two.json)', file: 'two.json', table: 'zz' },
      },
    ]);
    expect(() => json.collections('two.json', { collections: 'b' as never })).toThrow(
      expect.objectContaining({ code: E_SOURCE_OPTIONS }),
    );
  });

  it('reports a bad element precisely and reads on; a broken structure fails the source after what precedes it', async () => {
    await t.write(
      'bad.json',
      '{\n  "users": [\n    {"name": "a"},\n    {"name": },\n    {"name": "c"}\n  ],\n  "x": [1 2]\n}',
    );
    const source = json.collections('bad.json', { cwd: t.dir });
    const { records, error } = await collectUntilThrow(source);
    expect(values(records)).toEqual([{ name: 'a' }, { name: 'c' }, 1]);
    expect(errors(records).map((e) => [e.reason, e.loc.table, e.loc.index, e.loc.line])).toEqual([
      ["invalid JSON at line 4 column 14: unexpected '}': expected a value", 'users', 1, 4],
    ]);
    const fault = `bad.json:7:11: invalid JSON: expected ',' or ']' after element 0 of table "x", found '2'`;
    expect(error).toMatchObject({ code: E_SOURCE_MALFORMED, details: { file: 'bad.json', line: 7, column: 11 } });
    expect((error as Error).message.startsWith(fault)).toBe(true);
    // The up-front check finds the same fault without parsing a record (the bad element is not a fault).
    await expectFerryError(source.check!(), E_SOURCE_MALFORMED, /^bad\.json:7:11: /);
  });

  it('fails on empty, truncated and non-object files, in the check and in the stream', async () => {
    await t.write('empty.json', '');
    await t.write('trunc.json', '{"users": [{"a": 1}, {"b":');
    await t.write('cut-between.json', '{"users": [{"a": 1}, {"b": 2}');
    await t.write('array.json', '[{"a": 1}]');
    await t.write('garbage.json', 'GIF89a\u0000\u0001 not json at all');
    const cases: [string, RegExp, unknown[]][] = [
      ['empty.json', /^empty\.json:1:1: invalid JSON: the file is empty /, []],
      [
        'trunc.json',
        /^trunc\.json:1:22: invalid JSON: unexpected end of input: unclosed '\{' starting here \(table "users"\)/,
        [{ a: 1 }],
      ],
      [
        'cut-between.json',
        /^cut-between\.json:1:30: invalid JSON: unexpected end of input: table "users" is not closed/,
        [{ a: 1 }, { b: 2 }],
      ],
      ['array.json', /^array\.json:1:1: invalid JSON: expected '\{' to open the object of tables, found '\['/, []],
      ['garbage.json', /^garbage\.json:1:1: invalid JSON: expected '\{' to open the object of tables, found 'G'/, []],
    ];
    for (const [file, message, read] of cases) {
      const source = json.collections(file, { cwd: t.dir });
      await expectFerryError(source.check!(), E_SOURCE_MALFORMED, message);
      const { records, error } = await collectUntilThrow(source);
      expect(values(records), file).toEqual(read);
      expect(error, file).toMatchObject({ code: E_SOURCE_MALFORMED });
      expect((error as Error).message).toMatch(message);
    }
  });

  it('passes the check on a sound file with bad elements (those stay rejects)', async () => {
    await t.write('sound.json', '{"users": [{"a": 1}, {"b": }, 3], "other": {"not": "an array"}}');
    const source = json.collections('sound.json', { cwd: t.dir });
    await source.check!();
    const { records, error } = await collectUntilThrow(source);
    expect(error).toBeUndefined();
    expect(errors(records)).toHaveLength(2);
  });

  it('fails with E_SOURCE_NOT_FOUND naming a missing file', async () => {
    await expectFerryError(collect(json.collections('nope.json', { cwd: t.dir })), E_SOURCE_NOT_FOUND, /nope\.json/);
  });
});

describe('tinydb', () => {
  const file =
    '{"_default": {"1": {"name": "root"}}, "users": {"1": {"name": "ann", "age": 30}, "2": {"name": "bo"}, "3": 5}}';

  it('yields documents with table, id and position', async () => {
    await t.write('tiny.json', file);
    const records = await collect(tinydb('tiny.json', { cwd: t.dir }));
    const src = { source: 'tinydb(tiny.json)', file: 'tiny.json', line: 1 };
    expect(records).toEqual([
      { kind: 'record', value: { name: 'root' }, loc: { ...src, table: '_default', key: '1', index: 0 } },
      { kind: 'record', value: { name: 'ann', age: 30 }, loc: { ...src, table: 'users', key: '1', index: 0 } },
      { kind: 'record', value: { name: 'bo' }, loc: { ...src, table: 'users', key: '2', index: 1 } },
      {
        kind: 'error',
        reason: 'document "3" of table "users" is number 5, not an object',
        loc: { ...src, table: 'users', key: '3', index: 2 },
      },
    ]);
    const users = await collect(tinydb('tiny.json', { cwd: t.dir, tables: ['users'] }));
    expect(users.map((r) => r.loc.key)).toEqual(['1', '2', '3']);
  });

  it('reports how far into the file each record is, for progress', async () => {
    const big = JSON.stringify({
      users: Object.fromEntries(
        Array.from({ length: 5_000 }, (_, i) => [String(i + 1), { n: i, pad: 'x'.repeat(40) }]),
      ),
    });
    await t.write('tiny-big.json', big);
    const bytes = (await collectBytes(tinydb('tiny-big.json', { cwd: t.dir }))) as number[];
    expect(bytes).toHaveLength(5_000);
    expect(bytes.every((b, i) => b > 0 && (i === 0 || b >= (bytes[i - 1] as number)))).toBe(true);
    expect(new Set(bytes).size).toBeGreaterThan(1); // streamed in chunks, not read whole
    expect(bytes.at(-1)).toBe(Buffer.byteLength(big));
  });

  it('says which table is not an object of documents', async () => {
    await t.write('tiny-bad.json', '{"users": [1, 2], "ok": {}}');
    expect(await collect(tinydb('tiny-bad.json', { cwd: t.dir }))).toEqual([
      {
        kind: 'error',
        reason: 'table "users" at line 1 column 11 is an array, not an object of documents by id; it was skipped',
        loc: { source: 'tinydb(tiny-bad.json)', file: 'tiny-bad.json', table: 'users', line: 1 },
      },
    ]);
  });
});

describe('streaming a large file', () => {
  /** Writes a TinyDB or lowdb file of about `mb` megabytes, a megabyte at a time. */
  async function writeLarge(
    name: string,
    shape: 'tinydb' | 'lowdb',
    mb: number,
  ): Promise<{ bytes: number; docs: number }> {
    const fh = await open(path.join(t.dir, name), 'w');
    const body = 'x'.repeat(200);
    let docs = 0;
    let bytes = 0;
    const write = async (s: string) => {
      bytes += Buffer.byteLength(s);
      await fh.write(s);
    };
    await write(shape === 'tinydb' ? '{"users": {' : '{"users": [');
    while (bytes < mb * 1024 * 1024) {
      const parts: string[] = [];
      for (let i = 0; i < 4000; i++) {
        docs++;
        const doc = JSON.stringify({ id: docs, name: `user ${docs}`, tags: ['a', 'b'], body });
        parts.push(shape === 'tinydb' ? `"${docs}": ${doc}` : doc);
      }
      await write((docs > 4000 ? ', ' : '') + parts.join(', '));
    }
    await write(shape === 'tinydb' ? '}, "_default": {}}' : ']}');
    await fh.close();
    return { bytes, docs };
  }

  it.each([
    ['tinydb', 100],
    ['lowdb', 40],
  ] as const)('reads a %s file of ~%i MB with bounded memory', async (shape, mb) => {
    const name = `large-${shape}.json`;
    const { bytes, docs } = await writeLarge(name, shape, mb);
    const source = shape === 'tinydb' ? tinydb(name, { cwd: t.dir }) : json.collections(name, { cwd: t.dir });
    expect(await source.estimate!()).toEqual({ bytes });
    // Collect garbage before sampling, so the samples are what the reader holds, not what V8 has yet to free.
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    let count = 0;
    let last: unknown;
    for await (const r of source.records()) {
      if (r.kind !== 'record') throw new Error(`unexpected ${JSON.stringify(r)}`);
      count++;
      last = r.value;
      if (count % 50_000 === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().heapUsed - before);
      }
    }
    expect(count).toBe(docs);
    expect(last).toMatchObject({ id: docs });
    // The whole file as a JS string alone would take `bytes`; the reader holds a few chunks.
    expect(peak).toBeLessThan(bytes / 10);
  });
});
