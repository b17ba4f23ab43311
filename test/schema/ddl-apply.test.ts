import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type Ferry } from '../../src/index.js';
import type { DatabaseOf } from '../../src/schema/infer.js';
import { defineSchema } from '../../src/schema/schema.js';
import { describeEachBackend } from '../support/backends.js';
import * as fixtures from './fixtures.js';

const ir = defineSchema(fixtures).toIR();

describeEachBackend('DDL for every column type and index kind', (t) => {
  let ferry: Ferry<DatabaseOf<typeof fixtures>>;
  beforeAll(async () => {
    ferry = await connect({ url: t.url(), schema: fixtures });
    await ferry.createSchema();
  });
  afterAll(() => ferry?.close());

  it('creates every table, constraint and index the IR names', async () => {
    const { rows } = await sql<{ name: string }>`
      select relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'i')`.execute(ferry.db);
    const present = new Set(rows.map((r) => r.name));
    for (const table of ir.tables) {
      expect(present, table.name).toContain(table.name);
      for (const ix of table.indexes) expect(present, ix.name).toContain(ix.name);
    }
    const { rows: constraints } = await sql<{ name: string }>`
      select conname as name from pg_constraint where connamespace = current_schema()::regnamespace`.execute(ferry.db);
    const names = new Set(constraints.map((c) => c.name));
    for (const table of ir.tables) {
      const expected = [
        ...(table.primaryKey ? [table.primaryKey.name] : []),
        ...table.uniques.map((u) => u.name),
        ...table.foreignKeys.map((f) => f.name),
        ...table.checks.map((c) => c.name),
      ];
      for (const name of expected) expect(names, name).toContain(name);
    }
  });

  it('stores and reads back a row using every type', async () => {
    const account = await ferry.repo(fixtures.accounts).insert({
      email: 'a@example.com',
      handle: 'Ann',
      moods: ['happy', "it's ok"],
      balance: '12.50',
      score: 1.5,
      ratio: 0.25,
      small: 3,
      big: 9_007_199_254_740_000,
      code: 'abc',
      born: '1990-05-17',
      seen: new Date('2024-02-03T04:05:06.789Z'),
      seen_tz: new Date('2024-02-03T04:05:06.789Z'),
      ttl: '2 days 03:00:00',
      meta: { any: ['json', 1] },
      avatar: new Uint8Array([0, 1, 255]),
      tags: ['x', 'y z'],
    });
    expect(account).toMatchObject({
      tier: 'free',
      moods: ['happy', "it's ok"],
      balance: '12.50',
      big: 9_007_199_254_740_000,
      code: 'abc',
      born: '1990-05-17',
      seen: new Date('2024-02-03T04:05:06.789Z'),
      ttl: '2 days 03:00:00',
      meta: { any: ['json', 1] },
      prefs: { theme: 'dark' },
      tags: ['x', 'y z'],
      active: true,
    });
    expect([...account.avatar!]).toEqual([0, 1, 255]);
    expect(account.token).toMatch(/^[0-9a-f-]{36}$/);

    const event = await ferry.repo(fixtures.events).insert({ account_id: account.id, kind: 'signup' });
    expect(event.seq).toBe(1);
    await expect(
      sql`insert into events (seq, account_id, kind) values (5, ${account.id}, 'x')`.execute(ferry.db),
    ).rejects.toThrow(/cannot insert a non-DEFAULT value into column "seq"/);
    await expect(
      ferry.repo(fixtures.accounts).insert({ email: 'b@example.com', handle: 'b', balance: '-1' }),
    ).rejects.toThrow(/accounts_balance_positive/);
  });
});
