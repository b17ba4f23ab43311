/**
 * The seeds' Alembic workflow, end to end through Ferry's API: autogenerate
 * the initial migration, upgrade head, change the model, autogenerate,
 * upgrade, downgrade -1, current, history, check.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { generateMigration, pendingChanges, replayMigrations } from '../../src/migrate/generate.js';
import { introspect } from '../../src/migrate/introspect.js';
import { Migrator } from '../../src/migrate/runner.js';
import { openShadow, type Shadow } from '../../src/migrate/shadow.js';
import { bigint, boolean, defineSchema, index, serial, table, timestamps, varchar } from '../../src/schema/index.js';
import { describeEachBackend } from '../support/backends.js';

const usersV1 = table(
  'users',
  {
    id: serial().primaryKey(),
    telegram_id: bigint().notNull().unique(),
    username: varchar(255).index(),
    is_active: boolean().notNull().default(true),
    ...timestamps(),
  },
  (t) => [index('ix_user_active_created').on(t.is_active, t.created_at)],
);
const usersV2 = table(
  'users',
  {
    id: serial().primaryKey(),
    telegram_id: bigint().notNull().unique(),
    username: varchar(255).index(),
    is_active: boolean().notNull().default(true),
    language_code: varchar(10),
    ...timestamps(),
  },
  (t) => [
    index('ix_user_active_created').on(t.is_active, t.created_at),
    index('ix_user_telegram_active').on(t.telegram_id, t.is_active),
  ],
);

describeEachBackend('the Alembic flow', (t) => {
  let handle: DbHandle;
  let shadow: Shadow;
  let dir: string;
  beforeAll(async () => {
    handle = await openDatabase({ url: t.url() });
    shadow = await openShadow();
    dir = mkdtempSync(join(tmpdir(), 'ferry-migrations-'));
  });
  afterAll(async () => {
    await shadow?.close();
    await handle?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('revision --autogenerate, upgrade, change, upgrade, downgrade -1, current, history, check', async () => {
    const migrator = new Migrator(handle.db, { dir });
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

    // revision --autogenerate -m initial
    const initial = await generateMigration({
      shadow,
      schema: defineSchema([usersV1]),
      dir,
      name: 'initial',
      now: at(0),
    });
    expect(initial.written.map((w) => w.id)).toEqual(['20260101000000_initial']);
    expect(readFileSync(join(initial.written[0]!.dir, 'up.sql'), 'utf8')).toContain('CREATE TABLE users');

    // upgrade head
    expect((await migrator.up()).ok).toBe(true);
    await sql`insert into users (telegram_id, username) values (1, 'ann')`.execute(handle.db);

    // nothing to generate when the model did not change
    const none = await generateMigration({ shadow, schema: defineSchema([usersV1]), dir, name: 'noop', now: at(5) });
    expect(none.written).toEqual([]);

    // change the model, autogenerate: a column and a concurrent index on the existing table
    const second = await generateMigration({
      shadow,
      schema: defineSchema([usersV2]),
      dir,
      name: 'add_language',
      now: at(10),
    });
    expect(second.written.map((w) => w.id)).toEqual([
      '20260101000010_add_language',
      '20260101000011_add_language_index',
    ]);
    expect(second.written[1]!.upNoTransaction).toBe(true);

    // check: pending migrations are drift
    expect((await migrator.status()).pending.map((p) => p.id)).toEqual(second.written.map((w) => w.id));

    // upgrade head
    const up = await migrator.up();
    expect(up.results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect((await migrator.status()).current).toBe('20260101000011_add_language_index');

    // the database matches the migrations and the migrations match the DSL
    const expected = await replayMigrations(shadow, dir);
    expect(diffSchemas(await introspect(handle.db), expected)).toEqual([]);
    expect((await pendingChanges(shadow, defineSchema([usersV2]), dir)).changes).toEqual([]);

    // downgrade -1: the index goes, the column stays
    const down = await migrator.down();
    expect(down.results.map((r) => [r.id, r.status])).toEqual([['20260101000011_add_language_index', 'reverted']]);
    const after = await introspect(handle.db);
    expect(after.tables[0]!.indexes.map((i) => i.name)).not.toContain('ix_user_telegram_active');
    expect(after.tables[0]!.columns.map((c) => c.name)).toContain('language_code');

    // current and history
    const status = await migrator.status();
    expect(status.current).toBe('20260101000010_add_language');
    const history = await migrator.history();
    expect(history.map((h) => h.id)).toEqual(['20260101000000_initial', '20260101000010_add_language']);
    expect(history[0]!.appliedAt).toBeInstanceOf(Date);

    // downgrade to base and back up: data of the first migration's table survives the round trip of later ones
    await migrator.up();
    await migrator.down({ to: '20260101000000_initial' });
    const { rows } = await sql<{ username: string }>`select username from users`.execute(handle.db);
    expect(rows).toEqual([{ username: 'ann' }]);
    await migrator.down({ all: true });
    expect((await introspect(handle.db)).tables).toEqual([]);
  });
});
