/**
 * Refresh tokens in Postgres (`persist` only): only a token's SHA-256 is
 * stored; rotation is one UPDATE so that of two concurrent rotations of the
 * same token only one wins.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { FerryError } from '../errors.js';
import { E_SESSION_NO_PERSIST } from './errors.js';
import type { PgStore } from './postgres.js';
import type { RefreshToken } from './types.js';

export async function insertRefresh(
  pg: PgStore,
  u: string,
  sessionJti: string | null,
  ttlMs: number,
  token = randomBytes(32).toString('base64url'),
): Promise<RefreshToken> {
  const expiresAt = new Date(Date.now() + ttlMs);
  await pg.db
    .insertInto(pg.refresh)
    .values({
      user_id: u,
      token_hash: sha256(token),
      session_jti: sessionJti,
      expires_at: expiresAt,
      created_at: new Date(),
    })
    .execute();
  return { token, userId: u, sessionId: sessionJti ? `${u}:${sessionJti}` : null, expiresAt };
}

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export const noPersist = () =>
  new FerryError(
    E_SESSION_NO_PERSIST,
    'Refresh tokens are stored in Postgres: create the session store with `persist`.',
  );

/**
 * Revoke `token` and record its successor's hash, in one statement. The row
 * (user, session) when it was live; otherwise null, with `replayed` telling
 * whether the token had already been rotated (a stolen copy).
 */
export async function rotateRow(
  pg: PgStore,
  token: string,
  nextHash: string,
): Promise<{ userId: string; sessionJti: string | null } | { replayedBy: string | null }> {
  const hash = sha256(token);
  const row = await pg.db
    .updateTable(pg.refresh)
    .set({ revoked: true, revoked_at: sql`now()`, replaced_by: nextHash })
    .where('token_hash', '=', hash)
    .where('revoked', '=', false)
    .where('expires_at', '>', sql`now()`)
    .returning(['user_id', 'session_jti', 'expires_at'])
    .executeTakeFirst();
  if (row) return { userId: String(row.user_id), sessionJti: (row.session_jti as string | null) ?? null };
  const old = await pg.db
    .selectFrom(pg.refresh)
    .select(['user_id', 'replaced_by'])
    .where('token_hash', '=', hash)
    .executeTakeFirst();
  return { replayedBy: old?.replaced_by ? String(old.user_id) : null };
}

export async function revokeRefresh(pg: PgStore, token: string): Promise<boolean> {
  const r = await pg.db
    .updateTable(pg.refresh)
    .set({ revoked: true, revoked_at: sql`now()` })
    .where('token_hash', '=', sha256(String(token)))
    .where('revoked', '=', false)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
