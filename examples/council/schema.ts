/**
 * Seed 003, "LLM Council": conversations of a multi-model chat app, kept as
 * `data/<user_id>/<conversation_id>.json` with the messages inline, plus a
 * usage record per user. Assistant messages carry the three council stages
 * (individual answers, peer rankings, the chairman's synthesis) as JSON.
 *
 * Natural keys make the import idempotent: conversations keep their UUID
 * string id, messages are keyed by (conversation_id, position) — their index
 * in the legacy file — and usage by user_id.
 */
import {
  check,
  date,
  desc,
  index,
  integer,
  jsonb,
  pgEnum,
  serial,
  sql,
  table,
  text,
  timestamps,
  timestamptz,
  unique,
  varchar,
} from '../../src/index.js';

export const usageTier = pgEnum('usage_tier', ['free', 'pro', 'enterprise']);

/** Stage 1: each council model's own answer. */
export type Stage1 = { model: string; response: string }[];
/** Stage 2: each model ranks the anonymised answers. */
export type Stage2 = { model: string; ranking: string; parsed_ranking: string[] }[];
/** Stage 3: the chairman's final answer. */
export type Stage3 = { model: string; response: string };
export type MessageMetadata = {
  label_to_model?: Record<string, string>;
  aggregate_rankings?: { model: string; average_rank: number; rankings_count: number }[];
  [key: string]: unknown;
};

export const conversations = table(
  'conversations',
  {
    /** A UUID string, as the JSON files name them. */
    id: varchar(36).primaryKey(),
    /** The Firebase uid. */
    user_id: varchar(128).notNull().index('idx_conversations_user_id'),
    title: varchar(500).notNull().default('New Conversation'),
    ...timestamps(),
  },
  (t) => [
    index('idx_conversations_created_at').on(t.created_at),
    index('idx_conversations_user_created').on(t.user_id, desc(t.created_at)),
  ],
);

export const messages = table(
  'messages',
  {
    id: serial().primaryKey(),
    conversation_id: varchar(36)
      .notNull()
      .references(() => conversations.columns.id, { onDelete: 'cascade' }),
    /** Index of the message in its conversation, from 0. */
    position: integer().notNull(),
    role: varchar(20).notNull(),
    /** User messages. */
    content: text(),
    /** Assistant messages. */
    stage1_data: jsonb<Stage1>(),
    stage2_data: jsonb<Stage2>(),
    stage3_data: jsonb<Stage3>(),
    metadata: jsonb<MessageMetadata>(),
    created_at: timestamptz().notNull().defaultNow().index('idx_messages_created_at'),
  },
  (t) => [
    unique('uq_messages_conversation_position').on(t.conversation_id, t.position),
    check('ck_messages_role', sql`${t.role}::text IN ('user', 'assistant')`),
  ],
);

export const usage = table('usage', {
  id: serial().primaryKey(),
  user_id: varchar(128).notNull().unique(),
  tier: usageTier().notNull().default('free'),
  daily_used: integer().notNull().default(0),
  daily_limit: integer().notNull().default(10),
  monthly_used: integer().notNull().default(0),
  monthly_limit: integer().notNull().default(100),
  total_queries: integer().notNull().default(0),
  last_reset_daily: date().notNull().default(sql`CURRENT_DATE`),
  last_reset_monthly: date().notNull().default(sql`CURRENT_DATE`),
  ...timestamps(),
});
