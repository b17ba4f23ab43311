/**
 * The seed's storage interface (`storage_postgres.py`) on Ferry: the same
 * functions and the same dict shapes, camelCased. Every query is filtered by
 * the user's id (the seed's data-isolation rule); "not found" — including a
 * conversation that is someone else's — is `null` / `false`, never an error.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { DatabaseOf, Row, Scope } from '../../src/index.js';
import type * as schema from './schema.js';
import { conversations, type MessageMetadata, messages, type Stage1, type Stage2, type Stage3 } from './schema.js';

type DB = DatabaseOf<typeof schema>;
type MessageRow = Row<typeof messages>;

export type UserMessage = { role: 'user'; content: string };
export type AssistantMessage = {
  role: 'assistant';
  stage1: Stage1;
  stage2: Stage2;
  stage3: Stage3;
  metadata?: MessageMetadata;
};
export type Message = UserMessage | AssistantMessage;

export interface Conversation {
  id: string;
  userId: string;
  title: string;
  /** ISO 8601, as the JSON files had it. */
  createdAt: string;
  messages: Message[];
}

export interface ConversationSummary {
  id: string;
  createdAt: string;
  title: string;
  messageCount: number;
}

export class CouncilStorage {
  constructor(private readonly scope: Scope<DB>) {}

  async createConversation(userId: string, conversationId?: string): Promise<Conversation> {
    const row = await this.scope.repo(conversations).insert({ id: conversationId ?? randomUUID(), user_id: userId });
    return { id: row.id, userId: row.user_id, title: row.title, createdAt: row.created_at.toISOString(), messages: [] };
  }

  async getConversation(conversationId: string, userId: string): Promise<Conversation | null> {
    const row = await this.scope.repo(conversations).findOne({ id: conversationId, user_id: userId });
    if (!row) return null;
    const rows = await this.scope.repo(messages).findMany({
      where: { conversation_id: conversationId },
      orderBy: { position: 'asc' },
    });
    return {
      id: row.id,
      userId: row.user_id,
      title: row.title,
      createdAt: row.created_at.toISOString(),
      messages: rows.map(toMessage),
    };
  }

  /**
   * Write the whole conversation (title and messages), creating it if new.
   * False when the id belongs to another user.
   */
  saveConversation(conversation: Conversation, userId: string): Promise<boolean> {
    return this.scope.transaction(async (tx) => {
      const existing = await tx.db
        .selectFrom('conversations')
        .select('user_id')
        .where('id', '=', conversation.id)
        .forUpdate()
        .executeTakeFirst();
      if (existing && existing.user_id !== userId) return false;
      if (existing) {
        await tx.repo(conversations).update(conversation.id, { title: conversation.title });
        await tx.repo(messages).delete({ conversation_id: conversation.id });
      } else {
        await tx.repo(conversations).insert({
          id: conversation.id,
          user_id: userId,
          title: conversation.title,
          created_at: new Date(conversation.createdAt),
        });
      }
      if (conversation.messages.length > 0) {
        await tx.repo(messages).insert(conversation.messages.map((m, position) => toRow(conversation.id, position, m)));
      }
      return true;
    });
  }

  /** The user's conversations, newest first (the seed's list view: 50 at most by default). */
  async listConversations(userId: string, options: { limit?: number } = {}): Promise<ConversationSummary[]> {
    const rows = await this.scope.db
      .selectFrom('conversations as c')
      .select(['c.id', 'c.created_at', 'c.title'])
      .select((eb) =>
        eb
          .selectFrom('messages as m')
          .select(sql<number>`count(*)::int`.as('n'))
          .whereRef('m.conversation_id', '=', 'c.id')
          .as('message_count'),
      )
      .where('c.user_id', '=', userId)
      .orderBy('c.created_at', 'desc')
      .orderBy('c.id')
      .limit(options.limit ?? 50)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      createdAt: r.created_at.toISOString(),
      title: r.title,
      messageCount: Number(r.message_count ?? 0),
    }));
  }

  addUserMessage(conversationId: string, content: string, userId: string): Promise<boolean> {
    return this.#append(conversationId, userId, { role: 'user', content });
  }

  addAssistantMessage(
    conversationId: string,
    stage1: Stage1,
    stage2: Stage2,
    stage3: Stage3,
    userId: string,
    metadata?: MessageMetadata | null,
  ): Promise<boolean> {
    return this.#append(conversationId, userId, {
      role: 'assistant',
      stage1,
      stage2,
      stage3,
      ...(metadata ? { metadata } : {}),
    });
  }

  async updateConversationTitle(conversationId: string, title: string, userId: string): Promise<boolean> {
    const rows = await this.scope.repo(conversations).update({ id: conversationId, user_id: userId }, { title });
    return rows.length > 0;
  }

  async deleteConversation(conversationId: string, userId: string): Promise<boolean> {
    // Messages go with it (ON DELETE CASCADE).
    return (await this.scope.repo(conversations).delete({ id: conversationId, user_id: userId })) > 0;
  }

  /** Append under a lock on the conversation row: concurrent appends get consecutive positions. */
  #append(conversationId: string, userId: string, message: Message): Promise<boolean> {
    return this.scope.transaction(async (tx) => {
      const owned = await tx.db
        .selectFrom('conversations')
        .select('id')
        .where('id', '=', conversationId)
        .where('user_id', '=', userId)
        .forUpdate()
        .executeTakeFirst();
      if (!owned) return false;
      const { next } = await tx.db
        .selectFrom('messages')
        .select(sql<number>`coalesce(max(position) + 1, 0)::int`.as('next'))
        .where('conversation_id', '=', conversationId)
        .executeTakeFirstOrThrow();
      await tx.repo(messages).insert(toRow(conversationId, Number(next), message));
      await tx.db
        .updateTable('conversations')
        .set({ updated_at: new Date() })
        .where('id', '=', conversationId)
        .execute();
      return true;
    });
  }
}

function toRow(conversationId: string, position: number, m: Message): typeof messages.$inferInsert {
  return m.role === 'user'
    ? { conversation_id: conversationId, position, role: 'user', content: m.content }
    : {
        conversation_id: conversationId,
        position,
        role: 'assistant',
        stage1_data: m.stage1,
        stage2_data: m.stage2,
        stage3_data: m.stage3,
        metadata: m.metadata ?? null,
      };
}

function toMessage(row: MessageRow): Message {
  if (row.role === 'user') return { role: 'user', content: row.content ?? '' };
  return {
    role: 'assistant',
    stage1: row.stage1_data as Stage1,
    stage2: row.stage2_data as Stage2,
    stage3: row.stage3_data as Stage3,
    ...(row.metadata ? { metadata: row.metadata } : {}),
  };
}
