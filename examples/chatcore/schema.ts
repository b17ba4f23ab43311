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
 */
import {
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
  password_hash: varchar(255).notNull(),
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
    created_at: timestamptz().notNull().defaultNow(),
    last_activity: timestamptz().notNull().defaultNow(),
    expires_at: timestamptz(),
  },
  (t) => [index('ix_sessions_last_activity').on(t.last_activity)],
);

export const refreshTokens = table('refresh_tokens', {
  id: bigserial().primaryKey(),
  user_id: uuid()
    .notNull()
    .references(() => users.columns.id, { onDelete: 'cascade' })
    .index(),
  /** SHA-256 of the token; the token itself is never stored. */
  token_hash: varchar(64).notNull().unique(),
  expires_at: timestamptz().notNull().index(),
  revoked: boolean().notNull().default(false).index(),
  revoked_at: timestamptz(),
  created_at: timestamptz().notNull().defaultNow(),
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
