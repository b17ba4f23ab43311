/**
 * The seed's storage interface (`storage.py`: "unchanged API", two backends
 * behind it) as one TypeScript type. `CouncilStorage` (storage.ts) implements
 * it on Postgres or the embedded PGlite through Ferry; `JsonCouncilStorage`
 * (storage-json.ts) on the seed's folder of JSON files. `openCouncilStorage`
 * (open-storage.ts) picks one the way the seed did.
 *
 * Every call is scoped to a user (the seed's data-isolation rule): "not
 * found" — including someone else's conversation — is `null` / `false`, never
 * an error.
 */
import type { MessageMetadata, Stage1, Stage2, Stage3 } from './schema.js';

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

export type Tier = 'free' | 'pro' | 'enterprise';

/** A user's `usage` row (the seed's usage file), as stored. */
export interface UsageRecord {
  userId: string;
  tier: Tier;
  dailyUsed: number;
  dailyLimit: number;
  monthlyUsed: number;
  monthlyLimit: number;
  totalQueries: number;
  /** `YYYY-MM-DD` (UTC). */
  lastResetDaily: string;
  /** `YYYY-MM-DD` (UTC); any day of the month the monthly counter last restarted. */
  lastResetMonthly: string;
}

export interface UsageCounter {
  used: number;
  limit: number;
}

/** What `checkAndIncrementUsage` decided. */
export interface QuotaResult {
  allowed: boolean;
  /** The counters after the call (refused calls count nothing). */
  daily: UsageCounter;
  monthly: UsageCounter;
  /** Refused: the limit that refused (monthly when both are full). Allowed: null. */
  limitedBy: 'daily' | 'monthly' | null;
  /**
   * When the limit that matters resets: refused by the monthly limit, the 1st
   * of next month 00:00 UTC; otherwise the next 00:00 UTC.
   */
  resetsAt: Date;
}

export interface UsageLimits {
  tier?: Tier;
  dailyLimit?: number;
  monthlyLimit?: number;
}

export interface CouncilStore {
  createConversation(userId: string, conversationId?: string): Promise<Conversation>;
  getConversation(conversationId: string, userId: string): Promise<Conversation | null>;
  /** Write the whole conversation (title and messages), creating it if new. False when the id is another user's. */
  saveConversation(conversation: Conversation, userId: string): Promise<boolean>;
  /** The user's conversations, newest first (50 at most by default). */
  listConversations(userId: string, options?: { limit?: number }): Promise<ConversationSummary[]>;
  addUserMessage(conversationId: string, content: string, userId: string): Promise<boolean>;
  addAssistantMessage(
    conversationId: string,
    stage1: Stage1,
    stage2: Stage2,
    stage3: Stage3,
    userId: string,
    metadata?: MessageMetadata | null,
  ): Promise<boolean>;
  updateConversationTitle(conversationId: string, title: string, userId: string): Promise<boolean>;
  deleteConversation(conversationId: string, userId: string): Promise<boolean>;

  /**
   * Count one query against the user's daily and monthly limits, atomically:
   * allowed (and counted) only while both counters are below their limits,
   * after restarting the daily counter on a new UTC day and the monthly one
   * on a new UTC month. A user without a usage row gets one (free tier).
   */
  checkAndIncrementUsage(userId: string, now?: Date): Promise<QuotaResult>;
  /** The stored usage row, or null (no reset applied: see `quotaView`). */
  getUsage(userId: string): Promise<UsageRecord | null>;
  /** Set a user's tier and limits, creating the row when missing; the counters are kept. */
  setUsageLimits(userId: string, limits: UsageLimits, now?: Date): Promise<UsageRecord>;
}
