/**
 * What every session backend (Redis with Lua, memory) provides: primitive
 * operations, each atomic, on records of one user's sessions. The store
 * (store.ts) composes them with Postgres persistence.
 */

export interface Rec {
  data: string; // JSON
  createdAt: number;
  lastActivityAt: number;
  expiresAt: number;
  version: number;
}

export type Read =
  | { status: 'hit'; rec: Rec; gen: number }
  | { status: 'miss'; gen: number }
  | { status: 'gone'; gen: number };
export type CreateResult = { status: 'ok'; rec: Rec } | { status: 'taken' } | { status: 'revoked' };
export type WriteResult =
  | { status: 'hit'; rec: Rec }
  | { status: 'miss' }
  | { status: 'gone' }
  | { status: 'conflict' };
export type TouchResult = { status: 'hit'; rec: Rec; persistDue: boolean } | { status: 'miss' } | { status: 'gone' };

/** The primitive, atomic operations every backend provides. */
export interface Backend {
  create(u: string, jti: string, data: string, ttlMs: number, expectGen: number | null): Promise<CreateResult>;
  read(u: string, jti: string): Promise<Read>;
  touch(u: string, jti: string, ttlMs: number, persistEveryMs: number): Promise<TouchResult>;
  write(u: string, jti: string, data: string, expectVersion: number | null): Promise<WriteResult>;
  revoke(u: string, jti: string, tombstoneMs: number): Promise<boolean>;
  revokeAll(u: string): Promise<number>;
  /** Live sessions; `order` breaks ties between equal `createdAt` (creation order), when the backend has one. */
  list(u: string): Promise<Array<{ jti: string; rec: Rec; order?: string }>>;
  /** Copy a record read from the source of truth, unless the session was revoked or the generation moved. */
  fill(u: string, jti: string, rec: Rec, expectGen: number): Promise<boolean>;
  gen(u: string): Promise<number>;
  close(): Promise<void>;
}

/** A record without backend bookkeeping fields. */
export function plain(r: Rec): Rec {
  return {
    data: r.data,
    createdAt: r.createdAt,
    lastActivityAt: r.lastActivityAt,
    expiresAt: r.expiresAt,
    version: r.version,
  };
}
