import { randomBytes } from 'node:crypto';
import KeyvRedis from '@keyv/redis';
import { Redis } from 'ioredis';
import Keyv from 'keyv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Source } from '../../../src/import/source.js';
import { E_SOURCE_OPTIONS, E_SOURCE_READ } from '../../../src/import/sources/errors.js';
import { type RedisRecord, redis } from '../../../src/import/sources/index.js';
import { expectFerryError } from '../../support/expect-error.js';
import { collect, errors, readFirst, values } from './helpers.js';

const URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('redis', () => {
  let admin: Redis;
  let prefix: string;
  const sources: Source[] = [];
  const source = (options: Parameters<typeof redis>[0]) => {
    const s = redis(options);
    sources.push(s);
    return s;
  };

  beforeAll(() => {
    admin = new Redis(URL);
  });
  afterAll(async () => {
    await admin.quit();
  });
  // A fresh key prefix per test (no colons: it doubles as a Keyv namespace), removed afterwards.
  const fresh = () => {
    prefix = `ferrytest${process.pid}x${randomBytes(4).toString('hex')}`;
    return prefix;
  };
  afterEach(async () => {
    for (const s of sources.splice(0)) await s.close?.();
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    if (keys.length) await admin.del(...keys);
  });

  it('reads what the real Keyv + @keyv/redis wrote, envelopes unwrapped, TTLs kept', async () => {
    const ns = fresh();
    const kv = new Keyv({ store: new KeyvRedis(URL), namespace: ns });
    const before = Date.now();
    await kv.set('user:2', { name: 'bo', since: new Date(0) }, 60_000);
    await kv.set('user:1', { name: 'ann' });
    await kv.set('avatar', Buffer.from('png!'), 30_000);
    await kv.set('colon', ':starts with a colon');
    await kv.disconnect();

    const records = await collect(source({ url: URL, namespace: ns, type: 'json' }));
    expect(records.map((r) => r.loc)).toEqual(
      ['avatar', 'colon', 'user:1', 'user:2'].map((id) => ({
        source: `redis(${URL} ${ns}:*)`,
        key: `${ns}::${ns}:${id}`,
      })),
    );
    const byId = Object.fromEntries(values(records).map((r) => [r.id, r]));
    expect(byId['user:1']).toEqual({
      key: `${ns}::${ns}:user:1`,
      id: 'user:1',
      namespace: ns,
      type: 'string',
      value: { name: 'ann' },
      ttlMs: null,
      expiresAt: null,
    });
    expect(byId['user:2']!.value).toEqual({ name: 'bo', since: '1970-01-01T00:00:00.000Z' });
    expect(byId.avatar!.value).toEqual(Buffer.from('png!'));
    expect(byId.colon!.value).toBe(':starts with a colon');
    const withTtl = byId['user:2']!;
    expect(withTtl.ttlMs).toBeGreaterThan(50_000);
    expect(withTtl.ttlMs).toBeLessThanOrEqual(60_000);
    // Keyv's own `expires` (ms since epoch) is the expiry.
    expect(withTtl.expiresAt!.getTime()).toBeGreaterThanOrEqual(before + 60_000);
    expect(withTtl.expiresAt!.getTime()).toBeLessThan(Date.now() + 60_000 + 1);

    // Without `namespace`, @keyv/redis's `ns::ns:` prefix is still recognised.
    const auto = values(await collect(source({ url: URL, match: `${ns}*`, keyv: true })));
    expect(auto.map((r) => [r.namespace, r.id])).toEqual(['avatar', 'colon', 'user:1', 'user:2'].map((id) => [ns, id]));
    expect(auto[2]!.value).toEqual({ name: 'ann' });
  });

  it('reads every type with type auto, in sorted key order, across chunks', async () => {
    const p = fresh();
    await admin
      .multi()
      .set(`${p}:s`, 'plain text')
      .set(`${p}:t`, '{"a":1}', 'PX', 120_000)
      .hset(`${p}:h`, { name: 'ann', age: '30' })
      .rpush(`${p}:l`, 'x', 'y')
      .sadd(`${p}:set`, 'b', 'a')
      .zadd(`${p}:z`, 2, 'two', 1, 'one')
      .exec();
    const s = source({ url: URL, match: `${p}:*`, chunkSize: 2, scanCount: 1 });
    const records = await collect(s);
    expect(values(records).map((r) => [r.key.slice(p.length + 1), r.type, r.value])).toEqual([
      ['h', 'hash', { name: 'ann', age: '30' }],
      ['l', 'list', ['x', 'y']],
      ['s', 'string', 'plain text'],
      ['set', 'set', ['a', 'b']],
      ['t', 'string', '{"a":1}'], // strings as-is with type auto
      [
        'z',
        'zset',
        [
          { member: 'one', score: 1 },
          { member: 'two', score: 2 },
        ],
      ],
    ]);
    const t = values(records)[4]!;
    expect(t.ttlMs).toBeGreaterThan(100_000);
    expect(Math.abs(t.expiresAt!.getTime() - (Date.now() + t.ttlMs!))).toBeLessThan(5_000);

    // Deterministic and restartable (TTLs tick down between reads, so compare the rest).
    const strip = (rs: RedisRecord[]) => rs.map(({ ttlMs: _t, expiresAt: _e, ...rest }) => rest);
    expect(strip(values(await collect(s)))).toEqual(strip(values(records)));
    expect((await readFirst(s, 3)).map((r) => r.loc)).toEqual(records.slice(0, 3).map((r) => r.loc));
  });

  it('yields error records for wrong types and bad JSON, and goes on', async () => {
    const p = fresh();
    await admin.multi().set(`${p}:a`, '{"ok":true}').set(`${p}:b`, '{"bad": }').hset(`${p}:c`, 'f', 'v').exec();
    const records = await collect(source({ url: URL, match: `${p}:*`, type: 'json' }));
    expect(values(records).map((r) => r.value)).toEqual([{ ok: true }]);
    expect(errors(records)).toEqual([
      {
        kind: 'error',
        reason: `value of key "${p}:b": invalid JSON at line 1 column 9: unexpected '}': expected a value`,
        loc: { source: `redis(${URL} ${p}:*)`, key: `${p}:b` },
      },
      {
        kind: 'error',
        reason: `key "${p}:c" does not hold a string (WRONGTYPE); read mixed keys with type: 'auto'`,
        loc: { source: `redis(${URL} ${p}:*)`, key: `${p}:c` },
      },
    ]);
    const hashes = await collect(source({ url: URL, match: `${p}:*`, type: 'hash' }));
    expect(values(hashes).map((r) => r.value)).toEqual([{ f: 'v' }]);
    expect(errors(hashes)).toHaveLength(2);
  });

  it('never shows the password: labels and connection errors are redacted', async () => {
    fresh();
    const s = source({ url: 'redis://:s3cret-pw@127.0.0.1:1/0' });
    expect(s.label).toBe('redis(redis://:****@127.0.0.1:1/0 *)');
    const err = await expectFerryError(collect(s), E_SOURCE_READ, /cannot connect/);
    expect(err.message).not.toContain('s3cret-pw');
    expect(JSON.stringify(err.details)).not.toContain('s3cret-pw');
    expect(() => redis({ url: 'http://:s3cret-pw@x' })).toThrow(
      expect.objectContaining({ code: E_SOURCE_OPTIONS, message: expect.not.stringContaining('s3cret-pw') }),
    );
    expect(() => redis({ url: URL, type: 'list' as never })).toThrow(/must be one of/);
  });

  it('close() quits the client and is idempotent; lists no files', async () => {
    fresh();
    const s = source({ url: URL, match: `${prefix}:*` });
    expect(await collect(s)).toEqual([]);
    expect(await s.files()).toEqual([]);
    expect(await s.estimate!()).toEqual({});
    await s.close!();
    await s.close!();
  });
});
