/**
 * The bits of ChatCore's API layer that touch storage, on Ferry. Every method
 * runs in the scope it is given — the connection or a transaction.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { DatabaseOf, Row, Scope } from '../../src/index.js';
import type * as schema from './schema.js';
import { conversations, messages, users } from './schema.js';

type DB = DatabaseOf<typeof schema>;
export type User = Row<typeof users>;
export type Conversation = Row<typeof conversations>;
export type Message = Row<typeof messages>;
export type MessageRole = Message['role'];

/**
 * Unicode-aware case folding (ß → ss, Turkish İ, ligatures): the same folding
 * the import applies (`ctx.casefold`), so a migrated "Alice" logs in as "ALICE".
 */
export function casefold(value: string): string {
  return value.normalize('NFKC').toUpperCase().toLowerCase();
}

/** The duplicate detector: SHA-256 of role, content and time — the import's `ctx.hash(role, content, iso)`. */
export function contentHash(role: string, content: string, createdAt: Date): string {
  return createHash('sha256')
    .update(JSON.stringify([role, content, createdAt.toISOString()]))
    .digest('hex');
}

export class ChatService {
  constructor(private readonly scope: Scope<DB>) {}

  getUserByUsername(username: string): Promise<User | undefined> {
    return this.scope.repo(users).findOne({ username: casefold(username) });
  }

  createUser(input: { username: string; passwordHash: string; role?: User['role'] }): Promise<User> {
    return this.scope.repo(users).insert({
      username: casefold(input.username),
      password_hash: input.passwordHash,
      role: input.role ?? 'user',
    });
  }

  createConversation(userId: string, title?: string): Promise<Conversation> {
    return this.scope.repo(conversations).insert({ user_id: userId, ...(title ? { title } : {}) });
  }

  /** The user's conversations, most recently active first, a page at a time. */
  listConversations(userId: string, options: { limit?: number; cursor?: string } = {}) {
    return this.scope.repo(conversations).page({
      where: { user_id: userId },
      orderBy: { updated_at: 'desc' },
      limit: options.limit ?? 50,
      after: options.cursor,
    });
  }

  /**
   * Append a message: its position is one past the conversation's last,
   * decided under a lock on the conversation row so concurrent sends keep a
   * gap-free order. Touches the conversation's updated_at. Returns undefined
   * when the conversation is not the user's.
   */
  addMessage(input: {
    conversationId: string;
    userId: string;
    role: MessageRole;
    content: string;
  }): Promise<Message | undefined> {
    return this.scope.transaction(async (tx) => {
      const owned = await tx.db
        .selectFrom('conversations')
        .select('id')
        .where('id', '=', input.conversationId)
        .where('user_id', '=', input.userId)
        .forUpdate()
        .executeTakeFirst();
      if (!owned) return undefined;
      const { next } = await tx.db
        .selectFrom('messages')
        .select(sql<number>`coalesce(max(position), 0) + 1`.as('next'))
        .where('conversation_id', '=', input.conversationId)
        .executeTakeFirstOrThrow();
      const createdAt = new Date();
      const message = await tx.repo(messages).insert({
        conversation_id: input.conversationId,
        user_id: input.userId,
        role: input.role,
        content: input.content,
        position: Number(next),
        content_hash: contentHash(input.role, input.content, createdAt),
        created_at: createdAt,
      });
      await tx.db
        .updateTable('conversations')
        .set({ updated_at: createdAt })
        .where('id', '=', input.conversationId)
        .execute();
      return message;
    });
  }

  /** A conversation's messages in order. */
  listMessages(conversationId: string): Promise<Message[]> {
    return this.scope
      .repo(messages)
      .findMany({ where: { conversation_id: conversationId }, orderBy: { position: 'asc' } });
  }
}
