/**
 * Postgres persistence of sessions (the tables of tables.ts): the source of
 * truth when `persist` is set, Redis being the fast path.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { FerryError } from '../errors.js';
import { isTable, type Table } from '../schema/table.js';
import type { Rec, WriteResult } from './backend.js';
import { E_SESSION_CONFIG } from './errors.js';
import type { PersistOptions } from './types.js';

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

  constructor(options: PersistOptions) {
    const db = 'db' in options.db && !('selectFrom' in options.db) ? options.db.db : options.db;
    if (!db || typeof (db as Kysely<any>).selectFrom !== 'function') {
      throw new FerryError(E_SESSION_CONFIG, 'persist.db must be a Kysely instance or a Ferry connection (with .db).');
    }
    this.db = db as Kysely<any>;
    this.sessions = tableName(options.sessions, 'sessions');
    this.refresh = tableName(options.refreshTokens, 'refresh_tokens');
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
    const row = await this.db.selectFrom(this.sessions).selectAll().where(this.#live(u, jti)).executeTakeFirst();
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

  async revoke(u: string, jti: string): Promise<boolean> {
    const row = await this.db
      .updateTable(this.sessions)
      .set({ revoked: true, revoked_at: sql`now()` })
      .where('access_jti', '=', jti)
      .where('user_id', '=', u)
      .where('revoked', '=', false)
      .returning(sql<boolean>`expires_at > now()`.as('live'))
      .executeTakeFirst();
    return Boolean(row?.live);
  }

  async revokeAll(u: string): Promise<number> {
    const rows = await this.db
      .updateTable(this.sessions)
      .set({ revoked: true, revoked_at: sql`now()` })
      .where('user_id', '=', u)
      .where('revoked', '=', false)
      .returning(sql<boolean>`expires_at > now()`.as('live'))
      .execute();
    await this.db
      .updateTable(this.refresh)
      .set({ revoked: true, revoked_at: sql`now()` })
      .where('user_id', '=', u)
      .where('revoked', '=', false)
      .execute();
    return rows.filter((r) => r.live).length;
  }

  async list(u: string): Promise<Array<{ jti: string; rec: Rec }>> {
    const rows = await this.db
      .selectFrom(this.sessions)
      .selectAll()
      .where('user_id', '=', u)
      .where('revoked', '=', false)
      .where('expires_at', '>', sql`now()`)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({ jti: (row as PgRow).access_jti, rec: PgStore.rec(row as PgRow) }));
  }
}

function tableName(t: Table | string | undefined, fallback: string): string {
  if (t === undefined) return fallback;
  if (typeof t === 'string') return t;
  if (isTable(t)) return t.name;
  throw new FerryError(E_SESSION_CONFIG, 'persist.sessions / persist.refreshTokens must be a table or a table name.');
}
