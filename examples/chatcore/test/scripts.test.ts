/**
 * ChatCore's scripts run as people run them, as processes: `seed-users.ts`
 * twice against the same database (both backends: the same three users,
 * no duplicates, exit 0 both times, the counts printed), and `demo.ts` as a
 * newcomer runs it on a fresh clone (no DATABASE_URL, no REDIS_URL: embedded
 * PGlite in a fresh folder).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { connect } from '../../../src/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { runTsx } from '../../../test/support/run-tsx.js';
import * as schema from '../schema.js';

const script = (name: string) => new URL(`../${name}`, import.meta.url).pathname;

const run = (file: string, env: Record<string, string>) =>
  runTsx(file, [], { env, unset: ['DATABASE_URL', 'REDIS_URL', 'FERRY_DATA_DIR', 'SECRET_KEY'] });

describeEachBackend('chatcore seed-users script', (t) => {
  it('run twice: the same three users, no duplicates, exit 0 both times', { timeout: 180_000 }, async () => {
    const first = await run(script('seed-users.ts'), { DATABASE_URL: t.url() });
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/^seed-users: 3 created, 0 unchanged/m);
    expect(first.out).toMatch(/^ {2}admin \(admin\): created$/m);

    const second = await run(script('seed-users.ts'), { DATABASE_URL: t.url() });
    expect(second.code, second.err).toBe(0);
    expect(second.out).toMatch(/^seed-users: 0 created, 3 unchanged/m);
    expect(second.out).toMatch(/^ {2}user3 \(user\): unchanged$/m);

    const ferry = await connect({ url: t.url(), schema });
    try {
      const users = await ferry.db.selectFrom('users').select(['username', 'role', 'password_hash']).execute();
      expect(users.map((u) => [u.username, u.role]).sort()).toEqual([
        ['admin', 'admin'],
        ['user2', 'user'],
        ['user3', 'user'],
      ]);
      expect(users.every((u) => u.password_hash.startsWith('scrypt$'))).toBe(true);
    } finally {
      await ferry.close();
    }
  });
});

const fresh = mkdtempSync(join(tmpdir(), 'chatcore-demo-'));
afterAll(() => rmSync(fresh, { recursive: true, force: true }));

it('the demo runs on a fresh clone: embedded PGlite, no Redis, no server', { timeout: 180_000 }, async () => {
  const { code, out, err } = await run(script('demo.ts'), { FERRY_DATA_DIR: join(fresh, 'db') });
  expect(code, err).toBe(0);
  expect(out).toMatch(/^chatcore: pglite at .*; Redis: none$/m);
  expect(out).toMatch(/^migrations: 2 applied$/m);
  expect(out).toMatch(/^seed-users: 3 created, 0 unchanged$/m);
  expect(out).toMatch(/loaded 1x \(then cached 5 min\)/);
  expect(out).toMatch(/\(cached: false\); again: cached: true; model calls: 1$/m);
  expect(out).toMatch(/request 6 refused with 429$/m);
  expect(out).toMatch(/^refresh: new pair; the old access token now gets 401, the new one 200$/m);
  expect(out).toMatch(/presented again: 401; every session of the user revoked: new access 401, new refresh 401$/m);
  expect(out).toMatch(/^login, logout: the access token gets 401, its refresh token 401$/m);
  expect(out).toMatch(/the access token gets 401 \(expired\); refreshed, the new one 200$/m);
});
