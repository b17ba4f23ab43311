import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Cache } from '../../../src/cache/index.js';
import { connect, type DatabaseOf, type Ferry } from '../../../src/index.js';
import { describeEachBackend } from '../../../test/support/backends.js';
import { runHelloBot } from '../demo.js';
import * as schema from '../schema.js';
import { createUserCache, displayName, UserService } from '../user-service.js';

describeEachBackend('hello-bot', (t) => {
  let ferry: Ferry<DatabaseOf<typeof schema>>;
  let cache: Cache; // in process only: the Redis side is cache.test.ts
  beforeAll(async () => {
    cache = createUserCache({ redis: null });
    ferry = await connect({ url: t.url(), schema, cache });
    await ferry.migrate(new URL('../migrations', import.meta.url).pathname);
  });
  afterAll(async () => {
    await cache?.close();
    await ferry?.close();
  });
  beforeEach(async () => {
    await sql`truncate users restart identity`.execute(ferry.db);
    await cache.clear(); // truncate is no repository write: nothing invalidated it
  });

  it('creates a user on the first visit and refreshes names on the next', async () => {
    const service = new UserService(ferry);
    const first = await service.getOrCreateUser({ id: 42, username: 'ann', first_name: 'Ann' });
    expect(first).toMatchObject({ created: true, updated: false });
    expect(displayName(first.user)).toBe('ann');
    const same = await service.getOrCreateUser({ id: 42, username: 'ann', first_name: 'Ann' });
    expect(same).toMatchObject({ created: false, updated: false });
    const renamed = await service.getOrCreateUser({ id: 42, username: 'ann2', first_name: 'Ann' });
    expect(renamed).toMatchObject({ created: false, updated: true });
    expect(renamed.user.username).toBe('ann2');
    expect(renamed.user.id).toBe(first.user.id);
    expect(renamed.user.updated_at.getTime()).toBeGreaterThanOrEqual(first.user.updated_at.getTime());
  });

  it('concurrent first visits of one user create exactly one row, and exactly one reports it', async () => {
    // Each service has its own view; they share the cache, whose loads per key are coalesced.
    const results = await Promise.all(
      Array.from({ length: 10 }, () => new UserService(ferry).getOrCreateUser({ id: 7, first_name: 'Sam' })),
    );
    expect(await ferry.repo(schema.users).count({ telegram_id: 7 })).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.user.id)).size).toBe(1);
  });

  it('pages active users newest first and searches usernames case-insensitively', async () => {
    const repo = ferry.repo(schema.users);
    const at = (min: number) => new Date(Date.UTC(2024, 0, 1, 0, min));
    await repo.insert([
      { telegram_id: 1, username: 'Alpha', created_at: at(1) },
      { telegram_id: 2, username: 'beta_1', created_at: at(2) },
      { telegram_id: 3, username: 'gamma', created_at: at(2) },
      { telegram_id: 4, username: 'delta', created_at: at(3), is_active: false },
      { telegram_id: 5, username: 'beta%2', created_at: at(4) },
    ]);
    const service = new UserService(ferry);
    const p1 = await service.listActiveUsers({ limit: 2 });
    const p2 = await service.listActiveUsers({ limit: 2, cursor: p1.nextCursor! });
    expect([...p1.rows, ...p2.rows].map((u) => u.telegram_id)).toEqual([5, 2, 3, 1]);
    expect(p2.nextCursor).toBeNull();
    expect((await service.searchByUsername('BETA')).map((u) => u.username)).toEqual(['beta%2', 'beta_1']);
    expect((await service.searchByUsername('%')).map((u) => u.username)).toEqual(['beta%2']);
    expect(await service.deactivate(1)).toBe(true);
    expect((await service.languageStats())[0]).toEqual({ language_code: null, users: 5 });
  });

  it('the demo runs end to end', async () => {
    const lines: string[] = [];
    const result = await runHelloBot({ ferry, redis: null, log: (l) => lines.push(l) });
    expect(result.created).toBe(25);
    const out = lines.join('\n');
    expect(out).toMatch(/runs without the L2/);
    expect(out).toMatch(/returning visits: 25, from the cache: 25, database reads: 0/);
    expect(out).toMatch(/the cache now answers renamed_1/);
    expect(out).toMatch(/newest active users: /);
  });
});
