/**
 * Type tests: checked by `npm run typecheck` (tsc), so wrong inference fails
 * the build. Nothing here runs.
 */
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import { expectTypeOf } from 'vitest';
import type { Ferry } from '../../src/connect.js';
import type { Repository } from '../../src/repo/repository.js';
import {
  bigint,
  boolean,
  bytea,
  type DatabaseOf,
  date,
  identity,
  integer,
  interval,
  jsonb,
  numeric,
  pgEnum,
  primaryKey,
  serial,
  table,
  text,
  timestamps,
  timestamptz,
  uuid,
  varchar,
} from '../../src/schema/index.js';

const tier = pgEnum('tier', ['free', 'pro']);
type Prefs = { theme: 'dark' | 'light'; units: string };

const users = table('users', {
  id: serial().primaryKey(),
  telegram_id: bigint().notNull().unique(),
  username: varchar(255),
  prefs: jsonb<Prefs>().notNull().default({ theme: 'dark', units: 'km' }),
  tier: tier().notNull().default('free'),
  tags: text().array(),
  balance: numeric(12, 2),
  born: date(),
  ...timestamps(),
});

const audit = table('audit', {
  seq: identity(),
  token: uuid().primaryKey().defaultRandom(),
  payload: bytea().notNull(),
  took: interval(),
  flag: boolean().notNull(),
  at: timestamptz().notNull(),
});

const memberships = table(
  'memberships',
  { user_id: integer().notNull(), group_id: integer().notNull(), role: text().notNull() },
  (t) => [primaryKey(t.user_id, t.group_id)],
);

// --- select
type User = typeof users.$inferSelect;
expectTypeOf<User>().toEqualTypeOf<{
  id: number;
  telegram_id: number;
  username: string | null;
  prefs: Prefs;
  tier: 'free' | 'pro';
  tags: string[] | null;
  balance: string | null;
  born: string | null;
  created_at: Date;
  updated_at: Date;
}>();

// --- insert: required only where NOT NULL and no default
type NewUser = typeof users.$inferInsert;
expectTypeOf<NewUser>().toEqualTypeOf<{
  telegram_id: number | bigint;
  id?: number;
  username?: string | null;
  prefs?: Prefs;
  tier?: 'free' | 'pro';
  tags?: string[] | null;
  balance?: string | number | null;
  born?: string | Date | null;
  created_at?: Date | string;
  updated_at?: Date | string;
}>();

// --- generated-always identity columns cannot be written
type NewAudit = typeof audit.$inferInsert;
expectTypeOf<NewAudit>().not.toHaveProperty('seq');
expectTypeOf<NewAudit>().toHaveProperty('payload').toEqualTypeOf<Uint8Array>();
expectTypeOf<typeof audit.$inferSelect>().toHaveProperty('seq').toEqualTypeOf<number>();
expectTypeOf<typeof audit.$inferUpdate>().not.toHaveProperty('seq');

// --- update: everything optional
expectTypeOf<typeof users.$inferUpdate>().toHaveProperty('tier').toEqualTypeOf<'free' | 'pro' | undefined>();

// --- the Kysely database type of a schema module
const schema = { users, audit, memberships, tier };
type DB = DatabaseOf<typeof schema>;
expectTypeOf<keyof DB>().toEqualTypeOf<'users' | 'audit' | 'memberships'>();
expectTypeOf<Selectable<DB['users']>>().toEqualTypeOf<User>();
expectTypeOf<Insertable<DB['users']>>().toHaveProperty('telegram_id').toEqualTypeOf<number | bigint>();
expectTypeOf<Updateable<DB['users']>>().toHaveProperty('username').toEqualTypeOf<string | null | undefined>();
expectTypeOf<Insertable<DB['audit']>>().not.toHaveProperty('seq');

declare const db: Kysely<DB>;
const q = db.selectFrom('users').select(['id', 'tier']).where('telegram_id', '=', 5);
expectTypeOf<Awaited<ReturnType<typeof q.executeTakeFirstOrThrow>>>().toEqualTypeOf<{
  id: number;
  tier: 'free' | 'pro';
}>();
// @ts-expect-error unknown column
db.selectFrom('users').select('nope');
// @ts-expect-error wrong enum value
db.insertInto('users').values({ telegram_id: 1, tier: 'gold' });
// @ts-expect-error missing required telegram_id
db.insertInto('users').values({ username: 'x' });

// --- repositories
declare const ferry: Ferry<DB>;
const repo = ferry.repo(users);
expectTypeOf(repo).toEqualTypeOf<Repository<typeof users>>();
expectTypeOf(repo.get).parameter(0).toEqualTypeOf<number>();
expectTypeOf<ReturnType<typeof repo.get>>().toEqualTypeOf<Promise<User | undefined>>();
expectTypeOf(ferry.repo(memberships).get).parameter(0).toMatchTypeOf<{ user_id?: number; group_id?: number }>();
// @ts-expect-error unknown column in a filter
repo.findOne({ nope: 1 });
// @ts-expect-error wrong value type in a filter
repo.findOne({ telegram_id: 'abc' });
// @ts-expect-error unknown order-by column
repo.findMany({ orderBy: { nope: 'asc' } });
// @ts-expect-error missing required column on insert
repo.insert({ username: 'x' });
expectTypeOf(repo.insert({ telegram_id: 1 })).resolves.toEqualTypeOf<User>();
expectTypeOf(repo.insert([{ telegram_id: 1 }])).resolves.toEqualTypeOf<User[]>();
repo.findMany({ where: (eb) => eb('username', 'ilike', '%a%'), orderBy: [['created_at', 'desc']], limit: 10 });
ferry.transaction(async (tx) => {
  expectTypeOf(tx.repo(users)).toEqualTypeOf<Repository<typeof users>>();
  await tx.db.selectFrom('audit').selectAll().execute();
});
