/**
 * Running behind PgBouncer in transaction pooling mode.
 *
 * PgBouncer hands each transaction (or each autocommit statement) to whichever
 * server connection is free, so nothing a session holds survives from one
 * transaction to the next: not a `SET`, not a session advisory lock, not a
 * temp table. And it answers a startup packet carrying a parameter it does not
 * track with `FATAL: unsupported startup parameter: <name>` (1.18 tracks
 * client_encoding, DateStyle, TimeZone, standard_conforming_strings and
 * application_name; everything else, `options` and `statement_timeout`
 * included, is refused unless the admin lists it in
 * `ignore_startup_parameters`, which then drops it silently).
 *
 * So a handle is told it talks to PgBouncer (`?pgbouncer=true` in the URL, as
 * Prisma spells it, or the `pgbouncer` pool option), and then:
 *
 * - sends only tracked startup parameters: Ferry's TimeZone and DateStyle go
 *   as startup parameters of their own (PgBouncer replays them on whichever
 *   server connection it picks), no `options`, no `statement_timeout`;
 * - checks at open that the untracked setting the parsers rely on
 *   (IntervalStyle) has the server's default, instead of parsing intervals
 *   wrongly later;
 * - runs what needs a session (raw sessions: imports' temp tables and COPY,
 *   run locks; the migration lock) on a direct connection to PostgreSQL,
 *   `DIRECT_DATABASE_URL` (Prisma's `directUrl`), and refuses with
 *   E_DIRECT_URL_REQUIRED when there is none.
 *
 * Statements are never named (node-postgres prepares unnamed ones unless a
 * query has a `name`, and Ferry gives none), which PgBouncer before 1.21
 * requires in transaction mode.
 */
import pg from 'pg';
import { E_CONFIG, E_DIRECT_URL_REQUIRED, FerryError } from '../errors.js';
import { redactUrl } from './redact.js';
import { SESSION_SETTINGS } from './types.js';
import { parseDatabaseUrl } from './url.js';

/** The URL query parameter that says "this is PgBouncer" (Prisma's spelling). */
export const PGBOUNCER_PARAM = 'pgbouncer';
/** The variable naming the direct (not pooled) PostgreSQL URL for session work. */
export const DIRECT_URL_VARIABLE = 'DIRECT_DATABASE_URL';

/** Startup parameters PgBouncer 1.18 passes on and replays per transaction (its "tracked" ones). */
const TRACKED = new Set(['timezone', 'datestyle', 'client_encoding', 'standard_conforming_strings']);

/**
 * Whether `connectionString` goes through PgBouncer (`?pgbouncer=true|false`,
 * or `explicit` when the URL does not say), and the URL without that
 * parameter, which is Ferry's and not the server's. In PgBouncer mode a
 * user's own `?options=` is refused: PgBouncer would refuse the connection.
 */
export function resolvePgbouncer(
  connectionString: string,
  explicit: boolean | undefined,
): { url: string; pgbouncer: boolean } {
  const url = new URL(connectionString);
  const raw = url.searchParams.get(PGBOUNCER_PARAM);
  let pgbouncer = explicit ?? false;
  if (raw !== null) {
    const v = raw.trim().toLowerCase();
    if (v === 'true' || v === '1') pgbouncer = true;
    else if (v === 'false' || v === '0') pgbouncer = false;
    else {
      throw new FerryError(
        E_CONFIG,
        `The database URL ${redactUrl(connectionString)} has ${PGBOUNCER_PARAM}=${raw}: expected true or false.`,
        { details: { option: PGBOUNCER_PARAM } },
      );
    }
    url.searchParams.delete(PGBOUNCER_PARAM);
  }
  if (pgbouncer && url.searchParams.has('options')) {
    throw new FerryError(
      E_CONFIG,
      `The database URL ${redactUrl(connectionString)} goes through PgBouncer and sets options=…: PgBouncer refuses ` +
        'that startup parameter. Set those settings on the role or database instead ' +
        "(ALTER ROLE … SET name = 'value'), or connect to PostgreSQL directly.",
      { details: { option: 'options' } },
    );
  }
  return { url: raw === null ? connectionString : url.toString(), pgbouncer };
}

/**
 * Ferry's session settings PgBouncer tracks, as startup parameters of their
 * own (PostgreSQL takes any setting that way): `{ TimeZone: 'UTC', DateStyle: 'ISO,MDY' }`.
 */
export function trackedSessionSettings(): Record<string, string> {
  return Object.fromEntries(SESSION_SETTINGS.filter(([name]) => TRACKED.has(name.toLowerCase())));
}

/** Ferry's session settings PgBouncer does not track: they must already be the server's (role's, database's) values. */
export function untrackedSessionSettings(): ReadonlyArray<readonly [string, string]> {
  return SESSION_SETTINGS.filter(([name]) => !TRACKED.has(name.toLowerCase()));
}

/**
 * A pg `Client` class that adds `extra` to the startup packet. pg sends only
 * user, database, application_name, options and a few timeouts; PgBouncer
 * refuses `options`, so the tracked settings go as parameters of their own.
 */
export function clientWithStartupParameters(extra: Record<string, string>): typeof pg.Client {
  const Base = pg.Client as unknown as new (...args: unknown[]) => { getStartupConf(): Record<string, string> };
  class StartupClient extends Base {
    override getStartupConf(): Record<string, string> {
      return { ...super.getStartupConf(), ...extra };
    }
  }
  return StartupClient as unknown as typeof pg.Client;
}

/**
 * Throw E_CONFIG when an untracked setting the value parsers rely on differs
 * on the server behind PgBouncer (e.g. `ALTER DATABASE … SET IntervalStyle`):
 * Ferry cannot set it per session there.
 */
export async function checkUntrackedSettings(
  query: (sql: string, params: unknown[]) => Promise<{ rows: { value: string }[] }>,
  redactedUrl: string,
): Promise<void> {
  for (const [name, expected] of untrackedSessionSettings()) {
    const { rows } = await query('select current_setting($1) as value', [name]);
    const value = rows[0]?.value;
    if (value !== undefined && value.toLowerCase() !== expected.toLowerCase()) {
      throw new FerryError(
        E_CONFIG,
        `The server behind PgBouncer at ${redactedUrl} runs with ${name} = '${value}', Ferry needs '${expected}' ` +
          `and cannot set it per session through PgBouncer. Run ALTER ROLE <user> SET ${name} = '${expected}' ` +
          '(or ALTER DATABASE), or connect to PostgreSQL directly.',
        { details: { setting: name, value, expected } },
      );
    }
  }
}

/**
 * The direct URL for session work behind PgBouncer: `explicit` (the
 * `directUrl` option), else DIRECT_DATABASE_URL; undefined when neither is
 * set. It must be a PostgreSQL URL that is not itself marked `pgbouncer=true`.
 */
export function resolveDirectUrl(explicit: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const fromOption = explicit !== undefined && explicit.trim() !== '';
  const raw = fromOption ? explicit : env[DIRECT_URL_VARIABLE];
  if (raw === undefined || raw.trim() === '') return undefined;
  const what = fromOption ? 'The directUrl option' : DIRECT_URL_VARIABLE;
  const parsed = (() => {
    try {
      return parseDatabaseUrl(raw);
    } catch (err) {
      throw new FerryError(E_CONFIG, `${what} is not a valid database URL: ${(err as Error).message}`, {
        cause: err,
        details: fromOption ? { option: 'directUrl' } : { variable: DIRECT_URL_VARIABLE },
      });
    }
  })();
  if (parsed.backend !== 'postgres' || resolvePgbouncer(parsed.connectionString, false).pgbouncer) {
    throw new FerryError(
      E_CONFIG,
      `${what} (${parsed.redacted}) must be a postgres:// URL straight to PostgreSQL, not through PgBouncer.`,
      { details: fromOption ? { option: 'directUrl' } : { variable: DIRECT_URL_VARIABLE } },
    );
  }
  return parsed.connectionString;
}

/** E_DIRECT_URL_REQUIRED: `what` holds session state, which PgBouncer in transaction mode does not keep. */
export function directUrlRequired(what: string, redactedUrl: string): FerryError {
  return new FerryError(
    E_DIRECT_URL_REQUIRED,
    `${what} needs one PostgreSQL session for its whole run, and ${redactedUrl} goes through PgBouncer ` +
      '(pgbouncer=true), which in transaction pooling mode hands each transaction to another server connection. ' +
      `Set ${DIRECT_URL_VARIABLE} (or the directUrl option) to a URL straight to PostgreSQL, bypassing PgBouncer.`,
    { details: { variable: DIRECT_URL_VARIABLE, url: redactedUrl } },
  );
}
