/**
 * `{ user, ip }` keys are encoded so that no two different pairs share a
 * budget: a ':' in the user cannot move the boundary, and the anonymous
 * budget is not user 'anon''s.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRateLimiter, E_RATE_ARGUMENT } from '../../src/rate-limit/index.js';
import { expectFerryError } from '../support/expect-error.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = `ferrytest:rlkeys:${process.pid}:${randomBytes(4).toString('hex')}`;
const admin = new Redis(REDIS_URL);

afterAll(async () => {
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length) await admin.del(...keys);
  await admin.quit();
});

describe('rate-limit keys', () => {
  it('pairs that used to collide get distinct keys', () => {
    const l = createRateLimiter({ redis: null, points: 1, duration: '1s', keyPrefix: 'rate' });
    const distinct = [
      { user: 'a:b', ip: 'c' },
      { user: 'a', ip: 'b:c' },
      { user: 'anon', ip: 'c' },
      { ip: 'c' },
      { user: null, ip: 'c' },
      { user: 'a%3Ab', ip: 'c' },
      { user: '%', ip: 'c' },
      { user: '%25', ip: 'c' },
    ];
    const keys = distinct.map((k) => l.keyFor(k));
    expect(keys).toEqual([
      'rate:a%3Ab:c',
      'rate:a:b:c',
      'rate:anon:c',
      'rate::c',
      'rate::c',
      'rate:a%253Ab:c',
      'rate:%25:c',
      'rate:%2525:c',
    ]);
    // Only the two spellings of "anonymous" share a key.
    expect(new Set(keys).size).toBe(distinct.length - 1);
    // The seeds' shape is unchanged for plain users and IPv6 addresses.
    expect(l.keyFor({ user: 42, ip: '::1' })).toBe('rate:42:::1');
    expect(l.keyFor('rate-key:as:is')).toBe('rate:rate-key:as:is');
  });

  it('separate budgets in Redis and in memory', async () => {
    for (const redis of [REDIS_URL, null]) {
      const l = createRateLimiter({ redis, points: 1, duration: '10s', keyPrefix: prefix, logger: false });
      try {
        expect((await l.consume({ user: 'a:b', ip: 'c' })).allowed).toBe(true);
        expect((await l.consume({ user: 'a', ip: 'b:c' })).allowed).toBe(true);
        expect((await l.consume({ ip: 'c' })).allowed).toBe(true);
        expect((await l.consume({ user: 'anon', ip: 'c' })).allowed).toBe(true);
        expect((await l.consume({ user: 'a:b', ip: 'c' })).allowed).toBe(false);
        expect((await l.consume({ user: '', ip: 'c' })).allowed).toBe(false); // anonymous again
        await l.reset({ user: 'a:b', ip: 'c' });
        await l.reset({ user: 'a', ip: 'b:c' });
        await l.reset({ ip: 'c' });
        await l.reset({ user: 'anon', ip: 'c' });
      } finally {
        await l.close();
      }
    }
  });

  it('the 512-character cap applies to the encoded key', async () => {
    const l = createRateLimiter({ redis: null, points: 1, duration: '1s' });
    await expectFerryError(l.consume({ user: ':'.repeat(200), ip: '1.2.3.4' }), E_RATE_ARGUMENT);
    expect((await l.consume({ user: 'x'.repeat(200), ip: '1.2.3.4' })).allowed).toBe(true);
  });
});
