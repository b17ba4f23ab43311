/**
 * The Postgres tables behind `createSessionStore({ persist })`, in Ferry's
 * schema DSL, shaped like seed 004's `sessions` and `refresh_tokens`. Export
 * them from the app's schema module so migrations create them:
 *
 *   // schema.ts
 *   import { sessionTables, uuid } from 'ferry';
 *   export const users = table('users', { id: uuid().primaryKey().defaultRandom(), ... });
 *   export const { sessions, refreshTokens, sessionOutbox } = sessionTables({
 *     userId: uuid().notNull().references(() => users.columns.id, { onDelete: 'cascade' }),
 *   });
 *
 * `user_id` is `text` unless `userId` gives another column (uuid, bigint...):
 * the store passes user ids as strings and Postgres casts them.
 *
 * `session_outbox` holds revocations Redis may not have yet (see outbox.ts):
 * written in the same statement as the revocation, deleted once Redis has
 * it. Its `user_id` is always text (the store's form of a user id) and has no
 * foreign key: a row must outlive nothing but the Redis copy it shadows.
 */
import { bigint, bigserial, boolean, type ColumnBuilder, jsonb, text, timestamptz, varchar } from '../schema/column.js';
import { index, table } from '../schema/table.js';

export interface SessionTablesOptions<U extends ColumnBuilder<any>> {
  /** The `user_id` column (both tables); default `text().notNull()`. Make it NOT NULL. */
  userId?: U;
  /** Table names; default `sessions`, `refresh_tokens` and `session_outbox`. */
  names?: { sessions?: string; refreshTokens?: string; sessionOutbox?: string };
}

export function sessionTables<U extends ColumnBuilder<any> = ReturnType<typeof defaultUserId>>(
  options: SessionTablesOptions<U> = {},
) {
  const userId = (options.userId ?? defaultUserId()) as U;
  const sessionsName = options.names?.sessions ?? 'sessions';
  const refreshName = options.names?.refreshTokens ?? 'refresh_tokens';
  const outboxName = options.names?.sessionOutbox ?? 'session_outbox';
  const sessions = table(
    sessionsName,
    {
      id: bigserial().primaryKey(),
      user_id: userId.index(),
      /** The session id's random part (the access token's JWT id). */
      access_jti: varchar(128).notNull().unique(),
      /** The session's data, as JSON. */
      data: jsonb<unknown>().notNull().default({}),
      /** Bumped by every data write: a late write never overwrites a newer one. */
      version: bigint().notNull().default(1),
      created_at: timestamptz().notNull(),
      last_activity: timestamptz().notNull(),
      expires_at: timestamptz().notNull().index(),
      revoked: boolean().notNull().default(false),
      revoked_at: timestamptz(),
    },
    (t) => [index(`ix_${sessionsName}_last_activity`).on(t.last_activity)],
  );
  const refreshTokens = table(refreshName, {
    id: bigserial().primaryKey(),
    user_id: userId.index(),
    /** SHA-256 (hex) of the token; the token itself is never stored. */
    token_hash: varchar(64).notNull().unique(),
    /** The session the token belongs to (its access_jti), if any. */
    session_jti: varchar(128),
    expires_at: timestamptz().notNull().index(),
    revoked: boolean().notNull().default(false).index(),
    revoked_at: timestamptz(),
    /** Set when the token was exchanged for a new one (reuse of a rotated token revokes the user's sessions). */
    replaced_by: varchar(64),
    created_at: timestamptz().notNull(),
  });
  const sessionOutbox = table(outboxName, {
    id: bigserial().primaryKey(),
    user_id: text().notNull(),
    access_jti: varchar(128).notNull(),
    /** After this the row is useless (no Redis copy of the session can be live) and any instance deletes it. */
    expires_at: timestamptz().notNull(),
    created_at: timestamptz().notNull(),
  });
  return { sessions, refreshTokens, sessionOutbox } as const;
}

function defaultUserId() {
  return text().notNull();
}

/** The default tables (`user_id text`), for apps that need no foreign key to users. */
export const { sessions, refreshTokens, sessionOutbox } = sessionTables();

export type SessionsTable = ReturnType<typeof sessionTables>['sessions'];
export type RefreshTokensTable = ReturnType<typeof sessionTables>['refreshTokens'];
export type SessionOutboxTable = ReturnType<typeof sessionTables>['sessionOutbox'];
