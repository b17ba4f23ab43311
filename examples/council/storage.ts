/**
 * The seed's storage interface (`storage_postgres.py`) on Ferry: the same
 * functions and the same dict shapes, camelCased (`CouncilStore`, store.ts;
 * the JSON-file implementation is storage-json.ts). Every query is filtered by
 * the user's id (the seed's data-isolation rule); "not found" — including a
 * conversation that is someone else's — is `null` / `false`, never an error.
 * The quota check-and-increment is one SQL statement (`checkAndIncrementUsage`).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { DatabaseOf, Row, Scope } from '../../src/index.js';
import { quotaResult, utcDay, utcMonthStart } from './quota.js';
import type * as schema from './schema.js';
import {
  conversations,
  type MessageMetadata,
  messages,
  type Stage1,
  type Stage2,
  type Stage3,
  usage,
} from './schema.js';
import type {
  Conversation,
  ConversationSummary,
  CouncilStore,
  Message,
  QuotaResult,
  UsageLimits,
  UsageRecord,
} from './store.js';

export type {
  AssistantMessage,
  Conversation,
  ConversationSummary,
  CouncilStore,
  Message,
  QuotaResult,
  UsageRecord,
  UserMessage,
} from './store.js';

type DB = DatabaseOf<typeof schema>;
type MessageRow = Row<typeof messages>;
type UsageRow = Row<typeof usage>;

export class CouncilStorage implements CouncilStore {
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

  /**
   * One statement decides and counts: INSERT … ON CONFLICT DO UPDATE … WHERE
   * counts only while both counters (after a due reset) are below their
   * limits. ON CONFLICT locks the row and re-evaluates the WHERE on its latest
   * version, so concurrent calls queue on the row and exactly `limit` of them
   * win, on any number of connections. Refused calls change nothing.
   *
   * A refused call reports the counters from the statement's own snapshot
   * (the second branch of the UNION); when a concurrent call committed after
   * that snapshot was taken, the snapshot can lag (or, for a brand-new user,
   * miss the row), and only then the counters are read again for the report.
   * The decision itself is never re-made.
   */
  async checkAndIncrementUsage(userId: string, now: Date = new Date()): Promise<QuotaResult> {
    const today = utcDay(now);
    const month = utcMonthStart(now);
    const dailyDue = sql<boolean>`u.last_reset_daily < ${today}::date`;
    const monthlyDue = sql<boolean>`u.last_reset_monthly < ${month}::date`;
    const { rows } = await sql<QuotaRow>`
      with hit as (
        insert into usage as u (user_id, daily_used, monthly_used, total_queries, last_reset_daily, last_reset_monthly)
        values (${userId}, 1, 1, 1, ${today}::date, ${month}::date)
        on conflict (user_id) do update set
          daily_used = case when ${dailyDue} then 1 else u.daily_used + 1 end,
          monthly_used = case when ${monthlyDue} then 1 else u.monthly_used + 1 end,
          total_queries = u.total_queries + 1,
          last_reset_daily = case when ${dailyDue} then ${today}::date else u.last_reset_daily end,
          last_reset_monthly = case when ${monthlyDue} then ${month}::date else u.last_reset_monthly end,
          updated_at = now()
        where (case when ${dailyDue} then 0 else u.daily_used end) < u.daily_limit
          and (case when ${monthlyDue} then 0 else u.monthly_used end) < u.monthly_limit
        returning true as allowed, u.daily_used, u.daily_limit, u.monthly_used, u.monthly_limit
      )
      select * from hit
      union all
      select false, case when ${dailyDue} then 0 else u.daily_used end, u.daily_limit,
             case when ${monthlyDue} then 0 else u.monthly_used end, u.monthly_limit
        from usage as u
       where u.user_id = ${userId} and not exists (select 1 from hit)`.execute(this.scope.db);
    const row = rows[0];
    if (row?.allowed) return quotaResult(true, camel(row), now);
    if (row && (row.daily_used >= row.daily_limit || row.monthly_used >= row.monthly_limit)) {
      return quotaResult(false, camel(row), now);
    }
    // Refused on a version newer than this statement's snapshot: read it for the report.
    const { rows: fresh } = await sql<Omit<QuotaRow, 'allowed'>>`
      select case when ${dailyDue} then 0 else u.daily_used end as daily_used, u.daily_limit,
             case when ${monthlyDue} then 0 else u.monthly_used end as monthly_used, u.monthly_limit
        from usage as u where u.user_id = ${userId}`.execute(this.scope.db);
    return quotaResult(
      false,
      camel(fresh[0] ?? row ?? { daily_used: 0, daily_limit: 0, monthly_used: 0, monthly_limit: 0 }),
      now,
    );
  }

  async getUsage(userId: string): Promise<UsageRecord | null> {
    const row = await this.scope.repo(usage).findOne({ user_id: userId });
    return row ? toUsage(row) : null;
  }

  async setUsageLimits(userId: string, limits: UsageLimits, now: Date = new Date()): Promise<UsageRecord> {
    const patch = {
      ...(limits.tier === undefined ? {} : { tier: limits.tier }),
      ...(limits.dailyLimit === undefined ? {} : { daily_limit: limits.dailyLimit }),
      ...(limits.monthlyLimit === undefined ? {} : { monthly_limit: limits.monthlyLimit }),
    };
    const row = await this.scope.db
      .insertInto('usage')
      .values({ user_id: userId, last_reset_daily: utcDay(now), last_reset_monthly: utcMonthStart(now), ...patch })
      .onConflict((oc) =>
        Object.keys(patch).length === 0
          ? oc.column('user_id').doUpdateSet({ user_id: (eb) => eb.ref('excluded.user_id') })
          : oc.column('user_id').doUpdateSet(patch),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toUsage(row as UsageRow);
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

type QuotaRow = {
  allowed: boolean;
  daily_used: number;
  daily_limit: number;
  monthly_used: number;
  monthly_limit: number;
};

function camel(row: Omit<QuotaRow, 'allowed'>) {
  return {
    dailyUsed: row.daily_used,
    dailyLimit: row.daily_limit,
    monthlyUsed: row.monthly_used,
    monthlyLimit: row.monthly_limit,
  };
}

function toUsage(row: UsageRow): UsageRecord {
  return {
    userId: row.user_id,
    tier: row.tier,
    dailyUsed: row.daily_used,
    dailyLimit: row.daily_limit,
    monthlyUsed: row.monthly_used,
    monthlyLimit: row.monthly_limit,
    totalQueries: row.total_queries,
    lastResetDaily: row.last_reset_daily,
    lastResetMonthly: row.last_reset_monthly,
  };
}
