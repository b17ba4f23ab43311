/**
 * The node-postgres pool behind the `postgres` backend.
 *
 * Three jobs beyond `new pg.Pool()`: settings from options and env (with the
 * variable named when a value is bad), the shared value policy of types.ts
 * through a per-pool `types` object (pg's global `types` is never touched, so
 * other pg users in the same process keep their behaviour), and connect
 * failures turned into one E_CONNECT error that says what to check and never
 * carries the password. `sslmode` is Ferry's business too, not pg's (ssl.ts).
 * Behind PgBouncer (`pgbouncer=true`) the startup packet carries only what
 * PgBouncer accepts (pgbouncer.ts).
 */
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import pg from 'pg';
import { type Duration, toMs, toWholeSeconds } from '../duration.js';
import { E_CLOSED, E_CONFIG, E_CONNECT, FerryError } from '../errors.js';
import type { LayerLogger } from '../logger.js';
import type { ObserverSlot } from './observer.js';
import {
  checkUntrackedSettings,
  clientWithStartupParameters,
  resolvePgbouncer,
  trackedSessionSettings,
} from './pgbouncer.js';
import { refusedSslChoice, resolveSsl } from './ssl.js';
import {
  ARRAY_TYPES_SQL,
  type ArrayTypeRow,
  prepareParam,
  resolveUnknownTypes,
  SESSION_SETTINGS,
  TypeRegistry,
} from './types.js';
import { redactText, redactUrl, urlSecrets } from './url.js';

export interface PoolOptions {
  /** Most connections open at once (default 10). */
  max?: number;
  /** Close a connection idle this long (default 10 000 ms; a Duration: ms, or e.g. '10s'). */
  idleTimeoutMillis?: Duration;
  /** Give up connecting, or waiting for a free connection, after this long (default 5 000 ms, or e.g. '5s'). */
  connectionTimeoutMillis?: Duration;
  /**
   * Server-side `statement_timeout` for every session (default 30 000 ms, or e.g. '30s'; 0 = none).
   * Through PgBouncer it cannot be sent: the role's or database's setting applies, and a value here is E_CONFIG.
   */
  statementTimeoutMillis?: Duration;
  /**
   * Retire connections older than this (default 0 = never). A bare number
   * stays seconds, as the name says (it predates Durations); a Duration string
   * ('30m', '1h') must be a whole number of seconds.
   */
  maxLifetimeSeconds?: number | Exclude<Duration, number>;
  /** `application_name` shown in pg_stat_activity (default 'ferry'). */
  applicationName?: string;
  /**
   * The URL goes through PgBouncer in transaction pooling mode (default false;
   * `?pgbouncer=true|false` in the URL wins, as Prisma spells it): only startup
   * parameters PgBouncer accepts are sent, and session work needs a direct
   * URL (see pgbouncer.ts).
   */
  pgbouncer?: boolean;
}

/** The pool options as numbers: milliseconds, and seconds for `maxLifetimeSeconds`. */
export interface ResolvedPoolOptions {
  max: number;
  idleTimeoutMillis: number;
  connectionTimeoutMillis: number;
  statementTimeoutMillis: number;
  maxLifetimeSeconds: number;
  applicationName: string;
  /** Through PgBouncer (the option, or the URL's `pgbouncer=`); see pgbouncer.ts. */
  pgbouncer: boolean;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

export const POOL_DEFAULTS: ResolvedPoolOptions = {
  max: 10,
  idleTimeoutMillis: 10_000,
  connectionTimeoutMillis: 5_000,
  statementTimeoutMillis: 30_000,
  maxLifetimeSeconds: 0,
  applicationName: 'ferry',
  pgbouncer: false,
};

/**
 * Explicit options win, then env, then defaults. Time options and their
 * variables take a Duration (`'5s'`, `'1m'`) or a bare number in the unit the
 * name says (ms, or s for the max lifetime), as they always did. `DB_POOL_SIZE` +
 * `DB_MAX_OVERFLOW` are the SQLAlchemy-style knobs existing deployments set;
 * the pool max is their sum (overflow 0, size 10 when only one is given).
 */
export function resolvePoolOptions(
  options: PoolOptions = {},
  env: NodeJS.ProcessEnv = process.env,
  connectionString?: string,
): ResolvedPoolOptions {
  const fromEnv = (name: string, min: number): number | undefined => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return undefined;
    return checkInt(Number(raw), min, () => `Environment variable ${name}="${raw}"`);
  };
  const explicit = (key: 'max', min: number): number | undefined => {
    const value = options[key];
    return value === undefined ? undefined : checkInt(value, min, () => `Pool option ${key}=${String(value)}`);
  };
  // A time option, else its variable (bare digits there are `unit`: ms, or s), else undefined.
  const time = (key: TimeKey, variable: string, min: number, unit: 'ms' | 's'): number | undefined => {
    const value = options[key];
    if (value !== undefined) return checkTime(value, unit, min, `Pool option ${key}=${JSON.stringify(value)}`, {});
    const raw = env[variable]?.trim();
    if (raw === undefined || raw === '') return undefined;
    const parsed = /^\d+$/.test(raw) ? Number(raw) : raw;
    return checkTime(parsed, unit, min, `Environment variable ${variable}="${raw}"`, { variable });
  };

  let max = explicit('max', 1) ?? fromEnv('FERRY_POOL_MAX', 1);
  if (max === undefined) {
    const size = fromEnv('DB_POOL_SIZE', 0);
    const overflow = fromEnv('DB_MAX_OVERFLOW', 0);
    if (size !== undefined || overflow !== undefined) {
      max = (size ?? POOL_DEFAULTS.max) + (overflow ?? 0);
      if (max < 1) {
        throw new FerryError(E_CONFIG, 'DB_POOL_SIZE + DB_MAX_OVERFLOW must allow at least 1 connection, got 0.', {
          details: { variable: 'DB_POOL_SIZE' },
        });
      }
    }
  }
  const applicationName = options.applicationName ?? POOL_DEFAULTS.applicationName;
  if (options.pgbouncer !== undefined && typeof options.pgbouncer !== 'boolean') {
    throw new FerryError(
      E_CONFIG,
      `Pool option pgbouncer=${String(options.pgbouncer)} is not valid: expected a boolean.`,
      {
        details: { option: 'pgbouncer' },
      },
    );
  }
  const pgbouncer =
    connectionString === undefined
      ? (options.pgbouncer ?? POOL_DEFAULTS.pgbouncer)
      : resolvePgbouncer(connectionString, options.pgbouncer).pgbouncer;
  let statementTimeoutMillis = time('statementTimeoutMillis', 'FERRY_STATEMENT_TIMEOUT_MS', 0, 'ms');
  if (pgbouncer) {
    // PgBouncer refuses a statement_timeout startup parameter and does not
    // replay a SET on the next transaction's server connection: the role's
    // (or database's) setting applies, so asking for another is an error.
    if (statementTimeoutMillis !== undefined && statementTimeoutMillis !== 0) {
      const variable = options.statementTimeoutMillis === undefined ? 'FERRY_STATEMENT_TIMEOUT_MS' : undefined;
      throw new FerryError(
        E_CONFIG,
        `${variable ? `Environment variable ${variable}` : 'Pool option statementTimeoutMillis'}=${statementTimeoutMillis} ` +
          'cannot be applied through PgBouncer (pgbouncer=true): it refuses the statement_timeout startup parameter ' +
          "and keeps no session SET. Set it on the role instead (ALTER ROLE <user> SET statement_timeout = '30s'), " +
          'or leave it unset (or 0).',
        { details: variable ? { variable } : { option: 'statementTimeoutMillis' } },
      );
    }
    statementTimeoutMillis = 0;
  }
  return {
    max: max ?? POOL_DEFAULTS.max,
    idleTimeoutMillis:
      time('idleTimeoutMillis', 'FERRY_POOL_IDLE_TIMEOUT_MS', 0, 'ms') ?? POOL_DEFAULTS.idleTimeoutMillis,
    connectionTimeoutMillis:
      time('connectionTimeoutMillis', 'FERRY_CONNECT_TIMEOUT_MS', 1, 'ms') ?? POOL_DEFAULTS.connectionTimeoutMillis,
    statementTimeoutMillis: statementTimeoutMillis ?? POOL_DEFAULTS.statementTimeoutMillis,
    maxLifetimeSeconds:
      time('maxLifetimeSeconds', 'FERRY_POOL_MAX_LIFETIME_S', 0, 's') ?? POOL_DEFAULTS.maxLifetimeSeconds,
    applicationName,
    pgbouncer,
  };
}

type TimeKey = 'idleTimeoutMillis' | 'connectionTimeoutMillis' | 'statementTimeoutMillis' | 'maxLifetimeSeconds';

/**
 * A time option as a whole number of `unit` >= `min`, parsed by duration.ts
 * (the one parser). A bare number is already in `unit`. Failures are
 * E_CONFIG naming the option or variable, as the other pool settings are.
 */
export function checkTime(
  value: unknown,
  unit: 'ms' | 's',
  min: number,
  what: string,
  details: { variable?: string },
): number {
  const expected =
    unit === 'ms'
      ? `a whole number of milliseconds >= ${min}, or a duration such as '500ms', '5s', '1m'`
      : `a whole number of seconds >= ${min}, or a duration such as '30s', '30m', '1h'`;
  let n: number;
  try {
    if (typeof value === 'number') n = value;
    else if (unit === 'ms') n = toMs(value as Duration, what, E_CONFIG);
    else n = toWholeSeconds(value as Duration, what, E_CONFIG);
  } catch (err) {
    throw new FerryError(E_CONFIG, `${what} is not valid: expected ${expected}.`, {
      cause: err,
      details: details.variable ? details : { option: what },
    });
  }
  if (Number.isSafeInteger(n) && n >= min) return n;
  throw new FerryError(E_CONFIG, `${what} is not valid: expected ${expected}.`, {
    details: details.variable ? details : { option: what },
  });
}

function checkInt(value: number, min: number, what: () => string): number {
  if (Number.isSafeInteger(value) && value >= min) return value;
  const variable = /^Environment variable (\w+)/.exec(what())?.[1];
  throw new FerryError(E_CONFIG, `${what()} is not valid: expected a whole number >= ${min}.`, {
    details: variable ? { variable } : { option: what() },
  });
}

export interface PgPoolOptions {
  pool?: PoolOptions;
  env?: NodeJS.ProcessEnv;
  /** Errors of idle clients (server restarts, killed backends), already redacted. */
  onError?: (err: Error) => void;
  /** The 'db' layer of the `logger` option: the same background errors, as `error` lines. */
  log?: LayerLogger;
  /** Where connection checkouts are reported (wait time, timeouts); see observer.ts. */
  observers?: ObserverSlot;
}

export interface PgPool {
  /** For Kysely's PostgresDialect. Its `end()` does nothing: `close()` on this object owns shutdown. */
  readonly kyselyPool: PostgresPool;
  readonly registry: TypeRegistry;
  readonly options: ResolvedPoolOptions;
  readonly redactedUrl: string;
  /** Check out a client; failures become E_CONNECT. Call `release()` on it. */
  connect(): Promise<PostgresPoolClient>;
  /** Re-read array types (enum and composite arrays) from pg_type. */
  refreshTypes(): Promise<void>;
  stats(): PoolStats;
  close(): Promise<void>;
}

type ResolvedSslOption = ReturnType<typeof resolveSsl>['ssl'];

export function createPgPool(connectionString: string, opts: PgPoolOptions = {}): PgPool {
  const options = resolvePoolOptions(opts.pool, opts.env, connectionString);
  const redactedUrl = redactUrl(connectionString);
  const secrets = urlSecrets(connectionString);
  const registry = new TypeRegistry();
  const target = describeTarget(connectionString);
  // Checked with the pool options, before anything connects: a bad sslmode is a config error.
  const ssl = resolveSsl(connectionString, opts.env);
  // Behind PgBouncer: no `options` (refused), the tracked settings as startup parameters of their own.
  const plain = resolvePgbouncer(ssl.url, options.pgbouncer).url;
  const { url, startupOptions } = options.pgbouncer
    ? { url: plain, startupOptions: undefined }
    : withSessionOptions(plain);
  const Client = options.pgbouncer ? clientWithStartupParameters(trackedSessionSettings()) : undefined;

  // Only the sanitized copy is reported: the driver's error can reference client config (the password).
  const backgroundError = (err: unknown, msg: string): void => {
    const safe = sanitize(err, secrets);
    opts.log?.error({ err: safe, url: redactedUrl }, msg);
    opts.onError?.(safe);
  };
  const makePool = (sslOption: ResolvedSslOption): pg.Pool => {
    const pool = new pg.Pool({
      connectionString: url,
      ...(sslOption === undefined ? {} : { ssl: sslOption }),
      max: options.max,
      idleTimeoutMillis: options.idleTimeoutMillis,
      connectionTimeoutMillis: options.connectionTimeoutMillis,
      maxLifetimeSeconds: options.maxLifetimeSeconds,
      application_name: options.applicationName,
      // pg only sends statement_timeout when it is truthy, so 0 means "server default".
      statement_timeout: options.statementTimeoutMillis,
      ...(startupOptions === undefined ? {} : { options: startupOptions }),
      ...(Client === undefined ? {} : { Client }),
      types: {
        // Only text results are ever requested; binary stays pg's business.
        getTypeParser: ((oid: number, format?: string) =>
          format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : registry.parser(oid)) as never,
      },
    });
    // Without a listener, an idle client's error (server restart, pg_terminate_backend) crashes the process.
    pool.on('error', (err) => backgroundError(err, 'an idle database connection failed'));
    return pool;
  };
  const first = makePool(ssl.ssl);
  let raw = first;

  let closed = false;
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  // Clients between connect() and release(): an idle client's error also reaches the pool's
  // 'error' listener, so reporting it here too would report one failure twice.
  const checkedOut = new WeakSet<pg.PoolClient>();

  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    let wrapper = wrappers.get(client);
    if (!wrapper) {
      // pg-pool only listens for errors on idle clients: a server restart or a
      // killed backend while this client is checked out would otherwise be an
      // unhandled 'error' event that ends the process. The failing query still
      // rejects, so callers (the importer's retry) see it.
      client.on('error', (err) => {
        if (checkedOut.has(client)) backgroundError(err, 'a checked-out database connection failed');
      });
      const runText = async (text: string, params?: readonly unknown[]) => {
        const result = await client.query(text, (params ?? []).map(prepareParam));
        for (const r of Array.isArray(result) ? (result as pg.QueryResult[]) : [result]) {
          await resolveUnknownTypes(registry, r.fields, r.rows, async (sql, args) => {
            return (await client.query<ArrayTypeRow>(sql, args)).rows;
          });
        }
        return result;
      };
      wrapper = {
        query: ((sqlOrCursor: unknown, params?: readonly unknown[]) => {
          // Cursors and COPY streams are returned as they are (synchronously), not wrapped in a promise.
          if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as never);
          return runText(sqlOrCursor, params);
        }) as unknown as PostgresPoolClient['query'],
        // `release(true)` destroys a client whose connection broke (raw sessions use it).
        release: ((destroy?: boolean) => {
          checkedOut.delete(client);
          return client.release(destroy);
        }) as PostgresPoolClient['release'],
      };
      wrappers.set(client, wrapper);
    }
    return wrapper;
  };

  const connect = async (): Promise<PostgresPoolClient> => {
    const observer = opts.observers?.current;
    if (observer?.onAcquire === undefined) return checkout();
    const start = performance.now();
    try {
      const client = await checkout();
      observer.onAcquire({ ms: performance.now() - start, timedOut: false });
      return client;
    } catch (err) {
      // Waited out connectionTimeoutMillis: for a free pooled connection, or for a new one to connect.
      const code = (err as FerryError).details?.code;
      const timedOut = code === 'POOL_EXHAUSTED' || code === 'CONNECT_TIMEOUT';
      observer.onAcquire({ ms: performance.now() - start, timedOut });
      throw err;
    }
  };

  const checkout = async (): Promise<PostgresPoolClient> => {
    if (closed) throw new FerryError(E_CLOSED, `The database handle for ${redactedUrl} has been closed.`);
    const tried = raw;
    let client: pg.PoolClient;
    try {
      client = await tried.connect();
    } catch (err) {
      // sslmode=allow/prefer: the server refused the first kind of connection,
      // so switch (once, for good) to the other, as libpq does per connection.
      if (tried !== first || ssl.fallback === null || !refusedSslChoice(err, ssl.ssl)) {
        throw connectError(err, { redactedUrl, secrets, target, options });
      }
      if (raw === first) {
        raw = makePool(ssl.fallback);
        first.end().catch(() => {});
      }
      try {
        client = await raw.connect();
      } catch (retryErr) {
        throw connectError(retryErr, { redactedUrl, secrets, target, options });
      }
    }
    checkedOut.add(client);
    return wrap(client);
  };

  let closing: Promise<void> | undefined;
  return {
    kyselyPool: { connect, end: async () => {} },
    registry,
    options,
    redactedUrl,
    connect,
    async refreshTypes() {
      const client = await connect();
      try {
        const { rows } = await client.query<ArrayTypeRow>(ARRAY_TYPES_SQL, []);
        registry.setArrayTypes(rows);
        if (options.pgbouncer) await checkUntrackedSettings((s, p) => client.query(s, p), redactedUrl);
      } finally {
        client.release();
      }
    },
    stats: () => ({ total: raw.totalCount, idle: raw.idleCount, waiting: raw.waitingCount, max: options.max }),
    close() {
      closed = true;
      closing ??= Promise.all([raw.end(), raw === first ? undefined : first.end().catch(() => {})]).then(() => {});
      return closing;
    },
  };
}

/**
 * Add Ferry's session settings as `-c` startup options. pg lets the URL
 * override explicit config, so a user's own `?options=` is moved out of the
 * URL and appended after ours (later `-c` wins, so theirs still apply).
 */
function withSessionOptions(connectionString: string): { url: string; startupOptions: string } {
  const ours = SESSION_SETTINGS.map(([name, value]) => `-c ${name}=${value.replace(/ /g, '\\ ')}`).join(' ');
  const url = new URL(connectionString);
  const theirs = url.searchParams.get('options');
  if (theirs === null) return { url: connectionString, startupOptions: ours };
  url.searchParams.delete('options');
  return { url: url.toString(), startupOptions: `${ours} ${theirs}` };
}

interface Target {
  host: string;
  port: string;
  database: string;
  user: string;
}

function describeTarget(connectionString: string): Target {
  const url = new URL(connectionString);
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return {
    host: decode(url.hostname) || url.searchParams.get('host') || 'localhost',
    port: url.port || url.searchParams.get('port') || '5432',
    database: decode(url.pathname.replace(/^\//, '')) || decode(url.username) || 'postgres',
    user: decode(url.username) || url.searchParams.get('user') || '(default user)',
  };
}

interface ConnectContext {
  redactedUrl: string;
  secrets: string[];
  target: Target;
  options: ResolvedPoolOptions;
}

/** Why a connect failed, in words, plus what to check. */
function explain(code: string | undefined, message: string, ctx: ConnectContext): { reason: string; hint: string } {
  const { host, port, database, user } = ctx.target;
  const timeout = ctx.options.connectionTimeoutMillis;
  switch (code) {
    case 'ECONNREFUSED':
      return {
        reason: `connection refused by ${host}:${port}`,
        hint: 'Is PostgreSQL running, and listening on that host and port?',
      };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { reason: `host "${host}" could not be resolved`, hint: 'Check the host name in the database URL.' };
    case 'ETIMEDOUT':
    case 'CONNECT_TIMEOUT':
      return {
        reason: `no answer from ${host}:${port} within ${timeout} ms`,
        hint: 'Check host, port, firewall and that the server is up; FERRY_CONNECT_TIMEOUT_MS raises the limit.',
      };
    case 'POOL_EXHAUSTED':
      return {
        reason: `no pooled connection became free within ${timeout} ms (all ${ctx.options.max} are in use)`,
        hint: 'Raise FERRY_POOL_MAX, or look for transactions or checked-out clients that are never released.',
      };
    case '28P01':
      return {
        reason: `password authentication failed for user "${user}"`,
        hint: 'Check the user name and password in the database URL.',
      };
    case '28000':
      return {
        reason: `the server rejected user "${user}" (${message})`,
        hint: "Check the user name, and the server's pg_hba.conf rules for this host, user and database.",
      };
    case '3D000':
      return {
        reason: `database "${database}" does not exist`,
        hint: `Create it (e.g. createdb ${database}) or fix the database name in the URL.`,
      };
    case '53300':
      return { reason: 'the server has too many connections', hint: 'Lower FERRY_POOL_MAX or raise max_connections.' };
    case '57P03':
      return { reason: 'the server is starting up or shutting down', hint: 'Retry in a moment.' };
    default:
      if (/unsupported startup parameter/i.test(message)) {
        return {
          reason: `the server refused a startup parameter (${message}): it looks like PgBouncer`,
          hint: ctx.options.pgbouncer
            ? 'Remove that parameter from the URL, or have PgBouncer list it in ignore_startup_parameters.'
            : 'Add pgbouncer=true to the URL (or the pgbouncer pool option) so Ferry sends only what PgBouncer accepts.',
        };
      }
      if (/does not support SSL/i.test(message)) {
        return {
          reason: 'the server does not accept SSL connections',
          hint: 'Use sslmode=prefer or sslmode=disable in the URL, or enable ssl on the server.',
        };
      }
      return { reason: message || 'unknown error', hint: 'Check the database URL and that the server is reachable.' };
  }
}

function connectError(err: unknown, ctx: ConnectContext): FerryError {
  const code = errorCode(err);
  const message = redactText(firstMessage(err), ctx.secrets);
  const { reason, hint } = explain(code, message, ctx);
  return new FerryError(E_CONNECT, `Cannot connect to PostgreSQL at ${ctx.redactedUrl}: ${reason}. ${hint}`, {
    // Never the driver's error itself: pg errors can reference client config.
    cause: sanitize(err, ctx.secrets),
    details: {
      code: code ?? null,
      host: ctx.target.host,
      port: ctx.target.port,
      database: ctx.target.database,
      url: ctx.redactedUrl,
    },
  });
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[]; message?: unknown; cause?: unknown };
  if (typeof e?.code === 'string') return e.code;
  // localhost → ::1 and 127.0.0.1: Node reports an AggregateError of both attempts.
  if (Array.isArray(e?.errors)) for (const inner of e.errors) if (errorCode(inner)) return errorCode(inner);
  if (typeof e?.message === 'string') {
    if (e.message.includes('timeout exceeded when trying to connect')) return 'POOL_EXHAUSTED';
    if (/connection timeout|timeout expired/i.test(e.message)) return 'CONNECT_TIMEOUT';
  }
  return e?.cause ? errorCode(e.cause) : undefined;
}

function firstMessage(err: unknown): string {
  const e = err as { message?: unknown; errors?: unknown[] };
  if (typeof e?.message === 'string' && e.message !== '') return e.message;
  if (Array.isArray(e?.errors) && e.errors.length > 0) return firstMessage(e.errors[0]);
  return String(err);
}

/** A fresh Error with the redacted message and code only: no stack, cause or fields from the original. */
function sanitize(err: unknown, secrets: string[]): Error {
  const safe = new Error(redactText(firstMessage(err), secrets));
  safe.name = err instanceof Error ? err.name : 'Error';
  // Our own frames would only mislead; the driver's are gone on purpose.
  safe.stack = `${safe.name}: ${safe.message}`;
  const code = errorCode(err);
  if (code) (safe as Error & { code?: string }).code = code;
  return safe;
}
