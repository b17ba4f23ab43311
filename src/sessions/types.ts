/** The public types of the session store (see store.ts). */
import type { Kysely } from 'kysely';
import type { Duration } from '../duration.js';
import type { Logger } from '../logger.js';
import type { RedisConnectionOptions, RedisInput } from '../redis/connection.js';
import type { Table } from '../schema/table.js';

export type UserId = string | number;
/** A session id as returned by `create` (`<userId>:<jti>`), or its parts. */
export type SessionRef = string | { userId: UserId; jti: string };

export interface Session<T = Record<string, unknown>> {
  /** `<userId>:<jti>`: what the client holds. */
  id: string;
  userId: string;
  /** The random part (the access token's JWT id; `sessions.access_jti`). */
  jti: string;
  data: T;
  createdAt: Date;
  lastActivityAt: Date;
  expiresAt: Date;
  /** Bumped by every data write. */
  version: number;
}

export interface PersistOptions {
  /** A Kysely instance or anything with `.db` (a Ferry connection). */
  db: Kysely<any> | { db: Kysely<any> };
  /** The sessions table (from `sessionTables()`) or its name; default `sessions`. */
  sessions?: Table | string;
  /** The refresh-tokens table or its name; default `refresh_tokens`. */
  refreshTokens?: Table | string;
  /**
   * The revocation outbox (from `sessionTables()`) or its name; default
   * `session_outbox`. A revocation is recorded there in the same statement
   * that revokes the session in Postgres, and deleted once Redis has it.
   */
  sessionOutbox?: Table | string;
  /**
   * How often every instance with Redis reads the outbox: it then refuses the
   * sessions listed there (whatever Redis says) and, when it reaches Redis,
   * tells Redis and deletes the rows. This bounds how long a revocation made
   * by an instance cut off from Redis goes unseen by the others (one period
   * plus two queries). Default `'250ms'`. Instances without Redis only prune
   * the outbox, at most once a minute.
   */
  outboxPollMs?: Duration;
  /** Write `last_activity`/`expires_at` of a touched session to Postgres at most this often. Default min(60 s, ttl / 4). */
  touchWriteIntervalMs?: Duration;
}

/** What `stats()` reports (for metrics and tests). */
export interface SessionStoreStats {
  /** Outbox reads completed since the store was created (0 without `persist`). */
  outboxPolls: number;
  /** Revocations this instance refuses on its own because Redis may not have them yet. */
  pendingRevocations: number;
  /** Outbox rows this instance told Redis about (its own and other instances'). */
  replayedRevocations: number;
  /** The store's Redis: `up` (commands go to it), `down` (skipped until it is back), `off` (none configured). */
  redis: 'up' | 'down' | 'off';
  /** Whether Postgres holds the sessions (`persist`): with it, a Redis outage only slows sessions down. */
  persist: boolean;
}

export interface SessionStoreOptions {
  /** A Redis URL (`redis://`, `rediss://`, `unix://`), an ioredis client, `null` for in-memory; default `REDIS_URL`, else in-memory. */
  redis?: RedisInput;
  /** Idle lifetime (sliding: `touch` extends it): milliseconds, or e.g. `'30m'`, `'1h'`, `'30d'`. */
  ttl: Duration;
  /** Redis key prefix; default `sess`. */
  prefix?: string;
  persist?: PersistOptions;
  /** Refresh-token lifetime; default `'30d'`. */
  refreshTtl?: Duration;
  /**
   * The largest session data accepted, in bytes of its JSON (UTF-8); default
   * 65536 (64 KB). `create`, `set` and `update` refuse larger data with
   * E_SESSION_ARGUMENT (nothing is written). Session data travels with every
   * read; keep it small and put bulky state in a table.
   */
  maxDataBytes?: number;
  /** How a client created from a URL connects and times out. */
  client?: Omit<RedisConnectionOptions, 'mode' | 'env' | 'what' | 'logger'>;
  /**
   * A pino-compatible logger (`layer: 'sessions'`): background failures, such
   * as a revocation Redis must be told again. Default: silent.
   */
  logger?: Logger | false;
  /** Every background failure, for metrics or tests (in addition to the logger). */
  onError?: (err: unknown) => void;
}

export interface CreateOptions {
  /** Use this jti (e.g. the access token's JWT id) instead of a random one. 8-128 of [A-Za-z0-9_-]. */
  jti?: string;
}

export interface RefreshToken {
  /** The secret to give the client (only its SHA-256 is stored). */
  token: string;
  userId: string;
  sessionId: string | null;
  expiresAt: Date;
}

export interface SessionStore<T = Record<string, unknown>> {
  readonly ttlMs: number;
  create(userId: UserId, data: T, options?: CreateOptions): Promise<Session<T>>;
  /** The live session, or `null` (missing, expired or revoked). */
  get(ref: SessionRef): Promise<Session<T> | null>;
  /** Extend the session by `ttl` from now and return it; `null` when it is gone. */
  touch(ref: SessionRef): Promise<Session<T> | null>;
  /** Replace the data of a live session; `null` (and no effect) when it is gone. */
  set(ref: SessionRef, data: T): Promise<Session<T> | null>;
  /** Read-modify-write of the data (compare-and-set on `version`); `null` when gone. */
  update(ref: SessionRef, fn: (data: T) => T): Promise<Session<T> | null>;
  /**
   * End the session for good. Resolves `true` when it was live. With
   * `persist`, when Redis could not be told (this instance is cut off from
   * it), other instances refuse the session once their next outbox poll has
   * run (`persist.outboxPollMs`), and whichever reaches Redis tells it.
   */
  revoke(ref: SessionRef): Promise<boolean>;
  /** End every session (and refresh token) of the user, including ones created concurrently but landing first. */
  revokeAllForUser(userId: UserId): Promise<number>;
  /** The user's live sessions, oldest first. */
  list(userId: UserId): Promise<Session<T>[]>;
  /** Issue a refresh token (needs `persist`). */
  issueRefreshToken(userId: UserId, options?: { session?: SessionRef; ttl?: Duration }): Promise<RefreshToken>;
  /**
   * Exchange a refresh token for a new one (the old one is revoked). `null` for
   * an unknown, expired or revoked token; presenting an already-rotated token
   * (a stolen copy) revokes all of the user's sessions.
   */
  rotateRefreshToken(token: string): Promise<RefreshToken | null>;
  revokeRefreshToken(token: string): Promise<boolean>;
  /** Counters of the revocation outbox (see `PersistOptions.outboxPollMs`). */
  stats(): SessionStoreStats;
  close(): Promise<void>;
}
