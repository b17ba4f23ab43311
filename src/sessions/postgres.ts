/**
 * Postgres persistence of sessions (the tables of tables.ts): the source of
 * truth when `persist` is set, Redis being the fast path. A revocation and
 * its outbox rows (outbox.ts) are written by one statement, so no crash can
 * leave a revoked session that Redis may still serve without a durable
 * record of it.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { FerryError } from '../errors.js';
import { isTable, type Table } from '../schema/table.js';
import type { Rec, WriteResult } from './backend.js';
import { E_SESSION_CONFIG } from './errors.js';
import type { PersistOptions } from './types.js';

/** A revocation Redis may not have yet: a row of the outbox table. */
export interface OutboxRow {
  id: string;
  u: string;
  jti: string;
}

interface PgRow {
  access_jti: string;
  data: unknown;
  version: number | string;
  created_at: Date;
  last_activity: Date;
  expires_at: Date;
}

export class PgStore {
  readonly db: Kysely<any>;
  readonly sessions: string;
  readonly refresh: string;
  readonly outbox: string;
  /**
   * Runs the store's reads on the primary when `persist.db` is a Ferry with
   * read replicas (`ferry.primary`): a session revoked a moment ago by another
   * process must not be read back as live from a lagging replica. A bare
   * Kysely cannot be told; identity otherwise.
   */
  readonly #primary: <R>(fn: () => R) => R;

  constructor(options: PersistOptions) {
    const ferry = options.db as { primary?: <R>(fn: () => R) => R };
    this.#primary =
      !('selectFrom' in options.db) && typeof ferry.primary === 'function' ? (fn) => ferry.primary!(fn) : (fn) => fn();
    const db = 'db' in options.db && !('selectFrom' in options.db) ? options.db.db : options.db;
    if (!db || typeof (db as Kysely<any>).selectFrom !== 'function') {
      throw new FerryError(E_SESSION_CONFIG, 'persist.db must be a Kysely instance or a Ferry connection (with .db).');
    }
    this.db = db as Kysely<any>;
    this.sessions = tableName(options.sessions, 'sessions');
    this.refresh = tableName(options.refreshTokens, 'refresh_tokens');
    this.outbox = tableName(options.sessionOutbox, 'session_outbox');
  }

  static rec(row: PgRow): Rec {
    return {
      data: JSON.stringify(row.data ?? null),
      createdAt: new Date(row.created_at).getTime(),
      lastActivityAt: new Date(row.last_activity).getTime(),
      expiresAt: new Date(row.expires_at).getTime(),
      version: Number(row.version),
    };
  }

  #live(u: string, jti: string) {
    return (eb: any) =>
      eb.and([
        eb('access_jti', '=', jti),
        eb('user_id', '=', u),
        eb('revoked', '=', false),
        eb('expires_at', '>', sql`now()`),
      ]);
  }

  async insert(u: string, jti: string, rec: Rec): Promise<boolean> {
    const r = await this.db
      .insertInto(this.sessions)
      .values({
        user_id: u,
        access_jti: jti,
        data: rec.data,
        version: rec.version,
        created_at: new Date(rec.createdAt),
        last_activity: new Date(rec.lastActivityAt),
        expires_at: new Date(rec.expiresAt),
      })
      .onConflict((oc) => oc.column('access_jti').doNothing())
      .returning('access_jti')
      .executeTakeFirst();
    return r !== undefined;
  }

  async read(u: string, jti: string): Promise<Rec | null> {
    const row = await this.#primary(() =>
      this.db.selectFrom(this.sessions).selectAll().where(this.#live(u, jti)).executeTakeFirst(),
    );
    return row ? PgStore.rec(row as PgRow) : null;
  }

  /** Slide the expiry to `rec`'s (from Redis), never backwards, never on a revoked row. */
  async touchTo(u: string, jti: string, rec: Rec): Promise<void> {
    await this.db
      .updateTable(this.sessions)
      .set({ last_activity: new Date(rec.lastActivityAt), expires_at: new Date(rec.expiresAt) })
      .where(this.#live(u, jti))
      .where('expires_at', '<', new Date(rec.expiresAt))
      .execute();
  }

  /** Touch on Postgres alone (Redis unreachable). */
  async touch(u: string, jti: string, ttlMs: number): Promise<Rec | null> {
    const row = await this.db
      .updateTable(this.sessions)
      .set({
        last_activity: sql`now()`,
        expires_at: sql`now() + make_interval(secs => ${ttlMs / 1000})`,
      })
      .where(this.#live(u, jti))
      .returningAll()
      .executeTakeFirst();
    return row ? PgStore.rec(row as PgRow) : null;
  }

  /** Write data at `version` unless a newer version is already there (from Redis), or the session is gone. */
  async writeVersion(u: string, jti: string, data: string, version: number): Promise<void> {
    await this.db
      .updateTable(this.sessions)
      .set({ data, version })
      .where(this.#live(u, jti))
      .where('version', '<', version)
      .execute();
  }

  /** Compare-and-set write on Postgres alone. */
  async write(u: string, jti: string, data: string, expectVersion: number | null): Promise<WriteResult> {
    let q = this.db.updateTable(this.sessions).set({ data, version: sql`version + 1` }).where(this.#live(u, jti));
    if (expectVersion !== null) q = q.where('version', '=', expectVersion);
    const row = await q.returningAll().executeTakeFirst();
    if (row) return { status: 'hit', rec: PgStore.rec(row as PgRow) };
    if (expectVersion !== null && (await this.read(u, jti))) return { status: 'conflict' };
    return { status: 'gone' };
  }

  /**
   * Mark a session revoked, without an outbox row: for a session Redis never
   * had (a create that lost a race). False when it was revoked already.
   */
  async markRevoked(u: string, jti: string): Promise<boolean> {
    const r = await this.db
      .updateTable(this.sessions)
      .set({ revoked: true, revoked_at: sql`now()` })
      .where('access_jti', '=', jti)
      .where('user_id', '=', u)
      .where('revoked', '=', false)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Revoke one session and record it in the outbox, in one statement. `live`:
   * it was unexpired; `rows`: the outbox row (none when it was already revoked).
   */
  async revoke(u: string, jti: string, keepMs: number): Promise<{ live: boolean; rows: OutboxRow[] }> {
    const rows = await this.#revokeRecorded(sql`access_jti = ${jti} and user_id = ${u}`, keepMs, null);
    return { live: rows.some((r) => r.live), rows };
  }

  /** Revoke every session of `u` (outbox rows for each) and every refresh token of `u`, in one statement. */
  async revokeAll(u: string, keepMs: number): Promise<{ n: number; rows: OutboxRow[] }> {
    const rows = await this.#revokeRecorded(sql`user_id = ${u}`, keepMs, u);
    return { n: rows.filter((r) => r.live).length, rows };
  }

  /**
   * The data-modifying CTEs run exactly once each, in one snapshot and one
   * implicit transaction: the sessions are revoked if and only if their
   * outbox rows exist. A row lives until `keepMs` after the later of the
   * session's expiry and now (see outbox.ts for why that is enough).
   */
  async #revokeRecorded(
    where: ReturnType<typeof sql>,
    keepMs: number,
    refreshOf: string | null,
  ): Promise<Array<OutboxRow & { live: boolean }>> {
    const refresh =
      refreshOf === null
        ? sql``
        : sql`, t as (
            update ${sql.table(this.refresh)} set revoked = true, revoked_at = now()
            where user_id = ${refreshOf} and revoked = false
          )`;
    const q = sql<{ id: string; user_id: string; access_jti: string; live: boolean }>`
      with r as (
        update ${sql.table(this.sessions)} set revoked = true, revoked_at = now()
        where ${where} and revoked = false
        returning user_id, access_jti, expires_at
      ), o as (
        insert into ${sql.table(this.outbox)} (user_id, access_jti, expires_at, created_at)
        select user_id::text, access_jti, greatest(expires_at, now()) + make_interval(secs => ${keepMs / 1000}), now()
        from r
        returning id, user_id, access_jti
      )${refresh}
      select o.id::text as id, o.user_id, o.access_jti, r.expires_at > now() as live
      from o join r on r.access_jti = o.access_jti
      order by o.id`;
    const result = await this.#outboxQuery(() => q.execute(this.db));
    return result.rows.map((r) => ({
      id: String(r.id),
      u: String(r.user_id),
      jti: r.access_jti,
      live: Boolean(r.live),
    }));
  }

  /** Every outbox row still worth replaying, oldest first; rows past their `expires_at` are deleted on the way. */
  async pollOutbox(): Promise<OutboxRow[]> {
    const o = sql.table(this.outbox);
    const result = await this.#outboxQuery(() =>
      sql<{ id: string; user_id: string; access_jti: string }>`
        with pruned as (delete from ${o} where expires_at < now())
        select id::text as id, user_id, access_jti from ${o} where expires_at >= now() order by id`.execute(this.db),
    );
    return result.rows.map((r) => ({ id: String(r.id), u: String(r.user_id), jti: r.access_jti }));
  }

  /** Delete outbox rows past their `expires_at` (instances without Redis only do this). */
  async pruneOutbox(): Promise<void> {
    await this.#outboxQuery(() => this.db.deleteFrom(this.outbox).where('expires_at', '<', sql<Date>`now()`).execute());
  }

  /** Redis has these revocations: forget them. */
  async deleteOutbox(ids: readonly string[]): Promise<void> {
    for (let from = 0; from < ids.length; from += 1000) {
      const chunk = ids.slice(from, from + 1000);
      await this.#outboxQuery(() => this.db.deleteFrom(this.outbox).where('id', 'in', chunk).execute());
    }
  }

  /** Run a query that uses the outbox; a missing outbox table becomes E_SESSION_CONFIG saying what to do. */
  async #outboxQuery<R>(run: () => Promise<R>): Promise<R> {
    try {
      return await run();
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      if (e?.code === '42P01' && typeof e.message === 'string' && e.message.includes(`"${this.outbox}"`)) {
        throw new FerryError(
          E_SESSION_CONFIG,
          `The session outbox table "${this.outbox}" does not exist. Export it from your schema module ` +
            '(`export const { sessions, refreshTokens, sessionOutbox } = sessionTables(...)`) and run the migration ' +
            '(`ferry migrate new`, then `ferry migrate up`): revocations are recorded there until Redis has them, ' +
            'so revoke and revokeAllForUser cannot work without it.',
          { cause: err, details: { table: this.outbox } },
        );
      }
      throw err;
    }
  }

  async list(u: string): Promise<Array<{ jti: string; rec: Rec }>> {
    const rows = await this.#primary(() =>
      this.db
        .selectFrom(this.sessions)
        .selectAll()
        .where('user_id', '=', u)
        .where('revoked', '=', false)
        .where('expires_at', '>', sql`now()`)
        .orderBy('created_at')
        .orderBy('id')
        .execute(),
    );
    return rows.map((row) => ({ jti: (row as PgRow).access_jti, rec: PgStore.rec(row as PgRow) }));
  }
}

function tableName(t: Table | string | undefined, fallback: string): string {
  if (t === undefined) return fallback;
  if (typeof t === 'string') return t;
  if (isTable(t)) return t.name;
  throw new FerryError(
    E_SESSION_CONFIG,
    'persist.sessions / persist.refreshTokens / persist.sessionOutbox must be a table or a table name.',
  );
}
