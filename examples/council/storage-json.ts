/**
 * The seed's `storage_json.py` — the local-development backend — as a second
 * implementation of `CouncilStore`: one JSON file per conversation,
 * `<dir>/<user_id>/<conversation_id>.json` (messages inline), and one usage
 * file per user, `<dir>/usage/<user_id>.json`: the shapes generate.ts writes
 * and import.ts reads, so a folder this store wrote imports as is.
 *
 * SINGLE-PROCESS, like the seed. Every write goes to a temporary file that is
 * renamed over the old one (a reader never sees half a file, a crash never
 * leaves one), and read-modify-write sequences (appending a message, counting
 * a query) run one at a time per file through an in-process queue, so
 * concurrent requests in this process cannot lose an update or overshoot a
 * limit. Two processes on the same folder can: that is what Postgres is for.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../../src/index.js';
import { DEFAULT_LIMITS, decideQuota, newUsage } from './quota.js';
import type { MessageMetadata, Stage1, Stage2, Stage3 } from './schema.js';
import type {
  Conversation,
  ConversationSummary,
  CouncilStore,
  Message,
  QuotaResult,
  Tier,
  UsageLimits,
  UsageRecord,
} from './store.js';

/** A conversation file as the Python app wrote it. */
interface ConversationFile {
  id: string;
  user_id?: string;
  title?: string;
  created_at: string;
  updated_at?: string;
  messages?: Message[];
}

/** A usage file as the Python app wrote it. */
interface UsageFile {
  user_id: string;
  tier: Tier;
  daily_used: number;
  daily_limit: number;
  monthly_used: number;
  monthly_limit: number;
  total_queries: number;
  last_reset_daily: string;
  last_reset_monthly: string;
}

/** Names that are safe as one path segment (Firebase uids, UUIDs); `usage` is the usage folder. */
const SAFE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;
const safe = (name: string) => SAFE.test(name) && !name.includes('..');
const safeUser = (name: string) => safe(name) && name !== 'usage';

export class JsonCouncilStorage implements CouncilStore {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  async createConversation(userId: string, conversationId?: string): Promise<Conversation> {
    const id = conversationId ?? randomUUID();
    this.#checkNames(userId, id);
    return withLock(this.#file(userId, id), async () => {
      if (await this.#owner(id)) {
        throw new FerryError('E_CONSTRAINT', `conversation ${id} already exists`, {
          details: { sqlstate: '23505', table: 'conversations', constraint: 'conversations_pkey', column: 'id' },
        });
      }
      const now = new Date().toISOString();
      const doc: ConversationFile = {
        id,
        user_id: userId,
        title: 'New Conversation',
        created_at: now,
        updated_at: now,
        messages: [],
      };
      await writeJson(this.#file(userId, id), doc);
      return fromFile(doc, userId);
    });
  }

  async getConversation(conversationId: string, userId: string): Promise<Conversation | null> {
    if (!safeUser(userId) || !safe(conversationId)) return null;
    const doc = await readJson<ConversationFile>(this.#file(userId, conversationId));
    return doc ? fromFile(doc, userId) : null;
  }

  async saveConversation(conversation: Conversation, userId: string): Promise<boolean> {
    if (!safeUser(userId) || !safe(conversation.id)) return false;
    const file = this.#file(userId, conversation.id);
    return withLock(file, async () => {
      const existing = await readJson<ConversationFile>(file);
      if (!existing) {
        const owner = await this.#owner(conversation.id);
        if (owner && owner !== userId) return false;
      }
      await writeJson(file, {
        id: conversation.id,
        user_id: userId,
        title: conversation.title,
        created_at: existing?.created_at ?? new Date(conversation.createdAt).toISOString(),
        updated_at: new Date().toISOString(),
        messages: conversation.messages,
      } satisfies ConversationFile);
      return true;
    });
  }

  async listConversations(userId: string, options: { limit?: number } = {}): Promise<ConversationSummary[]> {
    if (!safeUser(userId)) return [];
    const folder = path.join(this.dir, userId);
    const names = (await readdir(folder).catch(missingAs([]))).filter((n) => n.endsWith('.json'));
    const docs = await Promise.all(names.map((n) => readJson<ConversationFile>(path.join(folder, n))));
    return docs
      .filter((d): d is ConversationFile => d !== null)
      .map((d) => ({
        id: d.id,
        createdAt: isoUtc(d.created_at),
        title: d.title || 'New Conversation',
        messageCount: d.messages?.length ?? 0,
      }))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(0, options.limit ?? 50);
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

  updateConversationTitle(conversationId: string, title: string, userId: string): Promise<boolean> {
    return this.#update(conversationId, userId, (doc) => {
      doc.title = title;
    });
  }

  async deleteConversation(conversationId: string, userId: string): Promise<boolean> {
    if (!safeUser(userId) || !safe(conversationId)) return false;
    const file = this.#file(userId, conversationId);
    return withLock(file, () =>
      rm(file).then(
        () => true,
        (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? false : Promise.reject(err)),
      ),
    );
  }

  /** The same rules as the Postgres statement (quota.ts), one call at a time per user in this process. */
  async checkAndIncrementUsage(userId: string, now: Date = new Date()): Promise<QuotaResult> {
    this.#checkNames(userId);
    const file = this.#usageFile(userId);
    return withLock(file, async () => {
      const { write, result } = decideQuota(await this.getUsage(userId), userId, now);
      if (write) await writeJson(file, toUsageFile(write));
      return result;
    });
  }

  async getUsage(userId: string): Promise<UsageRecord | null> {
    if (!safeUser(userId)) return null;
    const doc = await readJson<Partial<UsageFile>>(this.#usageFile(userId));
    if (!doc) return null;
    // Files of older versions lack fields: the seed's defaults (the schema's).
    const fresh = newUsage(userId, new Date());
    return {
      userId,
      tier: doc.tier ?? DEFAULT_LIMITS.tier,
      dailyUsed: doc.daily_used ?? 0,
      dailyLimit: doc.daily_limit ?? DEFAULT_LIMITS.dailyLimit,
      monthlyUsed: doc.monthly_used ?? 0,
      monthlyLimit: doc.monthly_limit ?? DEFAULT_LIMITS.monthlyLimit,
      totalQueries: doc.total_queries ?? 0,
      lastResetDaily: doc.last_reset_daily?.slice(0, 10) ?? fresh.lastResetDaily,
      lastResetMonthly: doc.last_reset_monthly?.slice(0, 10) ?? fresh.lastResetMonthly,
    };
  }

  async setUsageLimits(userId: string, limits: UsageLimits, now: Date = new Date()): Promise<UsageRecord> {
    this.#checkNames(userId);
    const file = this.#usageFile(userId);
    return withLock(file, async () => {
      const record: UsageRecord = { ...((await this.getUsage(userId)) ?? newUsage(userId, now)) };
      if (limits.tier !== undefined) record.tier = limits.tier;
      if (limits.dailyLimit !== undefined) record.dailyLimit = limits.dailyLimit;
      if (limits.monthlyLimit !== undefined) record.monthlyLimit = limits.monthlyLimit;
      await writeJson(file, toUsageFile(record));
      return record;
    });
  }

  #file(userId: string, conversationId: string): string {
    return path.join(this.dir, userId, `${conversationId}.json`);
  }

  #usageFile(userId: string): string {
    return path.join(this.dir, 'usage', `${userId}.json`);
  }

  #checkNames(userId: string, conversationId?: string): void {
    if (!safeUser(userId) || (conversationId !== undefined && !safe(conversationId))) {
      throw new FerryError(
        'E_BAD_ARGUMENT',
        `JSON storage: user and conversation ids must be letters, digits, "_", "-" or "." (not "usage"), got ${JSON.stringify(conversationId === undefined ? userId : `${userId}/${conversationId}`)}`,
      );
    }
  }

  /** Whose folder holds this conversation id, if anyone's (ids are unique across users, as in Postgres). */
  async #owner(conversationId: string): Promise<string | null> {
    const folders = await readdir(this.dir, { withFileTypes: true }).catch(missingAs([]));
    for (const f of folders) {
      if (!f.isDirectory() || f.name === 'usage') continue;
      if (await readJson(path.join(this.dir, f.name, `${conversationId}.json`))) return f.name;
    }
    return null;
  }

  #append(conversationId: string, userId: string, message: Message): Promise<boolean> {
    return this.#update(conversationId, userId, (doc) => {
      doc.messages = [...(doc.messages ?? []), message];
    });
  }

  async #update(conversationId: string, userId: string, change: (doc: ConversationFile) => void): Promise<boolean> {
    if (!safeUser(userId) || !safe(conversationId)) return false;
    const file = this.#file(userId, conversationId);
    return withLock(file, async () => {
      const doc = await readJson<ConversationFile>(file);
      if (!doc) return false;
      change(doc);
      doc.updated_at = new Date().toISOString();
      await writeJson(file, doc);
      return true;
    });
  }
}

function fromFile(doc: ConversationFile, userId: string): Conversation {
  return {
    id: doc.id,
    userId,
    title: doc.title || 'New Conversation',
    createdAt: isoUtc(doc.created_at),
    messages: (doc.messages ?? []).map((m) =>
      m.role === 'user'
        ? { role: 'user', content: m.content }
        : {
            role: 'assistant',
            stage1: m.stage1,
            stage2: m.stage2,
            stage3: m.stage3,
            ...(m.metadata ? { metadata: m.metadata } : {}),
          },
    ),
  };
}

function toUsageFile(r: UsageRecord): UsageFile {
  return {
    user_id: r.userId,
    tier: r.tier,
    daily_used: r.dailyUsed,
    daily_limit: r.dailyLimit,
    monthly_used: r.monthlyUsed,
    monthly_limit: r.monthlyLimit,
    total_queries: r.totalQueries,
    last_reset_daily: r.lastResetDaily,
    last_reset_monthly: r.lastResetMonthly,
  };
}

/**
 * The Python app wrote naive UTC times (`datetime.utcnow().isoformat()`, microseconds):
 * read them as UTC, to the millisecond, as Postgres' timestamptz reads back.
 */
function isoUtc(text: string): string {
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(text) ? text : `${text}Z`;
  return new Date(zoned.replace(/(\.\d{3})\d+/, '$1')).toISOString();
}

async function readJson<T>(file: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

let tmpCounter = 0;
/** Write a temporary file beside the target, then rename it over the target (atomic on one filesystem). */
async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function missingAs<T>(value: T) {
  return (err: NodeJS.ErrnoException): T => {
    if (err.code === 'ENOENT') return value;
    throw err;
  };
}

/** One queue per file path, shared by every instance in this process: calls on a file run one at a time. */
const queues = new Map<string, Promise<unknown>>();
function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const tail = run.catch(() => {});
  queues.set(file, tail);
  void tail.then(() => {
    if (queues.get(file) === tail) queues.delete(file);
  });
  return run;
}
