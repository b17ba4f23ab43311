/**
 * The cutover stores: one contract suite looped over every store (as
 * describeEachBackend loops over backends), then what each store promises
 * on its own: the JSON file's atomic writes under SIGKILL and its read-only
 * error, Redis TTLs and SCAN paging, the repository's typed keys and keyset
 * listing on Postgres and PGlite.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CutoverStore } from '../../src/cutover/store.js';
import {
  jsonFileStore,
  jsonFolderStore,
  memoryStore,
  objectStore,
  redisStore,
  repositoryStore,
} from '../../src/cutover/stores/index.js';
import { connect, type Ferry } from '../../src/index.js';
import { bigint, integer, table, text, uuid } from '../../src/schema/index.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';

interface Val {
  id: string;
  v: string;
}

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const RUN = `ferry_test_cutover_${process.pid}_${randomBytes(3).toString('hex')}`;
let dir: string;
let redis: Redis;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ferry-cutover-stores-'));
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  if (redis) {
    await deleteKeys(`${RUN}:*`);
    await redis.quit();
  }
});

async function deleteKeys(match: string) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

let n = 0;
const fresh = (ext = '') => path.join(dir, `s${++n}${ext}`);

/** Keys a store must take as they are: separators, globs, dots, percent signs, unicode, the empty key. */
const ODD_KEYS = ['a b', '../x', 'a/b\\c', '%2F', '*?[x]', 'ü-ß-✓', '__proto__', 'a:b:c', '', 'x'.repeat(80)];

/** The contract every store keeps; `make` gives a fresh, empty store per test. */
function contract(make: () => Promise<CutoverStore<Val>>) {
  const val = (id: string, v = 'one'): Val => ({ id, v });

  it('get of a missing key is undefined; put, get, overwrite, delete, idempotent delete', async () => {
    const s = await make();
    expect(await s.get('k1')).toBeUndefined();
    await s.put('k1', val('k1'));
    expect(await s.get('k1')).toEqual(val('k1'));
    await s.put('k1', val('k1', 'two'));
    expect(await s.get('k1')).toEqual(val('k1', 'two'));
    await s.delete('k1');
    expect(await s.get('k1')).toBeUndefined();
    await s.delete('k1');
    await s.delete('never-there');
    expect(await s.get('never-there')).toBeUndefined();
    await s.close?.();
  });

  it('keys with odd characters are kept apart and listed as given', async () => {
    const s = await make();
    for (const k of ODD_KEYS) await s.put(k, val(k, `v-${k}`));
    for (const k of ODD_KEYS) expect(await s.get(k)).toEqual(val(k, `v-${k}`));
    const listed = await all(s);
    expect(listed.map((e) => e.key).sort()).toEqual([...ODD_KEYS].sort());
    for (const e of listed) expect(e.value).toEqual(val(e.key, `v-${e.key}`));
    await s.delete('../x');
    expect(await s.get('../x')).toBeUndefined();
    expect(await s.get('a b')).toEqual(val('a b', 'v-a b'));
  });

  it('list gives every entry once', async () => {
    const s = await make();
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    for (const k of keys) await s.put(k, val(k));
    await s.delete('key-7');
    const listed = await all(s);
    expect(listed.map((e) => e.key).sort()).toEqual(keys.filter((k) => k !== 'key-7').sort());
  });

  it('concurrent puts to one key end with one of the values; to many keys, all land', async () => {
    const s = await make();
    const values = Array.from({ length: 20 }, (_, i) => val('same', `v${i}`));
    await Promise.all(values.map((v) => s.put('same', v)));
    expect(values).toContainEqual(await s.get('same'));
    const many = Array.from({ length: 20 }, (_, i) => val(`many-${i}`, `v${i}`));
    await Promise.all(many.map((v) => s.put(v.id, v)));
    for (const v of many) expect(await s.get(v.id)).toEqual(v);
  });

  it('list during writes still gives each untouched entry once, and only whole values', async () => {
    const s = await make();
    const before = Array.from({ length: 20 }, (_, i) => `old-${i}`);
    for (const k of before) await s.put(k, val(k));
    const writes = Promise.all(Array.from({ length: 20 }, (_, i) => s.put(`new-${i}`, val(`new-${i}`))));
    const listed = await all(s);
    await writes;
    const keys = listed.map((e) => e.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of before) expect(keys).toContain(k);
    for (const e of listed) expect(e.value).toEqual(val(e.key));
  });
}

async function all<V>(s: CutoverStore<V>) {
  const out: { key: string; value: V }[] = [];
  if (!s.list) throw new Error(`${s.label} has no list()`);
  for await (const e of s.list()) out.push(e);
  return out;
}

describe('store contract: memory', () => contract(async () => memoryStore<Val>()));
describe('store contract: json file (map)', () => contract(async () => jsonFileStore<Val>(fresh('.json'))));
describe('store contract: json file (array, key field)', () =>
  contract(async () => jsonFileStore<Val>(fresh('.json'), { key: 'id', layout: 'array' })));
describe('store contract: json file (lowdb collection)', () =>
  contract(async () => jsonFileStore<Val>(fresh('.json'), { key: (v) => v.id, collection: 'items' })));
describe('store contract: json file (TinyDB, key field)', () =>
  contract(async () => jsonFileStore<Val>(fresh('.json'), { key: 'id', layout: 'tinydb' })));
describe('store contract: json folder', () => contract(async () => jsonFolderStore<Val>(fresh())));
describe('store contract: redis (json)', () =>
  contract(async () => redisStore<Val>(redis, { prefix: `${RUN}:${++n}:`, type: 'json' })));
describe('store contract: redis (hash)', () =>
  contract(async () => redisStore<Val>(redis, { prefix: `${RUN}:${++n}:`, type: 'hash' })));
describe('store contract: object (async methods over a Map)', () =>
  contract(async () => {
    const m = new Map<string, string>();
    return objectStore<Val>({
      get: async (k) => (m.has(k) ? (JSON.parse(m.get(k) as string) as Val) : null),
      put: async (k, v) => void m.set(k, JSON.stringify(v)),
      delete: (k) => m.delete(k),
      list: async function* () {
        for (const [key, v] of [...m]) yield [key, JSON.parse(v) as Val] as const;
      },
    });
  }));

const kv = table('cutover_kv', { id: text().primaryKey(), v: text().notNull() });
const counters = table('cutover_counters', { id: integer().primaryKey(), v: text().notNull() });
const bigs = table('cutover_bigs', { id: bigint().primaryKey(), v: text().notNull() });
const tokens = table('cutover_tokens', { id: uuid().primaryKey(), slug: text().notNull().unique(), v: text() });
const schema = { kv, counters, bigs, tokens };

describeEachBackend('cutover repository store', (t) => {
  let ferry: Ferry<any>;
  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema });
    await ferry.createSchema();
  });
  afterAll(() => ferry?.close());

  describe('contract (text primary key)', () =>
    contract(async () => {
      await sql`truncate cutover_kv`.execute(ferry.db);
      return repositoryStore(ferry.repo(kv)) as CutoverStore<Val>;
    }));

  it('turns string keys into the key column type: integer, bigint past 2^53, uuid', async () => {
    const ints = repositoryStore(ferry.repo(counters));
    await ints.put('42', { id: 42, v: 'a' });
    expect(await ints.get('42')).toEqual({ id: 42, v: 'a' });
    // A key no integer row can have: no row, no database error.
    expect(await ints.get('abc')).toBeUndefined();
    expect(await ints.get('99999999999')).toBeUndefined();
    await ints.delete('abc');
    await expectFerryError(ints.put('4.5', { id: 4, v: 'x' } as never), 'E_CUTOVER_STORE', /4\.5/);
    await expectFerryError(ints.put('7', { id: 8, v: 'x' }), 'E_CUTOVER_STORE', /must agree/);
    await expectFerryError(
      repositoryStore(ferry.repo(kv)).put('A', { id: 'a', v: 'x' }),
      'E_CUTOVER_STORE',
      /must agree/,
    );
    // The key fills in a row that left it out.
    await ints.put('7', { v: 'seven' } as never);
    expect(await ints.get('7')).toEqual({ id: 7, v: 'seven' });

    const big = repositoryStore(ferry.repo(bigs));
    await big.put('9007199254740993', { v: 'past 2^53' } as never);
    const row = await big.get('9007199254740993');
    expect(String(row?.id)).toBe('9007199254740993');
    expect((await all(big)).map((e) => e.key)).toEqual(['9007199254740993']);

    const ids = repositoryStore(ferry.repo(tokens));
    const id = '0b4e8a44-6a8e-4b4f-9a2c-2f7d3b1c9e10';
    await ids.put(id.toUpperCase(), { slug: 's1', v: 'u' } as never);
    expect(await ids.get(id)).toMatchObject({ id, slug: 's1' });
    expect(await ids.get('not-a-uuid')).toBeUndefined();
    const bySlug = repositoryStore(ferry.repo(tokens), { key: 'slug' });
    await bySlug.put('s1', { id, slug: 's1', v: 'updated' });
    expect(await ids.get(id)).toMatchObject({ v: 'updated' });
    await bySlug.delete('s1');
    expect(await ids.get(id)).toBeUndefined();
  });

  it('lists page by page in key order, and sees rows written between pages', async () => {
    await sql`truncate cutover_counters`.execute(ferry.db);
    const s = repositoryStore(ferry.repo(counters), { pageSize: 3 });
    for (let i = 1; i <= 10; i++) await s.put(String(i), { id: i, v: `v${i}` });
    const seen: string[] = [];
    for await (const e of s.list?.() ?? []) {
      seen.push(e.key);
      // Written behind the listing's position: not seen; ahead of it: seen, once.
      if (e.key === '4') {
        await s.put('0', { id: 0, v: 'behind' });
        await s.put('11', { id: 11, v: 'ahead' });
      }
    }
    expect(seen).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
  });

  it('refuses a key column that names no single row', () => {
    expect(() => repositoryStore(ferry.repo(kv), { key: 'v' })).toThrow(/neither the primary key nor unique/);
    expect(() => repositoryStore(ferry.repo(kv), { key: 'nope' })).toThrow(/no column "nope"/);
  });
});

describe('json file store', () => {
  it('reads and keeps lowdb and TinyDB files: other tables untouched, new TinyDB documents get the next id', async () => {
    const lowdb = fresh('.json');
    await writeFile(lowdb, JSON.stringify({ users: [{ id: 1, name: 'ann' }], posts: [{ id: 9 }] }));
    const users = jsonFileStore<{ id: number; name: string }>(lowdb, { collection: 'users', key: 'id' });
    expect(await users.get('1')).toEqual({ id: 1, name: 'ann' });
    await users.put('2', { id: 2, name: 'bob' });
    expect(JSON.parse(await readFile(lowdb, 'utf8'))).toEqual({
      users: [
        { id: 1, name: 'ann' },
        { id: 2, name: 'bob' },
      ],
      posts: [{ id: 9 }],
    });

    // A lowdb file without the collection yet: it is added beside the others.
    const comments = jsonFileStore<{ id: number }>(lowdb, { collection: 'comments', key: 'id' });
    await comments.put('5', { id: 5 });
    expect(JSON.parse(await readFile(lowdb, 'utf8'))).toMatchObject({ comments: [{ id: 5 }], posts: [{ id: 9 }] });

    const tiny = fresh('.json');
    await writeFile(tiny, JSON.stringify({ _default: { '1': { u: 'ann' }, '5': { u: 'cy' } }, other: { '1': {} } }));
    const byId = jsonFileStore<{ u: string }>(tiny);
    expect(await byId.get('5')).toEqual({ u: 'cy' });
    const byName = jsonFileStore<{ u: string }>(tiny, { key: 'u' });
    await byName.put('dan', { u: 'dan' });
    expect(JSON.parse(await readFile(tiny, 'utf8'))).toEqual({
      _default: { '1': { u: 'ann' }, '5': { u: 'cy' }, '6': { u: 'dan' } },
      other: { '1': {} },
    });
  });

  it('concurrent puts from one process are queued: every one reaches the file', async () => {
    const file = fresh('.json');
    const s = jsonFileStore<Val>(file, { collection: 'items', key: 'id' });
    const many = Array.from({ length: 25 }, (_, i) => ({ id: `k${i}`, v: `v${i}` }));
    await Promise.all(many.map((v, i) => (i % 5 === 4 ? s.delete(`k${i - 1}`) : s.put(v.id, v))));
    const reread = await all(jsonFileStore<Val>(file, { collection: 'items', key: 'id' }));
    const expected = many.filter((_, i) => i % 5 !== 4 && i % 5 !== 3);
    expect(reread.map((e) => e.value)).toEqual(expected);
  });

  it('re-reads the file when another process replaced it', async () => {
    const file = fresh('.json');
    const s = jsonFileStore<Val>(file);
    await s.put('a', { id: 'a', v: 'mine' });
    expect(await s.get('a')).toEqual({ id: 'a', v: 'mine' });
    await writeFile(file, JSON.stringify({ a: { id: 'a', v: 'theirs' }, b: { id: 'b', v: 'new' } }));
    expect(await s.get('a')).toEqual({ id: 'a', v: 'theirs' });
    await s.put('c', { id: 'c', v: 'c' });
    expect(Object.keys(JSON.parse(await readFile(file, 'utf8')))).toEqual(['a', 'b', 'c']);
  });

  it('a read-only file or folder fails the write with E_CUTOVER_STORE naming the file, and keeps what it had', async () => {
    const file = fresh('.json');
    const s = jsonFileStore<Val>(file);
    await s.put('a', { id: 'a', v: '1' });
    await chmod(file, 0o444);
    const err = await expectFerryError(s.put('a', { id: 'a', v: '2' }), 'E_CUTOVER_STORE', /read-only/);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/chmod u\+w/);
    expect(err.details).toMatchObject({ store: s.label, key: 'a', operation: 'put', file });
    expect(await s.get('a')).toEqual({ id: 'a', v: '1' });
    await chmod(file, 0o644);
    await s.put('a', { id: 'a', v: '2' });

    const folder = fresh();
    const inFolder = jsonFolderStore<Val>(folder);
    await inFolder.put('k', { id: 'k', v: '1' });
    await chmod(folder, 0o555);
    try {
      await expectFerryError(inFolder.put('k', { id: 'k', v: '2' }), 'E_CUTOVER_STORE', /read-only/);
      await expectFerryError(
        jsonFileStore<Val>(path.join(folder, 'x.json')).put('a', { id: 'a', v: '1' }),
        'E_CUTOVER_STORE',
        /read-only/,
      );
    } finally {
      await chmod(folder, 0o755);
    }
    expect(await inFolder.get('k')).toEqual({ id: 'k', v: '1' });
  });

  it('a writer killed (SIGKILL) mid-write leaves the old file or the new one, never a truncated one', async () => {
    const file = fresh('.json');
    const writer = fileURLToPath(new URL('./support/json-writer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', writer, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let reported = 0;
    child.stdout?.on('data', (d: Buffer) => {
      const lines = d.toString().trim().split('\n');
      reported = Number(lines.at(-1));
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let reads = 0;
    try {
      // Read the file while the child rewrites it: every read is a whole JSON document.
      while (reported < 15) {
        if (child.exitCode !== null) throw new Error(`the writer exited (${child.exitCode})`);
        const text = await readFile(file, 'utf8').catch(() => null);
        if (text !== null) {
          expect(() => JSON.parse(text), `read ${reads} after version ${reported}`).not.toThrow();
          reads++;
        }
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      killNow(child);
      await exited;
    }
    const last = JSON.parse(await readFile(file, 'utf8')) as { big: { n: number; v: string } };
    expect(last.big.n).toBeGreaterThanOrEqual(reported);
    expect(last.big.n).toBeLessThanOrEqual(reported + 1);
    expect(last.big.v.length).toBe(2_000_000);
    expect(reads).toBeGreaterThan(0);
    // The store reads it too (a temp file the kill may have left beside it is a dotfile, never read).
    expect((await jsonFileStore<{ n: number }>(file).get('big'))?.n).toBe(last.big.n);
  }, 60_000);

  it('says what to do with a file that is not JSON or a list without a key', async () => {
    const bad = fresh('.json');
    await writeFile(bad, '{"a": 1,');
    await expectFerryError(jsonFileStore(bad).get('a'), 'E_CUTOVER_STORE', /not valid JSON .*line 1/);
    const list = fresh('.json');
    await writeFile(list, '[{"id": 1}]');
    await expectFerryError(jsonFileStore(list).get('1'), 'E_CUTOVER_CONFIG', /pass `key`/);
  });
});

describe('json folder store', () => {
  it('maps keys to safe file names inside the folder, never a path out of it', async () => {
    const folder = fresh();
    const s = jsonFolderStore<Val>(folder);
    await s.put('../escape', { id: '../escape', v: '1' });
    await s.put('123', { id: '123', v: 'conversation' });
    expect((await readdir(folder)).sort()).toEqual(['%2E%2E%2Fescape.json', '123.json']);
    expect(await readdir(path.dirname(folder))).not.toContain('escape.json');
    // A custom mapping that would leave the folder is refused.
    const custom = jsonFolderStore<Val>(folder, { fileName: (k) => `${k}.json`, key: 'id' });
    await expectFerryError(custom.put('../x', { id: '../x', v: '' }), 'E_CUTOVER_STORE', /one plain file name/);
    await custom.put('chat-1', { id: 'chat-1', v: 'c' });
    expect((await all(custom)).map((e) => e.key).sort()).toEqual(['../escape', '123', 'chat-1']);
  });
});

describe('redis store', () => {
  const prefix = () => `${RUN}:${++n}:`;

  it('sets the configured TTL on every put, and keeps a key’s TTL when none is configured', async () => {
    const p = prefix();
    const withTtl = redisStore<Val>(redis, { prefix: p, ttl: '30m' });
    await withTtl.put('a', { id: 'a', v: '1' });
    const pttl = await redis.pttl(`${p}a`);
    expect(pttl).toBeGreaterThan(29 * 60_000);
    expect(pttl).toBeLessThanOrEqual(30 * 60_000);

    // A cache entry the app wrote with a 5-minute TTL stays a cache entry when the cutover rewrites it.
    const keep = redisStore<Val>(redis, { prefix: p });
    await redis.set(`${p}b`, JSON.stringify({ id: 'b', v: 'app' }), 'PX', 300_000);
    await keep.put('b', { id: 'b', v: 'cutover' });
    expect(await redis.pttl(`${p}b`)).toBeGreaterThan(290_000);
    expect(await keep.get('b')).toEqual({ id: 'b', v: 'cutover' });

    const hashes = redisStore<Record<string, string>>(redis, { prefix: p, type: 'hash' });
    await redis.hset(`${p}h`, { old: 'field', id: 'h' });
    await redis.pexpire(`${p}h`, 300_000);
    await hashes.put('h', { id: 'h', v: 'new' });
    expect(await redis.hgetall(`${p}h`)).toEqual({ id: 'h', v: 'new' });
    expect(await redis.pttl(`${p}h`)).toBeGreaterThan(290_000);

    const perValue = redisStore<{ id: string; expiresAt: number }>(redis, {
      prefix: p,
      ttlOf: (s) => s.expiresAt - Date.now(),
    });
    await perValue.put('s', { id: 's', expiresAt: Date.now() + 120_000 });
    const sTtl = await redis.pttl(`${p}s`);
    expect(sTtl).toBeGreaterThan(100_000);
    expect(sTtl).toBeLessThanOrEqual(120_000);
  });

  it('lists more than 1000 keys through SCAN pages, each once, skipping other types and other prefixes', async () => {
    const p = prefix();
    const pipe = redis.pipeline();
    for (let i = 0; i < 2500; i++) pipe.set(`${p}${i}`, JSON.stringify({ id: String(i), v: 'x' }));
    pipe.hset(`${p}a-hash`, { not: 'a string' });
    pipe.set(`${p.slice(0, -1)}X:0`, '"other prefix"');
    await pipe.exec();
    const s = redisStore<Val>(redis, { prefix: p, scanCount: 200 });
    const listed = await all(s);
    expect(listed.length).toBe(2500);
    expect(new Set(listed.map((e) => e.key)).size).toBe(2500);
    expect(listed.find((e) => e.key === '1234')?.value).toEqual({ id: '1234', v: 'x' });
  });

  it('a prefix with glob characters matches only itself', async () => {
    const p = `${RUN}:${++n}:[a]*`;
    await redis.set(`${RUN}:${n}:a-other`, '"no"');
    const s = redisStore<string>(redis, { prefix: p, type: 'string' });
    await s.put('k', 'plain text');
    expect(await redis.get(`${p}k`)).toBe('plain text');
    expect(await all(s)).toEqual([{ key: 'k', value: 'plain text' }]);
  });

  it('fails with E_CUTOVER_STORE naming the key when Redis refuses', async () => {
    const p = prefix();
    await redis.hset(`${p}h`, { a: '1' });
    const s = redisStore<Val>(redis, { prefix: p });
    const err = await expectFerryError(s.get('h'), 'E_CUTOVER_STORE', /WRONGTYPE/);
    expect(err.message).toContain(`${p}h`);
  });
});

function killNow(child: ChildProcess) {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
