/**
 * Seed 000, "VIN Decoder Bot": Telegram users with JSON preferences and a
 * subscription tier, decoded vehicles kept in Postgres for 90 days
 * (`expires_at`), each user's VIN history, and the session tables that let
 * one-hour sessions survive a Redis outage (Postgres is their source of
 * truth, Redis their fast path).
 */

import {
  bigint,
  check,
  index,
  integer,
  jsonb,
  pgEnum,
  serial,
  sql,
  table,
  timestamps,
  timestamptz,
  varchar,
} from '../../src/index.js';
import { sessionTables } from '../../src/sessions/index.js';

export const subscriptionTier = pgEnum('subscription_tier', ['free', 'premium', 'enterprise']);

export interface UserPreferences {
  units?: 'km' | 'mi';
  language?: string;
  /** Show the full decoder payload instead of the summary. */
  verbose?: boolean;
}

export const users = table('users', {
  id: serial().primaryKey(),
  telegram_id: bigint().notNull().unique(),
  username: varchar(255).index(),
  first_name: varchar(255),
  last_name: varchar(255),
  preferences: jsonb<UserPreferences>().notNull().default({}),
  subscription_tier: subscriptionTier().notNull().default('free'),
  ...timestamps(),
});

/** What the decoder returned for a VIN; a row is trusted until `expires_at` (90 days after decoding). */
export const vehicles = table(
  'vehicles',
  {
    id: serial().primaryKey(),
    vin: varchar(17).notNull().unique(),
    make: varchar(100),
    model: varchar(100),
    year: integer(),
    raw_data: jsonb<Record<string, unknown>>().notNull().default({}),
    decoded_at: timestamptz().notNull().default(sql`now()`),
    expires_at: timestamptz().notNull().index(),
  },
  (t) => [check('ck_vehicles_vin_length', sql`length(${t.vin}) = 17`)],
);

export const userVinHistory = table(
  'user_vin_history',
  {
    id: serial().primaryKey(),
    user_id: integer()
      .notNull()
      .references(() => users.columns.id, { onDelete: 'cascade' }),
    vehicle_id: integer()
      .notNull()
      .references(() => vehicles.columns.id, { onDelete: 'cascade' }),
    vin: varchar(17).notNull(),
    looked_up_at: timestamptz().notNull().default(sql`now()`),
  },
  (t) => [index('ix_history_user_looked_up').on(t.user_id, t.looked_up_at)],
);

/**
 * Sessions keyed by the Telegram id (text), persisted so Redis is never their
 * only copy; the outbox holds revocations until Redis has them.
 */
export const { sessions, refreshTokens, sessionOutbox } = sessionTables();
