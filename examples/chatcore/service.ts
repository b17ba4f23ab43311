/**
 * ChatCore's API layer on Ferry, in two parts:
 *
 * - `ChatService`: the queries (users, conversations, messages), each run in
 *   the scope it is given — the connection or a transaction.
 * - `ChatCore`: the app around them, with the seed's Redis usage through
 *   Ferry's parts: the session store (`sess:{user_id}:{access_jti}`, Postgres
 *   `sessions` as the source of truth), the rate limiter
 *   (`rate:{user_id}:{ip}`), a 5-minute user cache (`user:{username}`) and
 *   an AI-response cache (`ai_cache:{hash}`); register, login, refresh (with
 *   rotation and reuse detection) and logout (revocation, final on every
 *   instance). Without Redis the same code runs on Postgres sessions, an
 *   in-memory rate limiter and an in-process cache.
 *
 * Actual Redis keys (what Ferry adds to the seed's shapes): the cache's are
 * `<namespace>~v:user:<username>` and `<namespace>~v:ai_cache:<hash>`; the
 * sessions' `sess:{<user_id>}:<access_jti>` (the braces around the user id
 * are literal: a Redis Cluster hash tag); the rate limiter's
 * `rate:<user_id>:<ip>` exactly.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { type Cache, type CacheLogger, createCache } from '../../src/cache/index.js';
import { type Duration, toMs } from '../../src/duration.js';
import { type DatabaseOf, type Ferry, isFerryError, type Row, type Scope } from '../../src/index.js';
import { createRateLimiter, type RateLimiter } from '../../src/rate-limit/index.js';
import { createSessionStore, type Session, type SessionStore } from '../../src/sessions/index.js';
import { type AiModel, createLocalModel, promptHash } from './ai.js';
import { hashPassword, newJti, signAccessToken, verifyAccessToken, verifyPassword } from './auth.js';
import type * as schema from './schema.js';
import { conversations, messages, users } from './schema.js';

export type DB = DatabaseOf<typeof schema>;
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

// ------------------------------------------------------------------ ChatCore

/** The user as cached and returned to clients: everything but the password hash. */
export type PublicUser = Omit<User, 'password_hash'>;

export type ChatCoreErrorCode = 'unauthorized' | 'rate_limited' | 'bad_request' | 'conflict' | 'not_found';

const STATUS: Record<ChatCoreErrorCode, number> = {
  unauthorized: 401,
  rate_limited: 429,
  bad_request: 400,
  conflict: 409,
  not_found: 404,
};

/** What a request did wrong (never a server fault): `status` is its HTTP status. */
export class ChatCoreError extends Error {
  constructor(
    readonly code: ChatCoreErrorCode,
    message: string,
    readonly retryAfterMs = 0,
  ) {
    super(message);
    this.name = 'ChatCoreError';
  }
  get status(): number {
    return STATUS[this.code];
  }
}

export interface SessionData {
  username: string;
  ip: string;
  userAgent: string | null;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  /** Seconds until the access token expires. */
  expires_in: number;
  user_id: string;
}

/** Who is calling: the address the rate limit counts (and the session records) and the user agent. */
export interface Client {
  ip: string;
  userAgent?: string | null;
}

export interface ChatCoreOptions {
  ferry: Ferry<DB>;
  /** A Redis URL; `null` for none. Default `REDIS_URL`, else none. */
  redis?: string | null;
  /** The cache namespace (prefix of its Redis keys). Default `chatcore`. */
  namespace?: string;
  /**
   * The access tokens' HMAC key; every instance must share it. Default
   * `SECRET_KEY` (the seed's variable), else a random key of this process
   * (its tokens mean nothing to another process or after a restart).
   */
  secret?: string;
  /** Access-token lifetime. Default `'15m'`. */
  accessTtl?: Duration;
  /** Refresh-token lifetime, and so the longest a session lives without a refresh. Default `'7d'`. */
  refreshTtl?: Duration;
  /** Chat and AI requests per user and address per minute. Default 30. */
  requestsPerMinute?: number;
  /** How long an AI answer is cached. Default `'1h'`. */
  aiCacheTtl?: Duration;
  model?: AiModel;
  /** The clock of the access tokens' `iat`/`exp` (tests move it). Default `Date.now`. */
  now?: () => number;
  /** Redis command timeout of the cache. Default 100 ms. */
  cacheTimeoutMs?: number;
  /** Warnings (Redis lost / back, session store background failures). Default: stderr. */
  log?: (line: string) => void;
}

/** How long a user stays in the cache (the seed's 5 minutes). */
export const USER_CACHE_TTL = '5m';
const USERNAME = /^[\p{L}\p{N}_.@-]{1,150}$/u;
const MAX_PROMPT = 4_000;

export class ChatCore {
  readonly ferry: Ferry<DB>;
  readonly cache: Cache;
  readonly limiter: RateLimiter;
  readonly sessions: SessionStore<SessionData>;
  readonly model: AiModel;
  /** 'redis' when a Redis URL was configured (reachable or not), else 'memory'. */
  readonly redisMode: 'redis' | 'memory';
  /** Where the token key came from. */
  readonly secretSource: 'option' | 'SECRET_KEY' | 'random';
  readonly accessTtlMs: number;
  readonly #secret: string;
  readonly #now: () => number;
  readonly #aiTtl: Duration;
  #dummyHash: Promise<string> | undefined;

  constructor(options: ChatCoreOptions) {
    const redis = options.redis === undefined ? process.env.REDIS_URL?.trim() || null : options.redis;
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    this.ferry = options.ferry;
    this.redisMode = redis ? 'redis' : 'memory';
    this.model = options.model ?? createLocalModel();
    this.#now = options.now ?? Date.now;
    this.#aiTtl = options.aiCacheTtl ?? '1h';
    this.accessTtlMs = toMs(options.accessTtl ?? '15m', 'accessTtl');
    const envSecret = process.env.SECRET_KEY?.trim();
    this.secretSource = options.secret ? 'option' : envSecret ? 'SECRET_KEY' : 'random';
    this.#secret = options.secret || envSecret || newJti() + newJti();
    const logger: CacheLogger = {
      warn: (_o, msg) => log(`WARNING | ${msg ?? 'warning'}`),
      info: (_o, msg) => log(`INFO | ${msg ?? 'info'}`),
      error: (_o, msg) => log(`ERROR | ${msg ?? 'error'}`),
      debug: () => {},
    };
    this.cache = createCache({
      redis,
      namespace: options.namespace ?? 'chatcore',
      logger,
      ...(options.cacheTimeoutMs !== undefined ? { timeoutMs: options.cacheTimeoutMs } : {}),
    });
    // The seed's key shapes: the default prefixes `rate` and `sess`.
    this.limiter = createRateLimiter({ redis, points: options.requestsPerMinute ?? 30, duration: '1m', logger });
    const refreshTtl = options.refreshTtl ?? '7d';
    this.sessions = createSessionStore<SessionData>({
      redis,
      // A session outlives its access token: it lasts as long as its refresh token could.
      ttl: refreshTtl,
      refreshTtl,
      persist: { db: this.ferry },
      logger,
    });
  }

  /** The cache key of a user: `user:{username}` (casefolded). */
  userKey(username: string): string {
    return `user:${casefold(username)}`;
  }

  /** The cache key of an AI answer: `ai_cache:{hash}`, the hash of the model and the prompt. */
  aiKey(prompt: string): string {
    return `ai_cache:${promptHash(this.model.name, prompt)}`;
  }

  // ---------------------------------------------------------------- users

  /** A new account (username casefolded, password hashed with scrypt). */
  async register(input: { username: string; password: string }): Promise<PublicUser> {
    const username = checkUsername(input.username);
    checkPassword(input.password);
    try {
      const user = await new ChatService(this.ferry).createUser({
        username,
        passwordHash: await hashPassword(input.password),
      });
      return publicUser(user);
    } catch (err) {
      if (isFerryError(err, 'E_CONSTRAINT'))
        throw new ChatCoreError('conflict', `The username "${username}" is taken.`);
      throw err;
    }
  }

  /** The user by (any case of) username: the cache (5 minutes), else Postgres. */
  getUser(username: string): Promise<PublicUser | undefined> {
    return this.cache.getOrSet<PublicUser | undefined>(
      this.userKey(username),
      async () => {
        const row = await new ChatService(this.ferry).getUserByUsername(username);
        return row ? publicUser(row) : undefined;
      },
      { ttl: USER_CACHE_TTL },
    );
  }

  /** Change a user's role; the cached user is dropped once the change commits, on every instance. */
  setRole(username: string, role: User['role']): Promise<PublicUser | undefined> {
    return this.#updateUser(username, { role });
  }

  /**
   * Change the caller's password (the old one must match). Every session of
   * the user ends, with its refresh tokens: log in again.
   */
  async changePassword(accessToken: string, oldPassword: string, newPassword: string): Promise<void> {
    const { user } = await this.authenticate(accessToken);
    checkPassword(newPassword);
    const row = await new ChatService(this.ferry).getUserByUsername(user.username);
    if (!row || !(await verifyPassword(oldPassword, row.password_hash))) {
      throw new ChatCoreError('unauthorized', 'The current password is wrong.');
    }
    await this.#updateUser(user.username, { password_hash: await hashPassword(newPassword) });
    await this.sessions.revokeAllForUser(user.id);
  }

  async #updateUser(username: string, patch: Partial<Pick<User, 'role' | 'password_hash'>>) {
    return this.ferry.transaction(async (tx) => {
      const row = await tx.repo(users).findOne({ username: casefold(username) });
      if (!row) return undefined;
      const updated = await tx.repo(users).update(row.id, patch);
      await tx.afterCommit(() => this.cache.delete(this.userKey(username)));
      return updated ? publicUser(updated) : undefined;
    });
  }

  // ---------------------------------------------------------------- auth

  /**
   * Check the password and open a session: an access token whose `jti` is the
   * session's access_jti, and a refresh token bound to that session.
   */
  async login(input: { username: string; password: string }, client: Client): Promise<TokenPair> {
    const row =
      typeof input.username === 'string' ? await new ChatService(this.ferry).getUserByUsername(input.username) : null;
    // The same scrypt work whether or not the user exists: no timing oracle for usernames.
    if (!this.#dummyHash) this.#dummyHash = hashPassword(newJti());
    const hash = row?.password_hash ?? (await this.#dummyHash);
    const ok = await verifyPassword(String(input.password ?? ''), hash);
    if (!row || !ok) throw new ChatCoreError('unauthorized', 'Invalid username or password.');
    return this.#openSession(row.id, row.username, client);
  }

  /**
   * The caller behind an access token: its signature and `exp` are checked,
   * then its session (revoked by a logout, a refresh or a password change on
   * any instance: refused at once), then the user (the 5-minute cache).
   */
  async authenticate(accessToken: string): Promise<{ user: PublicUser; session: Session<SessionData> }> {
    const check = verifyAccessToken(accessToken, this.#secret, this.#now());
    if (!check.ok) {
      throw new ChatCoreError(
        'unauthorized',
        check.reason === 'expired' ? 'The access token has expired: refresh it.' : 'Invalid access token.',
      );
    }
    const session = await this.sessions.get({ userId: check.claims.sub, jti: check.claims.jti });
    if (!session) throw new ChatCoreError('unauthorized', 'The session has ended: log in again.');
    const user = await this.getUser(session.data.username);
    if (!user || user.id !== check.claims.sub) throw new ChatCoreError('unauthorized', 'The user no longer exists.');
    return { user, session };
  }

  /**
   * Exchange a refresh token for a new pair. The old token is refused from
   * then on; presenting it again (a stolen copy) revokes every session and
   * refresh token of the user (Ferry's reuse detection). The new access
   * token gets a new session (a new access_jti) and the old session ends,
   * so the previous access token stops working at once.
   */
  async refresh(refreshToken: string, client: Client): Promise<TokenPair> {
    const refused = () => new ChatCoreError('unauthorized', 'Invalid refresh token: log in again.');
    if (typeof refreshToken !== 'string') throw refused();
    const rotated = await this.sessions.rotateRefreshToken(refreshToken);
    if (!rotated) throw refused();
    // Ferry's successor is bound to the old session; ours is bound to the new one.
    await this.sessions.revokeRefreshToken(rotated.token);
    const old = rotated.sessionId ? await this.sessions.get(rotated.sessionId) : null;
    if (!rotated.sessionId || !old) throw refused();
    const pair = await this.#openSession(rotated.userId, old.data.username, client);
    await this.sessions.revoke(rotated.sessionId);
    return pair;
  }

  /**
   * End the token's session (everywhere, at once); its refresh token is then
   * refused too. An expired but genuine access token still logs out.
   * Resolves false when the session had already ended.
   */
  async logout(accessToken: string, refreshToken?: string): Promise<boolean> {
    const check = verifyAccessToken(accessToken, this.#secret, this.#now());
    if (!check.ok && check.reason !== 'expired') throw new ChatCoreError('unauthorized', 'Invalid access token.');
    const live = await this.sessions.revoke({ userId: check.claims.sub, jti: check.claims.jti });
    if (typeof refreshToken === 'string' && refreshToken) await this.sessions.revokeRefreshToken(refreshToken);
    return live;
  }

  async #openSession(userId: string, username: string, client: Client): Promise<TokenPair> {
    const jti = newJti();
    const data: SessionData = { username, ip: client.ip, userAgent: client.userAgent ?? null };
    const session = await this.sessions.create(userId, data, { jti });
    // The seed's columns beside the store's (the store wrote the row first).
    await this.ferry.db
      .updateTable('sessions')
      .set({ ip_address: client.ip.slice(0, 45), user_agent: client.userAgent ?? null })
      .where('access_jti', '=', jti)
      .execute();
    const refresh = await this.sessions.issueRefreshToken(userId, { session: session.id });
    const iat = Math.floor(this.#now() / 1000);
    const ttlS = Math.max(1, Math.floor(this.accessTtlMs / 1000));
    return {
      access_token: signAccessToken({ sub: userId, jti, iat, exp: iat + ttlS }, this.#secret),
      refresh_token: refresh.token,
      token_type: 'bearer',
      expires_in: ttlS,
      user_id: userId,
    };
  }

  async #limit(userId: string, ip: string): Promise<void> {
    const r = await this.limiter.consume({ user: userId, ip });
    if (!r.allowed) {
      throw new ChatCoreError(
        'rate_limited',
        `Too many requests: retry in ${Math.ceil(r.retryAfterMs / 1000)} s.`,
        r.retryAfterMs,
      );
    }
  }

  // ---------------------------------------------------------------- chat

  /**
   * Ask the AI (rate limited per user and address). The prompt and the answer
   * are stored as messages of the conversation (a new one when none is
   * given); the answer comes from `ai_cache:{hash}` when the same prompt was
   * asked before, by anyone.
   */
  async ask(
    accessToken: string,
    client: Client,
    input: { prompt: string; conversationId?: string },
  ): Promise<{ conversationId: string; answer: string; cached: boolean }> {
    const { user } = await this.authenticate(accessToken);
    await this.#limit(user.id, client.ip);
    const prompt = typeof input.prompt === 'string' ? input.prompt.trim() : '';
    if (!prompt || prompt.length > MAX_PROMPT) {
      throw new ChatCoreError('bad_request', `A prompt is 1-${MAX_PROMPT} characters.`);
    }
    const conversationId = await this.#conversation(user.id, input.conversationId, prompt);
    const service = new ChatService(this.ferry);
    await this.#append(service, conversationId, user.id, 'user', prompt);
    let cached = true;
    const answer = await this.cache.getOrSet<string>(
      this.aiKey(prompt),
      () => {
        cached = false;
        return this.model.answer(prompt);
      },
      { ttl: this.#aiTtl },
    );
    await this.#append(service, conversationId, user.id, 'assistant', answer);
    return { conversationId, answer, cached };
  }

  /** Post a message of the caller's (rate limited like `ask`). */
  async postMessage(
    accessToken: string,
    client: Client,
    input: { content: string; conversationId?: string },
  ): Promise<Message> {
    const { user } = await this.authenticate(accessToken);
    await this.#limit(user.id, client.ip);
    const content = typeof input.content === 'string' ? input.content : '';
    if (!content.trim() || content.length > MAX_PROMPT) {
      throw new ChatCoreError('bad_request', `A message is 1-${MAX_PROMPT} characters.`);
    }
    const conversationId = await this.#conversation(user.id, input.conversationId, content);
    return this.#append(new ChatService(this.ferry), conversationId, user.id, 'user', content);
  }

  /** A conversation of the caller's, its messages in order. */
  async messages(accessToken: string, conversationId: string): Promise<Message[]> {
    const { user } = await this.authenticate(accessToken);
    await this.#owned(user.id, conversationId);
    return new ChatService(this.ferry).listMessages(conversationId);
  }

  /** The caller's conversations, most recently active first. */
  async conversations(accessToken: string, options: { limit?: number; cursor?: string } = {}) {
    const { user } = await this.authenticate(accessToken);
    return new ChatService(this.ferry).listConversations(user.id, options);
  }

  async #conversation(userId: string, id: string | undefined, firstText: string): Promise<string> {
    if (id === undefined || id === null || id === '') {
      const title = firstText.replace(/\s+/g, ' ').slice(0, 60);
      return (await new ChatService(this.ferry).createConversation(userId, title)).id;
    }
    await this.#owned(userId, id);
    return id;
  }

  async #owned(userId: string, conversationId: string): Promise<void> {
    const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    const found =
      typeof conversationId === 'string' &&
      UUID.test(conversationId) &&
      (await this.ferry.repo(conversations).findOne({ id: conversationId, user_id: userId }));
    if (!found) throw new ChatCoreError('not_found', 'No such conversation.');
  }

  async #append(service: ChatService, conversationId: string, userId: string, role: MessageRole, content: string) {
    const message = await service.addMessage({ conversationId, userId, role, content });
    if (!message) throw new ChatCoreError('not_found', 'No such conversation.');
    return message;
  }

  /** Close the cache, the rate limiter and the session store (not the database connection). */
  async close(): Promise<void> {
    await Promise.all([this.cache.close(), this.limiter.close(), this.sessions.close()]);
  }
}

export function createChatCore(options: ChatCoreOptions): ChatCore {
  return new ChatCore(options);
}

function publicUser(row: User): PublicUser {
  const { password_hash: _hidden, ...rest } = row;
  return rest;
}

function checkUsername(raw: unknown): string {
  const username = typeof raw === 'string' ? casefold(raw.trim()) : '';
  if (!USERNAME.test(username)) {
    throw new ChatCoreError('bad_request', 'A username is 1-150 letters, digits and _ . @ -.');
  }
  return username;
}

function checkPassword(raw: unknown): void {
  // The seed's default users have 4-character passwords ("1234"); no shorter.
  if (typeof raw !== 'string' || raw.length < 4 || raw.length > 1024) {
    throw new ChatCoreError('bad_request', 'A password is 4-1024 characters.');
  }
}
