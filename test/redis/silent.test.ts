/**
 * A library is silent unless given a logger: with Redis healthy, the cache,
 * the rate limiter and the session store print nothing on stdout or stderr
 * (no JSON log lines, no process warnings). Checked in a child process, whose
 * whole output is the evidence.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const CHILD = fileURLToPath(new URL('./support/silent-child.ts', import.meta.url));
const prefix = `ferrytest:silent:${process.pid}:${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  const r = new Redis(REDIS_URL);
  const keys = await r.keys(`${prefix}*`);
  if (keys.length) await r.del(...keys);
  await r.quit();
});

it('createCache, createRateLimiter and createSessionStore print nothing without a logger', async () => {
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', CHILD, REDIS_URL, prefix],
    {
      timeout: 30_000,
    },
  );
  expect(stdout).toBe('');
  expect(stderr).toBe('');
}, 40_000);
