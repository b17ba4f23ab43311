/**
 * Database URL parsing and redaction.
 *
 * Ferry reads the same DATABASE_URL as the app it is moving, and those apps
 * often come from Python land, so SQLAlchemy spellings are accepted too. Every
 * message that echoes a URL goes through `redactUrl` first: URLs are where
 * passwords live, and error messages end up in CI logs.
 */
import path from 'node:path';
import { E_BAD_URL, FerryError } from '../errors.js';

export type ParsedUrl =
  | { backend: 'postgres'; connectionString: string; redacted: string }
  | { backend: 'pglite'; dataDir: string | null; redacted: string };

export const ACCEPTED_URL_FORMS =
  'postgres://user:password@host:5432/db, postgresql://... (SQLAlchemy forms such as postgresql+asyncpg:// ' +
  'or postgresql+psycopg2:// too), pglite:<dir> or pglite://<dir> for an embedded database on disk, ' +
  'memory:// for an in-memory one';

const MASK = '****';
// `postgresql+asyncpg://`: the driver suffix only matters to Python.
const POSTGRES_SCHEME = /^postgres(?:ql)?(?:\+[a-z0-9_.-]*)?:\/\//i;
const PGLITE_SCHEME = /^pglite:(?:\/\/)?/i;
const MEMORY_SCHEME = /^memory:\/\//i;

/** Classify and normalise a database URL; relative `pglite:` dirs resolve against `cwd`. */
export function parseDatabaseUrl(url: string, cwd: string = process.cwd()): ParsedUrl {
  // Env files and secret stores love trailing newlines.
  const input = url.trim();

  const pg = POSTGRES_SCHEME.exec(input);
  if (pg) {
    const connectionString = 'postgresql://' + input.slice(pg[0].length);
    try {
      new URL(connectionString);
    } catch {
      // No `cause`: URL's TypeError carries the raw input (password included) in `.input`.
      throw badUrl(
        `Malformed database URL "${redactUrl(input)}": it could not be parsed as a URL. ` +
          'Percent-encode special characters in the user name and password (e.g. @ as %40, / as %2F, # as %23).',
        input,
      );
    }
    return { backend: 'postgres', connectionString, redacted: redactUrl(connectionString) };
  }

  const lite = PGLITE_SCHEME.exec(input);
  if (lite) {
    const dir = input.slice(lite[0].length);
    if (dir === '') {
      throw badUrl(
        `Database URL "${input}" names no directory: use pglite:<dir>, e.g. pglite:./.ferry/pglite. ` +
          `Ferry accepts ${ACCEPTED_URL_FORMS}.`,
        input,
      );
    }
    const dataDir = path.resolve(cwd, dir);
    return { backend: 'pglite', dataDir, redacted: `pglite:${dataDir}` };
  }

  if (MEMORY_SCHEME.test(input)) return { backend: 'pglite', dataDir: null, redacted: 'memory://' };

  throw badUrl(unsupportedMessage(input), input);
}

function unsupportedMessage(input: string): string {
  const shown = `"${truncate(redactUrl(input))}"`;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(input)?.[1]?.toLowerCase();
  if (input === '') return `The database URL is empty. Ferry accepts ${ACCEPTED_URL_FORMS}.`;
  if (scheme === undefined) return `${shown} is not a database URL. Ferry accepts ${ACCEPTED_URL_FORMS}.`;
  if (scheme.startsWith('sqlite') || scheme === 'file') {
    return (
      `Unsupported database URL ${shown}: Ferry runs on PostgreSQL only, not SQLite. ` +
      `For a local file-backed database use pglite:<dir>. Ferry accepts ${ACCEPTED_URL_FORMS}.`
    );
  }
  return `Unsupported database URL scheme "${scheme}:" in ${shown}. Ferry runs on PostgreSQL only and accepts ${ACCEPTED_URL_FORMS}.`;
}

function badUrl(message: string, input: string): FerryError {
  return new FerryError(E_BAD_URL, message, { details: { url: redactUrl(input) } });
}

function truncate(text: string, max = 200): string {
  return text.length > max ? text.slice(0, max) + '…' : text;
}

/**
 * Replace the password in a URL (or libpq `key=value` string) with `****`.
 * Works on malformed input too: that is exactly when URLs get echoed in errors.
 */
export function redactUrl(url: string): string {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) {
    // libpq keyword/value form: host=... password=secret
    return url.replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, `$1${MASK}`);
  }
  const head = url.slice(0, schemeEnd + 3);
  let rest = url.slice(schemeEnd + 3);
  // The userinfo ends at an '@'. Passwords with unencoded '@', '/', '?' or '#'
  // defeat URL parsing (or worse, parse as something else), so take the last
  // '@' unless what precedes it looks like a query string (`?key=`), as with
  // `?application_name=a@b`. Over-redacting an odd URL beats leaking half a password.
  let at = rest.lastIndexOf('@');
  while (at >= 0 && /\?[^=]*=/.test(rest.slice(0, at))) at = rest.lastIndexOf('@', at - 1);
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) rest = userinfo.slice(0, colon + 1) + MASK + rest.slice(at);
  }
  rest = rest.replace(/([?&](?:password|sslpassword)=)[^&#]*/gi, `$1${MASK}`);
  return head + rest;
}

/** Scrub secrets (and their percent-encoded forms) from arbitrary text such as driver error messages. */
export function redactText(text: string, secrets: readonly string[]): string {
  const variants = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    variants.add(secret);
    variants.add(encodeURIComponent(secret));
    variants.add(encodeURI(secret));
  }
  let out = text;
  // Longest first so an encoded form is not half-replaced by its raw prefix.
  for (const v of [...variants].sort((a, b) => b.length - a.length)) out = out.split(v).join(MASK);
  return out;
}

/** The password of a postgres URL as written and decoded (empty list if none): what to scrub from driver messages. */
export function urlSecrets(connectionString: string): string[] {
  let raw: string;
  try {
    raw = new URL(connectionString).password;
  } catch {
    return [];
  }
  if (!raw) return [];
  try {
    return [raw, decodeURIComponent(raw)];
  } catch {
    return [raw];
  }
}
