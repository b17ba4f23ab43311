/**
 * Roles that policies name (`policy(..., { to: ['app_user'] })`). Ferry never
 * creates them where migrations run: roles belong to the whole server, carry
 * privileges and passwords, and are an operator's decision. A statement
 * naming one that does not exist is E_ROLE_MISSING, naming the role and what
 * to do. Only a private PGlite shadow, which stands in for a database whose
 * roles it cannot see, creates the ones it is asked for (see shadow.ts).
 */
import { E_ROLE_MISSING, FerryError } from '../errors.js';
import { quoteIdent } from '../schema/identifiers.js';

/** The role a Postgres error says does not exist (SQLSTATE 42704, `role "x" does not exist`), or null. */
export function missingRoleOf(err: unknown): string | null {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.message !== 'string') return null;
  if (e.code !== undefined && e.code !== '42704') return null;
  const m = /^role "((?:[^"]|"")+)" does not exist$/.exec(e.message);
  return m ? m[1]!.replaceAll('""', '"') : null;
}

export function roleMissing(role: string, where: string, cause?: unknown): FerryError {
  return new FerryError(
    E_ROLE_MISSING,
    `The role "${role}" does not exist on ${where}; a policy names it (to: [...]). Ferry does not create roles ` +
      `(they belong to the whole server and carry privileges): create it first, e.g. ` +
      `CREATE ROLE ${quoteIdent(role)} NOLOGIN; or take it out of the policy's \`to\`.`,
    { details: { role }, ...(cause !== undefined ? { cause } : {}) },
  );
}
