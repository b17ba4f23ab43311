/**
 * Seed 004, "ChatCore.AI": a chat platform moving off TinyDB. Users (unique,
 * casefolded usernames), their conversations and messages, login sessions,
 * JWT refresh tokens and company documents kept as JSONB.
 *
 * Keys are natural so a legacy record lands on the same row on every import:
 * users by casefolded username, conversations by their legacy id (kept when
 * it is a UUID, else a UUID derived from it), messages by
 * (conversation_id, content_hash) — the hash of role, content and timestamp,
 * so a message written twice collapses to one row — sessions by access_jti,
 * documents by a UUID derived from (doc_type, legacy id).
 *
 * sessions, refresh_tokens and session_outbox also back Ferry's session store
 * (service.ts): logins after the move live in the same tables as imported ones.
 */
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  table,
  text,
  timestamps,
  timestamptz,
  unique,
  uuid,
  varchar,
} from '../../src/index.js';

export const userRole = pgEnum('user_role', ['admin', 'user']);
export const messageRole = pgEnum('message_role', ['user', 'assistant', 'system']);

export const users = table('users', {
  id: uuid().primaryKey().defaultRandom(),
  /** Stored casefolded: "Alice" and "alice" are one account. */
  username: varchar(150).notNull().unique(),
  password_hash: varchar(255).notNull().sensitive(),
  role: userRole().notNull().default('user'),
  ...timestamps(),
});

export const conversations = table(
  'conversations',
  {
    id: uuid().primaryKey().defaultRandom(),
    user_id: uuid()
      .notNull()
      .references(() => users.columns.id, { onDelete: 'cascade' })
      .index(),
    title: varchar(500).notNull().default('New Conversation'),
    ...timestamps(),
  },
  (t) => [index('ix_conversations_updated_at').on(t.updated_at)],
);

export const messages = table(
  'messages',
  {
    id: bigserial().primaryKey(),
    conversation_id: uuid()
      .notNull()
      .references(() => conversations.columns.id, { onDelete: 'cascade' }),
    user_id: uuid()
      .notNull()
      .references(() => users.columns.id, { onDelete: 'cascade' })
      .index(),
    role: messageRole().notNull(),
    content: text().notNull(),
    /** Order inside the conversation (the legacy TinyDB doc id on import; max + 1 afterwards). */
    position: integer().notNull(),
    /** SHA-256 (hex) of role, content and timestamp: the duplicate detector. */
    content_hash: varchar(64).notNull(),
    created_at: timestamptz().notNull().defaultNow().index(),
  },
  (t) => [
    unique('uq_messages_conversation_hash').on(t.conversation_id, t.content_hash),
    unique('uq_messages_conversation_position').on(t.conversation_id, t.position),
  ],
);

/**
 * Login sessions, one per access token (keyed by its JWT id). The columns
 * `createSessionStore({ persist })` reads and writes are those of Ferry's
 * `sessionTables()` (data, version, revoked, revoked_at; expires_at, which the
 * store always sets); ip_address and user_agent are the seed's, filled by the
 * service after login and by the import. Declared here rather than taken from
 * `sessionTables()` so the table names stay literal types for Kysely and the
 * seed's columns stay. A session whose expires_at is null (an imported one
 * without it) is never live for the store.
 */
export const sessions = table(
  'sessions',
  {
    id: bigserial().primaryKey(),
    user_id: uuid()
      .notNull()
      .references(() => users.columns.id, { onDelete: 'cascade' })
      .index(),
    /** JWT id of the access token. */
    access_jti: varchar(64).notNull().unique(),
    ip_address: varchar(45),
    user_agent: text(),
    /** The session store's data (JSON) and its write counter. */
    data: jsonb<unknown>().notNull().default({}),
    version: bigint().notNull().default(1),
    created_at: timestamptz().notNull().defaultNow(),
    last_activity: timestamptz().notNull().defaultNow(),
    expires_at: timestamptz(),
    revoked: boolean().notNull().default(false),
    revoked_at: timestamptz(),
  },
  (t) => [index('ix_sessions_last_activity').on(t.last_activity)],
);

/** Refresh tokens (the columns of `sessionTables()`): only the SHA-256 is stored, each bound to its session's access_jti. */
export const refreshTokens = table('refresh_tokens', {
  id: bigserial().primaryKey(),
  user_id: uuid()
    .notNull()
    .references(() => users.columns.id, { onDelete: 'cascade' })
    .index(),
  /** SHA-256 of the token; the token itself is never stored. */
  token_hash: varchar(64).notNull().unique().sensitive(),
  /** The access_jti of the session the token belongs to. */
  session_jti: varchar(64),
  expires_at: timestamptz().notNull().index(),
  revoked: boolean().notNull().default(false).index(),
  revoked_at: timestamptz(),
  /** Hash of the token this one was exchanged for: presenting it again is a replay. */
  replaced_by: varchar(64),
  created_at: timestamptz().notNull().defaultNow(),
});

/**
 * Revocations Redis may not have yet (the session store's outbox: the shape of
 * `sessionTables().sessionOutbox`): a logout on an instance cut off from
 * Redis still reaches every other instance.
 */
export const sessionOutbox = table('session_outbox', {
  id: bigserial().primaryKey(),
  user_id: text().notNull(),
  access_jti: varchar(128).notNull(),
  expires_at: timestamptz().notNull(),
  created_at: timestamptz().notNull(),
});

export const documents = table(
  'documents',
  {
    id: uuid().primaryKey().defaultRandom(),
    /** employee, department, project, procedure */
    doc_type: varchar(50).notNull().index(),
    body: jsonb<Record<string, unknown>>().notNull(),
    created_at: timestamptz().notNull().defaultNow().index(),
    updated_at: timestamptz().notNull().defaultNow().$onUpdateNow(),
  },
  (t) => [index('ix_documents_body').using('gin').on(t.body)],
);
