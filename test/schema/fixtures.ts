/** A schema that uses every column type, modifier and index kind, shared by the schema tests. */
import {
  bigint,
  bigserial,
  boolean,
  bytea,
  char,
  check,
  date,
  desc,
  doublePrecision,
  type ForeignKeyTarget,
  foreignKey,
  identity,
  index,
  integer,
  interval,
  json,
  jsonb,
  numeric,
  pgEnum,
  primaryKey,
  real,
  serial,
  smallint,
  sql,
  table,
  text,
  timestamp,
  timestamps,
  timestamptz,
  unique,
  uniqueIndex,
  uuid,
  varchar,
} from '../../src/schema/index.js';

export const tier = pgEnum('subscription_tier', ['free', 'pro', 'fleet']);
export const mood = pgEnum('Mood', ['happy', "it's ok"]);

export const accounts = table(
  'accounts',
  {
    id: serial().primaryKey(),
    email: varchar(320).notNull().unique(),
    handle: text().notNull(),
    tier: tier().notNull().default('free'),
    moods: mood().array(),
    parent_id: integer().references((): ForeignKeyTarget => accounts.columns.id, { onDelete: 'set null' }),
    balance: numeric(12, 2).notNull().default('0'),
    score: real(),
    ratio: doublePrecision(),
    small: smallint().check(sql`small >= 0`),
    big: bigint(),
    active: boolean().notNull().default(true),
    code: char(3),
    token: uuid().notNull().defaultRandom(),
    born: date(),
    seen: timestamp(),
    seen_tz: timestamptz({ precision: 3 }),
    ttl: interval().default('1 hour'),
    meta: json(),
    prefs: jsonb<{ theme: string }>().notNull().default({ theme: 'dark' }),
    avatar: bytea(),
    tags: text().array().notNull().default([]),
    order: integer(),
    ...timestamps(),
  },
  (t) => [
    index().on(t.handle),
    index('accounts_lower_handle_idx').on(sql`lower(${t.handle})`),
    index('accounts_active_created_idx').on(t.active, desc(t.created_at).nullsLast()),
    index('accounts_prefs_gin').using('gin').on(t.prefs),
    index('accounts_tags_gin').using('gin').on(t.tags),
    uniqueIndex('accounts_handle_live_key').on(t.handle).where(sql`active`),
    index('accounts_tier_cover_idx').on(t.tier).include(t.email),
    index('accounts_token_hash').using('hash').on(t.token),
    index('accounts_handle_fts').using('gist').on(sql`to_tsvector('simple', ${t.handle})`),
    index('accounts_created_brin').using('brin').on(t.created_at),
    check('accounts_balance_positive', sql`balance >= 0`),
  ],
);

export const events = table('events', {
  id: bigserial().primaryKey(),
  seq: identity(),
  account_id: integer()
    .notNull()
    .references(() => accounts.columns.id, { onDelete: 'cascade', onUpdate: 'cascade' }),
  happened_at: timestamptz().notNull().defaultNow(),
  kind: text().notNull(),
});

export const memberships = table(
  'memberships',
  {
    account_id: integer().notNull(),
    group_code: char(3).notNull(),
    role: text().notNull().default('member'),
  },
  (t) => [
    primaryKey(t.account_id, t.group_code),
    unique('memberships_role_key').on(t.account_id, t.role).nullsNotDistinct(),
    foreignKey({ columns: [t.account_id], references: () => [accounts.columns.id], onDelete: 'cascade' }),
  ],
);

export const grants = table(
  'grants',
  { account_id: integer().notNull(), group_code: char(3).notNull(), scope: text().notNull() },
  (t) => [
    primaryKey(t.account_id, t.group_code, t.scope),
    foreignKey({
      name: 'grants_membership_fkey',
      columns: [t.account_id, t.group_code],
      references: () => [memberships.columns.account_id, memberships.columns.group_code],
      onDelete: 'cascade',
    }),
  ],
);

/** Cases from real-world schemas: a table comment, a CURRENT_TIMESTAMP default, a foreign key onto a
 * column made unique only by a unique index, and a NULLS NOT DISTINCT unique index. */
export const tags = table(
  'tags',
  { code: text().notNull(), created: timestamp().default(sql`CURRENT_TIMESTAMP`) },
  (t) => [uniqueIndex('tags_code_uidx').on(t.code)],
).comment('schema version 7');

export const tagLinks = table(
  'tag_links',
  {
    account_id: integer(),
    tag: text()
      .notNull()
      .references(() => tags.columns.code, { onDelete: 'cascade' }),
  },
  (t) => [uniqueIndex('tag_links_nnd_idx').on(t.account_id, t.tag).nullsNotDistinct()],
);
