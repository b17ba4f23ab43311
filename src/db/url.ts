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
import { firstHostUrl } from './host-list.js';
import { redactUrl } from './redact.js';

export type ParsedUrl =
  | { backend: 'postgres'; connectionString: string; redacted: string }
  | { backend: 'pglite'; dataDir: string | null; redacted: string };

export const ACCEPTED_URL_FORMS =
  'postgres://user:password@host:5432/db, postgresql://... (SQLAlchemy forms such as postgresql+asyncpg:// ' +
  'or postgresql+psycopg2:// too), pglite:<dir> or pglite://<dir> for an embedded database on disk, ' +
  'memory:// for an in-memory one';

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
      // A libpq multi-host URL (h1:5432,h2:5432) is no WHATWG URL: its first host stands for all (multi-host.ts).
      new URL(firstHostUrl(connectionString));
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

export { redactText, redactUrl, urlSecrets } from './redact.js';
