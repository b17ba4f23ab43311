import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DbHandle, openDatabase } from '../../src/db/open.js';
import { diffSchemas } from '../../src/migrate/diff.js';
import { renameHints } from '../../src/migrate/hints.js';
import { introspect } from '../../src/migrate/introspect.js';
import { planMigrations } from '../../src/migrate/plan.js';
import { createStatements } from '../../src/schema/ddl.js';
import {
  bigint,
  check,
  sql as ddl,
  defineSchema,
  index,
  integer,
  pgEnum,
  primaryKey,
  type Schema,
  serial,
  table,
  text,
  timestamps,
  varchar,
} from '../../src/schema/index.js';
import type { SchemaIR } from '../../src/schema/ir.js';
import * as fixtures from '../schema/fixtures.js';
import { describeEachBackend } from '../support/backends.js';
import { resetPublicSchema as reset, runScript as run } from '../support/schema-reset.js';

async function createFrom(db: Kysely<any>, schema: Schema) {
  await reset(db);
  for (const s of createStatements(schema.toIR())) await sql.raw(s).execute(db);
}

/**
 * Apply A; migrate up to B: the database must equal B as Postgres reports it;
 * migrate down: it must equal A exactly. Returns the up SQL for assertions.
 */
async function roundTrip(
  handle: DbHandle,
  a: Schema,
  b: Schema,
  seed?: (db: Kysely<any>) => Promise<void>,
  check?: (db: Kysely<any>) => Promise<void>,
) {
  const db = handle.db;
  await createFrom(db, b);
  const target = await introspect(db);
  await createFrom(db, a);
  const start = await introspect(db);
  await seed?.(db);
  const plan = planMigrations(diffSchemas(start, target, renameHints(b)), 'change');
  for (const m of plan) await run(db, m.up, m.phase === 'concurrent');
  await handle.refreshTypes();
  expect(await introspect(db)).toEqual(target);
  expect(diffSchemas(await introspect(db), target)).toEqual([]);
  await check?.(db);
  for (const m of [...plan].reverse()) await run(db, m.down, m.phase === 'concurrent');
  // Exact, except where columns sit: Postgres appends a re-added column at the end.
  expect(byColumnName(await introspect(db))).toEqual(byColumnName(start));
  return plan;
}

const s = (...tables: unknown[]) => defineSchema(tables);

function byColumnName(ir: SchemaIR): SchemaIR {
  return {
    ...ir,
    tables: ir.tables.map((t) => ({ ...t, columns: [...t.columns].sort((a, b) => a.name.localeCompare(b.name)) })),
  };
}

describeEachBackend('diff: up reaches the target, down restores the start', (t) => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openDatabase({ url: t.url() });
  });
  afterAll(() => handle?.close());

  it('creates everything from nothing and drops it again', async () => {
    const plan = await roundTrip(handle, s(), defineSchema(fixtures));
    expect(plan.map((m) => m.phase)).toEqual(['main']);
  });

  it('drops everything (destructive) and down recreates it', async () => {
    const plan = await roundTrip(handle, defineSchema(fixtures), s());
    expect(plan[0]!.up).toContain('DESTRUCTIVE');
  });

  it('column changes: add, drop, type, default, nullability', async () => {
    const a = s(
      table('items', {
        id: serial().primaryKey(),
        qty: integer().notNull().default(1),
        note: text().notNull(),
        gone: text(),
        code: varchar(10),
      }),
    );
    const b = s(
      table('items', {
        id: serial().primaryKey(),
        qty: bigint().notNull().default(5),
        note: text(),
        code: varchar(10).notNull(),
        added: text().notNull().default('x'),
        extra: integer(),
      }),
    );
    const plan = await roundTrip(handle, a, b, async (db) => {
      await sql`insert into items (qty, note, code) values (2, 'n', 'c')`.execute(db);
    });
    const main = plan.find((m) => m.phase === 'main')!.up;
    expect(main).toContain('ALTER TABLE items ALTER COLUMN qty TYPE bigint USING qty::bigint');
    expect(main).toContain('CHECK (code IS NOT NULL) NOT VALID');
    const validate = plan.find((m) => m.phase === 'validate')!.up;
    expect(validate).toContain('ALTER TABLE items ALTER COLUMN code SET NOT NULL');
  });

  it('renames tables and columns from hints, keeping the data', async () => {
    const a = s(table('people', { id: serial().primaryKey(), full_name: text().notNull().unique() }));
    const b = s(
      table('persons', {
        id: serial().primaryKey(),
        name: text().notNull().unique().renamedFrom('full_name'),
      }).renamedFrom('people'),
    );
    const plan = await roundTrip(
      handle,
      a,
      b,
      (db) => sql`insert into people (full_name) values ('Ada')`.execute(db).then(() => {}),
      async (db) => {
        const { rows } = await sql<{ name: string }>`select name from persons`.execute(db);
        expect(rows).toEqual([{ name: 'Ada' }]);
      },
    );
    const up = plan[0]!.up;
    expect(up).toContain('ALTER TABLE people RENAME TO persons');
    expect(up).toContain('ALTER TABLE persons RENAME COLUMN full_name TO name');
    expect(up).toContain('RENAME CONSTRAINT people_pkey TO persons_pkey');
    expect(up).not.toMatch(/DROP (TABLE|COLUMN)/);
  });

  it('enum values: added in place, renamed in place, removed by rebuilding the type', async () => {
    const tierA = pgEnum('tier', ['free', 'pro']);
    const tierB = pgEnum('tier', ['trial', 'free', 'plus', 'pro', 'fleet']);
    const users = (e: typeof tierA) =>
      table('users', { id: serial().primaryKey(), tier: e().notNull().default('free') });
    const added = await roundTrip(handle, s(users(tierA)), s(users(tierB as never)), (db) =>
      sql`insert into users (tier) values ('pro')`.execute(db).then(() => {}),
    );
    expect(added[0]!.phase).toBe('expand');
    expect(added[0]!.up).toContain(`ADD VALUE IF NOT EXISTS 'trial' BEFORE 'free'`);
    expect(added[0]!.up).toContain(`ADD VALUE IF NOT EXISTS 'fleet' AFTER 'pro'`);

    const renamed = pgEnum('tier', ['free', 'premium'], { renamedValues: { premium: 'pro' } });
    const plan = await roundTrip(handle, s(users(tierA)), s(users(renamed as never)), (db) =>
      sql`insert into users (tier) values ('pro')`.execute(db).then(() => {}),
    );
    expect(plan[0]!.up).toContain(`RENAME VALUE 'pro' TO 'premium'`);

    const fewer = pgEnum('tier', ['free']);
    const rebuilt = await roundTrip(handle, s(users(tierA)), s(users(fewer as never)));
    expect(rebuilt[0]!.up).toContain('ALTER TYPE tier RENAME TO tier__old');
  });

  it('a renamed column keeps the checks and indexes whose expressions use it (Postgres rewrites them)', async () => {
    const a = s(
      table('items', { id: serial().primaryKey(), qty: integer().notNull(), code: text(), note: text() }, (c) => [
        check('items_qty_check', ddl`qty >= 0 AND qty < 1000 AND note <> 'qty'`),
        index('items_open_idx').on(c.id).where(ddl`qty > 0`),
        index('items_lower_code_idx').on(ddl`lower(code)`),
      ]),
    );
    const b = s(
      table(
        'items',
        {
          id: serial().primaryKey(),
          quantity: integer().notNull().renamedFrom('qty'),
          Code: text().renamedFrom('code'),
          note: text(),
        },
        (c) => [
          // Same definitions; the check's name follows the column's (a rename, not a rebuild).
          check('items_quantity_check', ddl`quantity >= 0 AND quantity < 1000 AND note <> 'qty'`),
          index('items_open_idx').on(c.id).where(ddl`quantity > 0`),
          index('items_lower_code_idx').on(ddl`lower("Code")`),
        ],
      ),
    );
    const plan = await roundTrip(handle, a, b, (db) =>
      sql`insert into items (qty, code, note) values (3, 'X', 'n')`.execute(db).then(() => {}),
    );
    expect(plan.map((m) => m.phase)).toEqual(['main']);
    const up = plan[0]!.up;
    expect(up).toContain('RENAME COLUMN qty TO quantity');
    expect(up).toContain('RENAME COLUMN code TO "Code"');
    expect(up).toContain('RENAME CONSTRAINT items_qty_check TO items_quantity_check');
    expect(up).not.toMatch(/DROP CONSTRAINT|DROP INDEX|CREATE INDEX|ADD CONSTRAINT/);
  });

  it('enum values renamed while used as a default, and renamed and added in one step', async () => {
    const tierA = pgEnum('tier', ['free', 'pro']);
    // The partial index names a label too (the down of adding values rebuilds the
    // type, which cannot convert such an index: left out of the second case).
    const users = (e: typeof tierA, d: string, withIndex = true) =>
      table(
        'users',
        {
          id: serial().primaryKey(),
          tier: e()
            .notNull()
            .default(d as never),
        },
        (c) =>
          withIndex
            ? [
                index('users_paying_idx')
                  .on(c.id)
                  .where(ddl.raw(`tier <> '${d}'::tier`)),
              ]
            : [],
      );
    const renamed = pgEnum('tier', ['gratis', 'pro'], { renamedValues: { gratis: 'free' } });
    const plan = await roundTrip(handle, s(users(tierA, 'free')), s(users(renamed as never, 'gratis')), (db) =>
      sql`insert into users (tier) values ('free'), ('pro')`.execute(db).then(() => {}),
    );
    expect(plan.map((m) => m.phase)).toEqual(['main']);
    expect(plan[0]!.up).toContain(`RENAME VALUE 'free' TO 'gratis'`);
    expect(plan[0]!.up).not.toMatch(/SET DEFAULT|DROP INDEX|CREATE INDEX/);

    // The rename runs first, in the expand migration, so the new value can be placed after it.
    const both = pgEnum('tier', ['trial', 'gratis', 'plus', 'pro'], { renamedValues: { gratis: 'free' } });
    const mixed = await roundTrip(
      handle,
      s(users(tierA, 'free', false)),
      s(users(both as never, 'gratis', false)),
      (db) => sql`insert into users (tier) values ('free')`.execute(db).then(() => {}),
    );
    expect(mixed.map((m) => m.phase)).toEqual(['expand']);
    const up = mixed[0]!.up;
    expect(up.indexOf(`RENAME VALUE 'free' TO 'gratis'`)).toBeLessThan(up.indexOf(`ADD VALUE IF NOT EXISTS 'plus'`));
    expect(up).toContain(`ADD VALUE IF NOT EXISTS 'trial' BEFORE 'gratis'`);
  });

  it('indexes and foreign keys on existing tables are lock-safe', async () => {
    const owners = table('owners', { id: serial().primaryKey(), email: text().notNull() });
    const petsA = table('pets', { id: serial().primaryKey(), owner_id: integer().notNull(), name: text() });
    const petsB = table(
      'pets',
      {
        id: serial().primaryKey(),
        owner_id: integer()
          .notNull()
          .references(() => owners.columns.id, { onDelete: 'cascade' }),
        name: text(),
      },
      (c) => [
        index('pets_owner_name_idx').on(c.owner_id, c.name),
        index('pets_named_idx').on(c.name).where(ddl`name IS NOT NULL`),
        check('pets_name_len', ddl`length(name) < 50`),
      ],
    );
    const plan = await roundTrip(handle, s(owners, petsA), s(owners, petsB), async (db) => {
      await sql`insert into owners (email) values ('a@b.c')`.execute(db);
      await sql`insert into pets (owner_id, name) values (1, 'rex')`.execute(db);
    });
    expect(plan.map((m) => m.phase)).toEqual(['main', 'validate', 'concurrent', 'concurrent']);
    expect(plan[0]!.up).toContain('NOT VALID');
    expect(plan[1]!.up).toContain('VALIDATE CONSTRAINT pets_owner_id_fkey');
    expect(plan[2]!.up.startsWith('-- ferry:no-transaction')).toBe(true);
    expect(plan[2]!.up).toContain('CREATE INDEX CONCURRENTLY');
  });

  it('a unique constraint on an existing table is built concurrently, then attached', async () => {
    const a = s(table('acc', { id: serial().primaryKey(), email: text().notNull() }));
    const b = s(table('acc', { id: serial().primaryKey(), email: text().notNull().unique() }));
    const plan = await roundTrip(handle, a, b, (db) =>
      sql`insert into acc (email) values ('a'), ('b')`.execute(db).then(() => {}),
    );
    expect(plan.map((m) => m.phase)).toEqual(['concurrent', 'attach']);
    expect(plan[0]!.up).toContain('CREATE UNIQUE INDEX CONCURRENTLY acc_email_key ON acc (email)');
    expect(plan[1]!.up).toContain('ADD CONSTRAINT acc_email_key UNIQUE USING INDEX acc_email_key');
  });

  it('a primary key on an existing table is built concurrently, then attached', async () => {
    const a = s(table('legacy', { code: text().notNull(), n: integer() }));
    const b = s(table('legacy', { code: text().notNull(), n: integer().notNull() }, (t) => [primaryKey(t.code, t.n)]));
    const plan = await roundTrip(handle, a, b, (db) =>
      sql`insert into legacy (code, n) values ('a', 1), ('b', 1)`.execute(db).then(() => {}),
    );
    expect(plan.map((m) => m.phase)).toEqual(['main', 'validate', 'concurrent', 'attach']);
    expect(plan[2]!.up).toContain('CREATE UNIQUE INDEX CONCURRENTLY legacy_pkey ON legacy (code, n)');
    expect(plan[3]!.up).toContain('ADD CONSTRAINT legacy_pkey PRIMARY KEY USING INDEX legacy_pkey');

    // A foreign key added in the same migration needs the key at once: then it is added in place.
    const refs = table('refs', {
      id: serial().primaryKey(),
      code: text().references(() => keyed.columns.code),
    });
    const keyed = table('legacy', { code: text().primaryKey(), n: integer() });
    const withFk = await roundTrip(handle, a, s(keyed, refs));
    expect(withFk.map((m) => m.phase)).toEqual(['main']);
    expect(withFk[0]!.up).toContain('ADD CONSTRAINT legacy_pkey PRIMARY KEY (code)');
  });

  it('composite keys and renamed indexes', async () => {
    const a = s(
      table('m', { a: integer().notNull(), b: integer().notNull(), c: integer().notNull() }, (t) => [
        primaryKey(t.a, t.b),
        index('m_old_idx').on(t.c),
      ]),
    );
    const b = s(
      table('m', { a: integer().notNull(), b: integer().notNull(), c: integer().notNull() }, (t) => [
        primaryKey(t.a, t.b, t.c),
        index('m_c_idx').on(t.c),
      ]),
    );
    const plan = await roundTrip(handle, a, b);
    expect(plan[0]!.up).toContain('ALTER INDEX m_old_idx RENAME TO m_c_idx');
  });

  it('timestamps mixin and an unchanged schema give no changes', async () => {
    const schema = s(table('t', { id: serial().primaryKey(), ...timestamps() }));
    await createFrom(handle.db, schema);
    const ir: SchemaIR = await introspect(handle.db);
    expect(diffSchemas(ir, ir)).toEqual([]);
  });
});
