/**
 * The runner's guards against silent no-ops and its way out of a lost
 * migration: empty files are refused unless marked `-- ferry:empty`, and
 * `forget` drops the history row of a migration whose folder is gone.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterAll, beforeEach, expect, it } from 'vitest';
import { Ferry } from '../../src/connect.js';
import type { DbHandle } from '../../src/db/open.js';
import {
  E_MIGRATION_EMPTY,
  E_MIGRATION_MISSING,
  E_MIGRATION_ON_DISK,
  E_MIGRATION_UNKNOWN,
} from '../../src/migrate/errors.js';
import { Migrator } from '../../src/migrate/runner.js';
import { defineSchema } from '../../src/schema/schema.js';
import { describeEachBackend } from '../support/backends.js';
import { expectFerryError } from '../support/expect-error.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function put(dir: string, id: string, up: string, down?: string): void {
  mkdirSync(path.join(dir, id), { recursive: true });
  writeFileSync(path.join(dir, id, 'up.sql'), up);
  if (down !== undefined) writeFileSync(path.join(dir, id, 'down.sql'), down);
}

const M1 = '20240101000000_create_items';
const M2 = '20240102000000_data_fix';
const M3 = '20240103000000_add_price';

describeEachBackend('migrate runner guards', (t) => {
  let handle: DbHandle;
  let db: Kysely<any>;
  let dir: string;
  const migrator = () => new Migrator(db, { dir, appliedBy: 'tester@test' });
  const applied = async () => (await migrator().history()).map((h) => h.id);

  beforeEach(async () => {
    handle = await t.open();
    db = handle.db;
    await sql.raw('drop schema public cascade; create schema public;').execute(db);
    dir = mkdtempSync(path.join(tmpdir(), 'ferry-guards-'));
    roots.push(dir);
    put(dir, M1, 'create table items (id int primary key);\n', 'drop table items;\n');
  });

  it('up refuses a pending up.sql with only comments and whitespace, naming it; nothing is applied', async () => {
    put(dir, M2, '-- fix the prices here\n\n  /* later */\n;\n', '-- nothing\n');
    put(dir, M3, 'alter table items add column price numeric;\n');
    const err = await expectFerryError(migrator().up(), E_MIGRATION_EMPTY, /-- ferry:empty/);
    expect(err.message).toContain(path.join(dir, M2, 'up.sql'));
    expect(err.details.ids).toEqual([M2]);
    // Refused for the whole plan up front: not even the good migration before it ran.
    expect(await applied()).toEqual([]);
    // Stopping before it is fine.
    expect((await migrator().up({ to: M1 })).ok).toBe(true);
    expect(await applied()).toEqual([M1]);
  });

  it('ferry.migrate() refuses an empty up.sql too', async () => {
    put(dir, M2, '\n\n');
    const ferry = new Ferry(handle, defineSchema({}), {});
    await expectFerryError(ferry.migrate(dir), E_MIGRATION_EMPTY, /up\.sql/);
    expect(await applied()).toEqual([]);
  });

  it('an up.sql marked -- ferry:empty is applied and recorded', async () => {
    put(dir, M2, '-- prices were fixed by hand on every server\n-- ferry:empty\n', '-- ferry:empty\n');
    put(dir, M3, 'alter table items add column price numeric;\n', 'alter table items drop column price;\n');
    const run = await migrator().up();
    expect(run.results.map((r) => [r.id, r.status])).toEqual([
      [M1, 'applied'],
      [M2, 'applied'],
      [M3, 'applied'],
    ]);
    // And its down.sql, marked too, reverts.
    expect((await migrator().down({ steps: 2 })).results.map((r) => [r.id, r.status])).toEqual([
      [M3, 'reverted'],
      [M2, 'reverted'],
    ]);
    expect(await applied()).toEqual([M1]);
  });

  it('down refuses an empty down.sql unless it is marked', async () => {
    put(dir, M2, 'insert into items values (1);\n', '-- Write how to undo it here.\n');
    await migrator().up();
    const err = await expectFerryError(migrator().down({ all: true }), E_MIGRATION_EMPTY, /Nothing was reverted/);
    expect(err.message).toContain(path.join(dir, M2, 'down.sql'));
    expect(await applied()).toEqual([M1, M2]);
    writeFileSync(path.join(dir, M2, 'down.sql'), '-- Write how to undo it here.\n-- ferry:empty\n');
    expect((await migrator().down()).ok).toBe(true);
    expect(await applied()).toEqual([M1]);
  });

  it('forget removes the history row of a migration whose folder is gone; status is clean again', async () => {
    put(dir, M2, 'create table notes (id int);\n');
    await migrator().up();
    rmSync(path.join(dir, M2), { recursive: true });
    expect((await migrator().status()).problems.map((p) => p.code)).toEqual([E_MIGRATION_MISSING]);
    await expectFerryError(migrator().up(), E_MIGRATION_MISSING);

    const removed = await migrator().forget(M2);
    expect(removed).toMatchObject({ id: M2, appliedBy: 'tester@test' });
    expect(removed.checksum).toMatch(/^[0-9a-f]{64}$/);
    const status = await migrator().status();
    expect(status.problems).toEqual([]);
    expect(status.current).toBe(M1);
    expect(await applied()).toEqual([M1]);
    // Nothing was run or reverted: the table the lost migration created is still there.
    await sql`select * from notes`.execute(db);
  });

  it('forget refuses an id whose folder still exists unless forced, and an id not in the history', async () => {
    await migrator().up();
    const err = await expectFerryError(migrator().forget(M1), E_MIGRATION_ON_DISK, /still exists/);
    expect(err.message).toContain(path.join(dir, M1));
    expect(await applied()).toEqual([M1]);

    await expectFerryError(
      migrator().forget('20240909000000_never'),
      E_MIGRATION_UNKNOWN,
      new RegExp(`20240909000000_never is not in ferry_migrations.*applied: ${M1}`),
    );
    expect(await applied()).toEqual([M1]);

    expect((await migrator().forget(M1, { force: true })).id).toBe(M1);
    expect(await applied()).toEqual([]);
    expect((await migrator().status()).pending.map((p) => p.id)).toEqual([M1]);
  });
});
