/** Tables for the repository contract suite. */
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  primaryKey,
  serial,
  table,
  text,
  timestamps,
  varchar,
} from '../../src/schema/index.js';

export const tier = pgEnum('tier', ['free', 'pro']);

export const users = table(
  'users',
  {
    id: serial().primaryKey(),
    telegram_id: bigint().notNull().unique(),
    username: varchar(32),
    tier: tier().notNull().default('free'),
    score: integer().notNull().default(0),
    prefs: jsonb<unknown>(),
    is_active: boolean().notNull().default(true),
    ...timestamps(),
  },
  (t) => [index().on(t.is_active, t.created_at)],
);

export const posts = table('posts', {
  id: serial().primaryKey(),
  user_id: integer()
    .notNull()
    .references(() => users.columns.id, { onDelete: 'cascade' }),
  body: text().notNull(),
  task: integer(),
});

export const memberships = table(
  'memberships',
  { user_id: integer().notNull(), group_id: integer().notNull(), role: text().notNull().default('member') },
  (t) => [primaryKey(t.user_id, t.group_id)],
);
