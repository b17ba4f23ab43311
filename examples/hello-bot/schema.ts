/**
 * Seed 002, "Hello Bot": Telegram users with the timestamps mixin, a unique
 * and indexed telegram_id, an indexed username and the seed's two composite
 * indexes for its common queries.
 */
import { bigint, boolean, index, serial, table, timestamps, varchar } from '../../src/index.js';

export const users = table(
  'users',
  {
    id: serial().primaryKey(),
    telegram_id: bigint().notNull().unique(),
    username: varchar(255).index(),
    first_name: varchar(255),
    last_name: varchar(255),
    is_active: boolean().notNull().default(true),
    language_code: varchar(10),
    ...timestamps(),
  },
  (t) => [
    index('ix_user_active_created').on(t.is_active, t.created_at),
    index('ix_user_telegram_active').on(t.telegram_id, t.is_active),
  ],
);
