/** Session ids, user ids and session data as the store accepts them (E_SESSION_ARGUMENT otherwise). */
import { FerryError } from '../errors.js';
import type { Rec } from './backend.js';
import { E_SESSION_ARGUMENT, E_SESSION_EXISTS } from './errors.js';
import type { SessionRef, UserId } from './types.js';

export const JTI_RE = /^[A-Za-z0-9_-]{8,128}$/;
const USER_RE = /^[^\s{}]{1,128}$/;

export function byCreation(a: { rec: Rec; order?: string }, b: { rec: Rec; order?: string }): number {
  if (a.rec.createdAt !== b.rec.createdAt) return a.rec.createdAt - b.rec.createdAt;
  const x = a.order ?? '';
  const y = b.order ?? '';
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}

export const exists = (jti: string) =>
  new FerryError(E_SESSION_EXISTS, `A session with jti ${jti} exists or was revoked; jtis are single-use.`, {
    details: { jti },
  });

export function userIdOf(userId: UserId): string {
  const u = typeof userId === 'number' && Number.isSafeInteger(userId) ? String(userId) : userId;
  if (typeof u !== 'string' || !USER_RE.test(u)) {
    throw new FerryError(
      E_SESSION_ARGUMENT,
      'A user id must be an integer or a string of 1-128 characters without whitespace or braces.',
    );
  }
  return u;
}

export function parseRef(ref: SessionRef): { u: string; jti: string } {
  let u: string;
  let jti: string;
  if (typeof ref === 'string') {
    const at = ref.lastIndexOf(':');
    if (at <= 0) throw badRef();
    u = ref.slice(0, at);
    jti = ref.slice(at + 1);
  } else if (typeof ref === 'object' && ref !== null) {
    u = typeof ref.userId === 'number' ? String(ref.userId) : ref.userId;
    jti = ref.jti;
  } else {
    throw badRef();
  }
  if (typeof u !== 'string' || !USER_RE.test(u) || typeof jti !== 'string' || !JTI_RE.test(jti)) throw badRef();
  return { u, jti };
}

const badRef = () =>
  new FerryError(E_SESSION_ARGUMENT, 'A session id is "<userId>:<jti>" as returned by create(), or { userId, jti }.');

/** The data as JSON; E_SESSION_ARGUMENT when it is not JSON-serialisable or its JSON is over `maxBytes`. */
export function serialize(data: unknown, maxBytes: number): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    throw new FerryError(E_SESSION_ARGUMENT, `Session data must be JSON-serialisable: ${(err as Error).message}`);
  }
  if (json === undefined) throw new FerryError(E_SESSION_ARGUMENT, 'Session data must be JSON-serialisable.');
  // A UTF-16 unit is at most 3 bytes of UTF-8: short data needs no count.
  if (json.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(json);
    if (bytes > maxBytes) {
      throw new FerryError(
        E_SESSION_ARGUMENT,
        `Session data is ${bytes} bytes of JSON, over the limit of ${maxBytes} (maxDataBytes); keep bulky state in a table.`,
        { details: { bytes, maxBytes } },
      );
    }
  }
  return json;
}
