/**
 * Login sessions in Redis (or in memory), optionally persisted to Postgres.
 *
 *   const store = createSessionStore({ redis: process.env.REDIS_URL, ttl: '1h' });
 *   const s = await store.create(user.id, { role: 'admin' });   // s.id goes in the cookie / token
 *   const live = await store.touch(s.id);                        // sliding expiry; null once gone
 *   await store.revoke(s.id);                                    // logout: final
 *
 * Guarantees (the bugs of connect-redis #75 / #328 made impossible):
 * - a revoke is final: once `revoke` resolves, no concurrent or later
 *   `touch`, `set`, `update` (or Postgres read-through) brings the session
 *   back. (With `persist` and Redis not told, e.g. the revoking instance is
 *   cut off from it: other instances refuse it once their next outbox poll
 *   has run, and never serve it again; see below.) Every write is a Lua
 *   script that only changes a session that exists, is unexpired and belongs
 *   to the user's current generation; only `create` makes a session, and
 *   never under a revoked id (tombstone).
 * - `revokeAllForUser` bumps the user's generation and deletes the user's
 *   sessions in one script: sessions created before it are dead, whichever
 *   order concurrent requests land in. With `persist`, Postgres revokes them
 *   in one statement (a racing create whose insert lands first included) and
 *   Redis is told per session (tombstones), never by a late bump.
 * - an expired session is never returned: Redis expires the key, and every
 *   script also compares `expiresAt` with Redis's clock (Postgres: `now()`)
 *   as it runs, so a returned session was unexpired at some moment after the
 *   call began (the caller may see it later than that on a loaded machine).
 *
 * Backends: redis-backend.ts (Lua scripts in redis-scripts.ts, key layout
 * there) or memory-backend.ts; Postgres persistence in postgres.ts.
 *
 * With `persist`, Postgres is the source of truth and Redis the fast path:
 * writes go to Postgres first; a Redis miss reads Postgres and refills Redis
 * only if no revocation happened meanwhile (generation compare-and-set and
 * tombstones); with Redis unreachable everything is served from Postgres.
 * A revocation is written to Postgres together with an outbox row, then to
 * Redis; until Redis has it, every instance refuses the session after its
 * next outbox poll, and any instance that reaches Redis tells Redis
 * (outbox.ts). No revocation lives only in one process's memory.
 */
import { randomBytes } from 'node:crypto';
import { FerryError } from '../errors.js';
import { watchConnection } from '../redis/announce.js';
import { openRedis } from '../redis/connection.js';
import { redisUsable, watchRedis } from '../redis/health.js';
import type { Backend, Rec, WriteResult } from './backend.js';
import {
  E_SESSION_ARGUMENT,
  E_SESSION_CLOSED,
  E_SESSION_CONFLICT,
  E_SESSION_REVOKED,
  E_SESSION_UNAVAILABLE,
} from './errors.js';
import { MemoryBackend } from './memory-backend.js';
import { resolveSessionOptions, sessionMs } from './options.js';
import { RevocationOutbox } from './outbox.js';
import { type OutboxRow, PgStore } from './postgres.js';
import { checkSessionSlots, RedisBackend } from './redis-backend.js';
import { insertRefresh, noPersist, revokeRefresh, rotateRow, sha256 } from './refresh-tokens.js';
import { byCreation, exists, JTI_RE, parseRef, serialize, userIdOf } from './refs.js';
import type { Session, SessionStore, SessionStoreOptions } from './types.js';

export function createSessionStore<T = Record<string, unknown>>(options: SessionStoreOptions): SessionStore<T> {
  const { ttlMs, refreshTtlMs, prefix, maxDataBytes, persistEveryMs, outboxPollMs, onError } =
    resolveSessionOptions(options);
  const pg = options.persist ? new PgStore(options.persist) : null;
  const connection = openRedis(options.redis, {
    ...options.client,
    mode: 'queue',
    what: 'createSessionStore',
    logger: options.logger,
  });
  try {
    if (connection) checkSessionSlots(connection.client, prefix);
  } catch (err) {
    void connection?.close();
    throw err;
  }
  const announcer = connection
    ? watchConnection(connection, {
        what: 'createSessionStore',
        fallback: pg ? 'sessions are served from Postgres (persist)' : 'session calls fail with E_SESSION_UNAVAILABLE',
        logger: options.logger,
        layer: 'sessions',
      })
    : null;
  if (connection) watchRedis(connection.client);
  // With persistence and no Redis, Postgres alone serves (a per-process memory cache would go stale across processes).
  const fast: Backend | null = connection
    ? new RedisBackend(connection.client, prefix, () => connection.close())
    : pg
      ? null
      : new MemoryBackend();
  const redisClient = connection?.client ?? null;
  // Tombstones outlive any session they could shadow (sessions slide, so be generous); so do outbox rows.
  const tombstoneMs = Math.max(ttlMs * 2, 60_000);
  let closed = false;
  // Revocations Redis may not have yet, durable in Postgres (outbox.ts).
  const outbox = pg
    ? new RevocationOutbox(pg, {
        pollMs: outboxPollMs,
        replay: fast ? (row) => fast.revoke(row.u, row.jti, tombstoneMs) : null,
        canReplay: () => !redisClient || redisUsable(redisClient),
        onError,
      })
    : null;
  /** Listed in the outbox: revoked, and Redis may not know yet. */
  const pending = (u: string, jti: string) => outbox?.has(u, jti) ?? false;

  const ensureOpen = () => {
    if (closed) throw new FerryError(E_SESSION_CLOSED, 'This session store was closed.');
  };

  /** Run on the fast backend; `undefined` when it is Redis and Redis is unusable or failed. */
  async function onFast<R>(fn: (b: Backend) => Promise<R>): Promise<R | undefined> {
    if (!fast) return undefined;
    if (redisClient && !redisUsable(redisClient)) {
      if (!pg) throw unavailable();
      return undefined;
    }
    try {
      return await fn(fast);
    } catch (err) {
      if (err instanceof FerryError) throw err;
      if (!pg) throw unavailable(err);
      return undefined;
    }
  }

  const unavailable = (cause?: unknown) =>
    new FerryError(
      E_SESSION_UNAVAILABLE,
      `The session store cannot reach Redis at ${connection?.shown ?? '(none)'}${cause ? `: ${(cause as Error).message}` : ''}. ` +
        (pg
          ? 'Postgres (persist) holds the sessions; Redis is caught up when it is back.'
          : 'Sessions live only in Redis unless `persist` is set.'),
      { cause },
    );

  /**
   * Tell Redis a revocation Postgres and the outbox already have. Until it
   * lands, this instance refuses the sessions at once, the others after their
   * next poll. Resolves what `op` resolved (false when Redis was not told).
   */
  async function tellRedis<R>(rows: OutboxRow[], op: (b: Backend) => Promise<R>): Promise<R | false> {
    if (!fast) return false; // Postgres alone: the rows are for instances that use Redis
    outbox!.hold(rows);
    let r: R;
    try {
      if (redisClient && !redisUsable(redisClient)) throw unavailable();
      r = await op(fast);
    } catch (err) {
      onError(err); // the outbox has it: whichever instance reaches Redis first replays it
      return false;
    }
    await outbox!.settle(rows).catch(onError);
    return r;
  }

  const toSession = (u: string, jti: string, rec: Rec): Session<T> => ({
    id: `${u}:${jti}`,
    userId: u,
    jti,
    data: JSON.parse(rec.data) as T,
    createdAt: new Date(rec.createdAt),
    lastActivityAt: new Date(rec.lastActivityAt),
    expiresAt: new Date(rec.expiresAt),
    version: rec.version,
  });

  /** Read through: fast path, then Postgres (refilling the fast path unless a revocation intervened). */
  async function read(u: string, jti: string): Promise<Rec | null> {
    if (pending(u, jti)) return null; // revoked, Redis maybe not told yet: never trust its copy
    const r = await onFast((b) => b.read(u, jti));
    if (r?.status === 'hit') return r.rec;
    if (r?.status === 'gone' || !pg) return null;
    const rec = await pg.read(u, jti);
    if (rec && r?.status === 'miss') {
      await onFast((b) => b.fill(u, jti, rec, r.gen)); // may refuse: then the next read tries again
    }
    return rec;
  }

  async function touch(u: string, jti: string, retry = true): Promise<Rec | null> {
    if (pending(u, jti)) return null;
    const r = await onFast((b) => b.touch(u, jti, ttlMs, persistEveryMs));
    if (r === undefined) return pg ? pg.touch(u, jti, ttlMs) : null;
    if (r.status === 'gone') return null;
    if (r.status === 'miss') {
      if (!pg || !retry) return null;
      if (!(await read(u, jti))) return null; // fills the fast path
      return touch(u, jti, false);
    }
    if (pg && r.persistDue) await pg.touchTo(u, jti, r.rec);
    return r.rec;
  }

  async function write(u: string, jti: string, data: string, expectVersion: number | null, retry = true) {
    if (pending(u, jti)) return { status: 'gone' } as WriteResult;
    const r = await onFast((b) => b.write(u, jti, data, expectVersion));
    if (r === undefined) return pg ? pg.write(u, jti, data, expectVersion) : ({ status: 'gone' } as WriteResult);
    if (r.status === 'miss') {
      if (!pg || !retry) return { status: 'gone' } as WriteResult;
      if (!(await read(u, jti))) return { status: 'gone' } as WriteResult;
      return write(u, jti, data, expectVersion, false);
    }
    if (r.status === 'hit' && pg) await pg.writeVersion(u, jti, data, r.rec.version);
    return r;
  }

  const store: SessionStore<T> = {
    ttlMs,

    async create(userId, data, createOptions = {}) {
      ensureOpen();
      const u = userIdOf(userId);
      const jti = createOptions.jti ?? randomBytes(24).toString('base64url');
      if (!JTI_RE.test(jti)) {
        throw new FerryError(E_SESSION_ARGUMENT, 'A jti must be 8-128 characters of letters, digits, _ and -.');
      }
      const json = serialize(data, maxDataBytes);
      if (!pg) {
        const r = await onFast((b) => b.create(u, jti, json, ttlMs, null));
        if (!r) throw unavailable();
        if (r.status !== 'ok') throw exists(jti);
        return toSession(u, jti, r.rec);
      }
      // Persisted: Postgres first (the truth), then Redis, only if no revokeAllForUser ran in between.
      const gen = await onFast((b) => b.gen(u));
      const now = Date.now();
      const rec: Rec = { data: json, createdAt: now, lastActivityAt: now, expiresAt: now + ttlMs, version: 1 };
      if (!(await pg.insert(u, jti, rec))) throw exists(jti);
      if (gen === undefined) return toSession(u, jti, rec);
      const r = await onFast((b) => b.create(u, jti, json, ttlMs, gen));
      const lostRace = () =>
        new FerryError(
          E_SESSION_REVOKED,
          `The new session of user ${u} was revoked by a concurrent revokeAllForUser; log in again.`,
          { details: { userId: u } },
        );
      if (r?.status === 'revoked') {
        await pg.markRevoked(u, jti); // Redis never had it
        throw lostRace();
      }
      if (r?.status === 'taken') {
        // Already revoked in Postgres: a revokeAllForUser took our row and tombstoned the jti before we got there.
        if (!(await pg.markRevoked(u, jti))) throw lostRace();
        throw exists(jti);
      }
      return toSession(u, jti, r?.status === 'ok' ? r.rec : rec);
    },

    async get(ref) {
      ensureOpen();
      const { u, jti } = parseRef(ref);
      const rec = await read(u, jti);
      return rec ? toSession(u, jti, rec) : null;
    },

    async touch(ref) {
      ensureOpen();
      const { u, jti } = parseRef(ref);
      const rec = await touch(u, jti);
      return rec ? toSession(u, jti, rec) : null;
    },

    async set(ref, data) {
      ensureOpen();
      const { u, jti } = parseRef(ref);
      const r = await write(u, jti, serialize(data, maxDataBytes), null);
      return r.status === 'hit' ? toSession(u, jti, r.rec) : null;
    },

    async update(ref, fn) {
      ensureOpen();
      const { u, jti } = parseRef(ref);
      for (let attempt = 0; attempt < 50; attempt++) {
        const current = await read(u, jti);
        if (!current) return null;
        const next = serialize(fn(JSON.parse(current.data) as T), maxDataBytes);
        const r = await write(u, jti, next, current.version);
        if (r.status === 'hit') return toSession(u, jti, r.rec);
        if (r.status !== 'conflict') return null;
        // Lost a race: back off a random, growing while so contenders spread out.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)));
      }
      throw new FerryError(E_SESSION_CONFLICT, `update of session ${u}:${jti} kept racing concurrent writes; retry.`);
    },

    async revoke(ref) {
      ensureOpen();
      const { u, jti } = parseRef(ref);
      if (!pg) {
        const live = await onFast((b) => b.revoke(u, jti, tombstoneMs));
        if (live === undefined) throw unavailable();
        return live;
      }
      // Postgres: the revocation and its outbox row, in one statement (durable before Redis is asked).
      const { live, rows } = await pg.revoke(u, jti, tombstoneMs);
      return (await tellRedis(rows, (b) => b.revoke(u, jti, tombstoneMs))) || live;
    },

    async revokeAllForUser(userId) {
      ensureOpen();
      const u = userIdOf(userId);
      if (!pg) {
        const n = await onFast((b) => b.revokeAll(u));
        if (n === undefined) throw unavailable();
        return n;
      }
      const { n, rows } = await pg.revokeAll(u, tombstoneMs);
      // Per session, as a replay would, never a generation bump: a Redis command that failed here may still
      // land later (the client resends once after a reconnection), and a late bump would also end sessions
      // created after this (a new login). Postgres already revoked every session whose insert came first;
      // a racing create that reaches Redis after its tombstone is refused there.
      if (rows.length > 0)
        await tellRedis(rows, (b) => Promise.all(rows.map((r) => b.revoke(r.u, r.jti, tombstoneMs))));
      return n;
    },

    async list(userId) {
      ensureOpen();
      const u = userIdOf(userId);
      if (!pg) {
        const r = await onFast((b) => b.list(u));
        if (!r) throw unavailable();
        // Memory lists in creation order already (a stable sort keeps it); Redis breaks ties with microseconds.
        return r.sort(byCreation).map(({ jti, rec }) => toSession(u, jti, rec));
      }
      // Postgres says which sessions are live; Redis has their freshest activity and data.
      const truth = await pg.list(u);
      const cached = new Map((await onFast((b) => b.list(u)))?.map((x) => [x.jti, x.rec]) ?? []);
      return truth
        .filter(({ jti }) => !pending(u, jti))
        .map(({ jti, rec }) => toSession(u, jti, cached.get(jti) ?? rec));
    },

    async issueRefreshToken(userId, issueOptions = {}) {
      ensureOpen();
      if (!pg) throw noPersist();
      const u = userIdOf(userId);
      let sessionJti: string | null = null;
      if (issueOptions.session !== undefined) {
        const ref = parseRef(issueOptions.session);
        if (ref.u !== u) throw new FerryError(E_SESSION_ARGUMENT, 'The session belongs to another user.');
        sessionJti = ref.jti;
      }
      const ttl = issueOptions.ttl === undefined ? refreshTtlMs : sessionMs(issueOptions.ttl, 'ttl');
      return insertRefresh(pg, u, sessionJti, ttl);
    },

    async rotateRefreshToken(token) {
      ensureOpen();
      if (!pg) throw noPersist();
      if (typeof token !== 'string' || token.length < 16) return null;
      const next = randomBytes(32).toString('base64url');
      const row = await rotateRow(pg, token, sha256(next));
      if ('replayedBy' in row) {
        // A token that was already exchanged is being replayed: assume it was stolen.
        if (row.replayedBy !== null) await store.revokeAllForUser(row.replayedBy);
        return null;
      }
      const u = row.userId;
      const sessionJti = row.sessionJti;
      if (sessionJti && !(await read(u, sessionJti))) return null; // its session has ended
      return insertRefresh(pg, u, sessionJti, refreshTtlMs, next);
    },

    async revokeRefreshToken(token) {
      ensureOpen();
      if (!pg) throw noPersist();
      return revokeRefresh(pg, token);
    },

    stats() {
      return {
        ...(outbox?.stats() ?? { outboxPolls: 0, pendingRevocations: 0, replayedRevocations: 0 }),
        redis: redisClient ? (redisUsable(redisClient) ? 'up' : 'down') : 'off',
        persist: pg !== null,
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      // An app's own client may reconnect after this: that is no longer the store's to announce.
      announcer?.close();
      await outbox?.stop();
      await fast?.close();
    },
  };
  return store;
}
