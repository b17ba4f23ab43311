/**
 * ChatCore's credentials with node:crypto alone (no JWT or bcrypt package):
 *
 * - passwords: scrypt with a random 16-byte salt, stored as
 *   `scrypt$<N>$<r>$<p>$<salt b64url>$<key b64url>` so the cost can be raised
 *   later without breaking old hashes; compared in constant time. Anything
 *   else in `password_hash` (the import's unusable hashes, the old app's
 *   formats) never verifies.
 * - access tokens: JWT-shaped (`header.payload.signature`, base64url), HS256
 *   (HMAC-SHA-256) over the first two parts, claims `sub` (user id), `jti`
 *   (the session's access_jti), `iat` and `exp` (seconds, as JWT has them).
 *   `verifyAccessToken` checks the signature in constant time, the algorithm
 *   and `exp`; whether the session behind the jti is still live is the
 *   session store's question (service.ts).
 */
import { createHmac, randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

const SCRYPT = { N: 16_384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, KEY_BYTES, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) || N > 2 ** 20) return false;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (salt.length < 8 || expected.length < 16) return false;
  const key = await scryptAsync(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  return timingSafeEqual(key, expected);
}

export interface AccessClaims {
  /** The user's id. */
  sub: string;
  /** The session's access_jti. */
  jti: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch. */
  exp: number;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

const sign = (secret: string | Buffer, data: string) => createHmac('sha256', secret).update(data).digest();

export function signAccessToken(claims: AccessClaims, secret: string | Buffer): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${HEADER}.${payload}.${sign(secret, `${HEADER}.${payload}`).toString('base64url')}`;
}

export type TokenCheck =
  | { ok: true; claims: AccessClaims }
  | { ok: false; reason: 'malformed' | 'signature' }
  /** Genuine but past `exp`: refused for access, still good enough to log its session out. */
  | { ok: false; reason: 'expired'; claims: AccessClaims };

/** Check a token's form, signature and expiry at `nowMs`. */
export function verifyAccessToken(token: string, secret: string | Buffer, nowMs: number): TokenCheck {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3 || parts[0] !== HEADER) return { ok: false, reason: 'malformed' };
  const given = Buffer.from(parts[2]!, 'base64url');
  const expected = sign(secret, `${parts[0]}.${parts[1]}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' };
  let claims: AccessClaims;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as AccessClaims;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof claims?.sub !== 'string' || typeof claims.jti !== 'string' || !Number.isFinite(claims.exp)) {
    return { ok: false, reason: 'malformed' };
  }
  if (claims.exp * 1000 <= nowMs) return { ok: false, reason: 'expired', claims };
  return { ok: true, claims };
}

/** A fresh access_jti: 128 random bits, base64url (22 characters; the session store takes 8-128 of [A-Za-z0-9_-]). */
export const newJti = () => randomBytes(16).toString('base64url');
