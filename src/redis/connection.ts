/**
 * The only place Ferry makes a Redis client, from a URL, or takes one the app
 * made. Everything else sees a `RedisLike`: the subset of an ioredis client
 * Ferry calls, described structurally (as Kysely's `PostgresPool` describes
 * the part of `pg.Pool` it needs), so a second copy of ioredis, a key-prefixed
 * or auto-pipelining client, all fit.
 *
 * What `redis` options accept (`RedisInput`):
 * - a string: `redis://[user:password@]host[:port][/db]`, `rediss://...` (TLS;
 *   Upstash's Redis endpoint works like any Redis over TLS) or
 *   `unix:///path/to/redis.sock[?db=N]` (a Unix socket: ioredis's `path`).
 *   Ferry creates the client and owns it (closes it in `close()`);
 * - `redis+cluster://[user:password@]h1:p1,h2:p2` (`rediss+cluster://` for TLS):
 *   a Redis Cluster through ioredis's `Cluster` client (see cluster.ts);
 * - a client (an ioredis `Redis` or `Cluster`): used as is and never closed by Ferry;
 * - `null` / `false`: no Redis;
 * - `undefined`: `REDIS_URL` of `env` (default `process.env`) when set, else no Redis.
 *
 * Anything else is `E_REDIS_URL`. URLs are only ever shown redacted
 * (`redis://:****@host:6379`), and the password is returned in `secrets` so
 * callers can scrub driver messages.
 *
 * TLS (`rediss://`): the server certificate is checked against Node's CAs
 * (enough for Upstash and other public endpoints: `rediss://default:<token>@host:port`).
 * A server with a private CA takes `tls: { ca }` / `tls: { caFile }`, or the
 * environment's `REDIS_TLS_CA=<PEM file>`; `REDIS_TLS_REJECT_UNAUTHORIZED=0`
 * (or `tls: { rejectUnauthorized: false }`) encrypts without checking. These
 * apply to `rediss://` only; `tls` options with a `redis://` URL are
 * `E_REDIS_URL` (they would not make it encrypted). A refused certificate is
 * reported with what to do about it (see `explainTlsError`).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Command, Redis, type RedisOptions } from 'ioredis';
import { redactText, redactUrl, urlSecrets } from '../db/url.js';
import { E_CONFIG, FerryError } from '../errors.js';
import { type Logger, layerLogger } from '../logger.js';
import { clusterOptions, isClusterUrl, parseClusterUrl } from './cluster.js';
import { E_REDIS_URL } from './errors.js';

export { E_REDIS_URL };

type Arg = string | number | Buffer;

/** The subset of an ioredis client that Ferry uses. */
export interface RedisLike {
  readonly status: string;
  readonly options?: {
    password?: string | null;
    keyPrefix?: string;
    enableAutoPipelining?: boolean;
    /** A `Cluster`'s per-node options. */
    redisOptions?: { password?: string | null };
  };
  on(event: string, listener: (...args: any[]) => void): unknown;
  get(key: string): Promise<string | null>;
  del(...keys: string[]): Promise<number>;
  unlink(...keys: string[]): Promise<number>;
  ping(): Promise<string>;
  publish(channel: string, message: string): Promise<number>;
  subscribe(...channels: string[]): Promise<unknown>;
  scan(
    cursor: string,
    matchToken: 'MATCH',
    pattern: string,
    countToken: 'COUNT',
    count: number,
  ): Promise<[cursor: string, keys: string[]]>;
  evalsha(sha: string, numberOfKeys: number, ...args: Arg[]): Promise<unknown>;
  eval(script: string, numberOfKeys: number, ...args: Arg[]): Promise<unknown>;
  defineCommand(name: string, definition: { numberOfKeys?: number; lua?: string }): void;
  /** Absent on some wrappers: Ferry then uses `get` (see cache/l2.ts). */
  sendCommand?(command: Command): unknown;
  /** A client's `(override?: RedisOptions)`, a Cluster's `(startupNodes?, options?)`: see bus.ts. */
  duplicate(...args: any[]): RedisLike;
  quit(): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
}

export type RedisInput = string | RedisLike | null | false | undefined;

/**
 * How a client Ferry creates behaves while Redis is away:
 * - `queue` (sessions, rate limits): commands wait for a reconnection, up to
 *   `commandTimeoutMs`, and are retried once;
 * - `fail-fast` (the cache): a command fails at once while disconnected and
 *   is never resent after a reconnection (a late write could land after a
 *   newer one); the cache's breaker does the waiting;
 * - `once` (the import source): connect on demand, never reconnect.
 */
export type RedisMode = 'queue' | 'fail-fast' | 'once';

/**
 * TLS settings of a `rediss://` connection: Node's `tls.connect` options
 * (`ca`, `rejectUnauthorized`, `servername`, `cert`, `key`...) plus `caFile`,
 * a PEM file read when the client is created. They override the
 * environment's `REDIS_TLS_CA` / `REDIS_TLS_REJECT_UNAUTHORIZED`.
 */
export interface RedisTlsOptions extends ConnectionOptions {
  /** Path of a PEM file with the CA certificate(s) to trust (in place of Node's). */
  caFile?: string;
}

export interface RedisConnectionOptions {
  mode?: RedisMode;
  /** `queue` mode: fail a command that got no reply within this many ms (queued ones included). Default 500. */
  commandTimeoutMs?: number;
  /** Give up a connection attempt after this many ms. Default 2000. */
  connectTimeoutMs?: number;
  /** Longest pause between reconnection attempts, ms. Default 2000 (`queue`), 1000 (`fail-fast`). */
  maxReconnectDelayMs?: number;
  /** Extra ioredis options for clients Ferry creates. */
  ioredis?: RedisOptions;
  /** TLS settings for a `rediss://` URL (see `RedisTlsOptions`); default from `REDIS_TLS_CA` / `REDIS_TLS_REJECT_UNAUTHORIZED`. */
  tls?: RedisTlsOptions;
  /** Where `REDIS_URL`, `REDIS_TLS_CA` and `REDIS_TLS_REJECT_UNAUTHORIZED` are read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Who asks, for messages (`createCache`, `createSessionStore`...). */
  what?: string;
  /** Connection errors of clients Ferry creates go here (debug, `layer: 'redis'`, password scrubbed). */
  logger?: Logger | false;
}

export interface RedisConnection {
  readonly client: RedisLike;
  /** Ferry created the client (from a URL) and closes it. */
  readonly owned: boolean;
  /** The URL with its password masked, or `'(ioredis client)'`. */
  readonly shown: string;
  /** Strings to scrub from driver messages (the password, raw and decoded). */
  readonly secrets: readonly string[];
  /** Quit an owned client (waits for pending replies, then disconnects); a caller's client is left alone. */
  close(): Promise<void>;
}

/** True when `value` looks like an ioredis client (duck-typed so a second copy of ioredis still works). */
export function isRedisClient(value: unknown): value is RedisLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RedisLike).evalsha === 'function' &&
    typeof (value as RedisLike).duplicate === 'function' &&
    typeof (value as RedisLike).status === 'string'
  );
}

/** Resolve `input` (see the module comment) to a connection, or `null` for no Redis. */
export function openRedis(input: RedisInput, options: RedisConnectionOptions = {}): RedisConnection | null {
  const what = options.what ?? 'redis';
  let source: RedisInput = input;
  if (source === undefined) source = (options.env ?? process.env).REDIS_URL?.trim() || null;
  if (source === null || source === false) return null;
  if (isRedisClient(source)) {
    const password = source.options?.password ?? source.options?.redisOptions?.password;
    return {
      client: source,
      owned: false,
      shown: '(ioredis client)',
      secrets: password ? [password] : [],
      close: async () => {},
    };
  }
  if (typeof source !== 'string') {
    throw new FerryError(
      E_REDIS_URL,
      `${what}: \`redis\` must be a URL (redis://, rediss://, unix://, redis+cluster://), an ioredis client or null, got ${typeof source}.`,
    );
  }
  const url = source.trim();
  if (isClusterUrl(url)) {
    const { client, secrets } = createClusterClient(url, options);
    return { client, owned: true, shown: redactUrl(url), secrets, close: () => closeClient(client) };
  }
  const client = createRedisClient(url, options);
  return {
    client,
    owned: true,
    shown: redactUrl(url),
    secrets: urlSecrets(url),
    close: () => closeClient(client),
  };
}

/**
 * A new ioredis client for `url` (E_REDIS_URL if it is not one), owned by the
 * caller. For code that needs the whole ioredis API (the import source's
 * pipelines); everything else goes through `openRedis`.
 */
export function createRedisClient(url: string, options: RedisConnectionOptions = {}): Redis {
  if (isClusterUrl(url)) {
    throw new FerryError(
      E_REDIS_URL,
      `${options.what ?? 'redis'}: "${redactUrl(url.trim())}" is a Redis Cluster URL; this takes one Redis server: use redis://host:port (a node of the cluster reads only its own slots).`,
      { details: { url: redactUrl(url.trim()) } },
    );
  }
  const where = parseRedisUrl(url.trim(), options.what);
  const tls = tlsSettings(url.trim(), where, options);
  const client = new Redis({ ...where, ...(tls ? { tls } : {}), ...clientOptions(options) });
  // Failures surface through the commands that fail; without a listener
  // ioredis would print every reconnection error. The log line is debug:
  // the component using the client reports what the failure means.
  const log = layerLogger(options.logger, 'redis');
  const secrets = urlSecrets(url.trim());
  const shown = redactUrl(url.trim());
  const watch = (c: Redis): Redis => {
    // Registered first, so every later listener (the announcers, health) sees the explained message.
    c.on('error', (err: Error) => {
      guardStream(c);
      if (tls) explainTlsError(err);
      log.debug({ url: shown, msg: redactText(err?.message ?? String(err), secrets) }, 'redis: connection error');
    });
    // Copies (the cache's subscriber connection) get the same listener first.
    const duplicate = c.duplicate.bind(c);
    c.duplicate = (override?: Partial<RedisOptions>) => watch(duplicate(override));
    return c;
  };
  return watch(client);
}

/**
 * A new ioredis `Cluster` for a `redis+cluster://` URL (see cluster.ts), with
 * the same modes, TLS settings and error logging as a single client.
 */
function createClusterClient(url: string, options: RedisConnectionOptions): { client: Cluster; secrets: string[] } {
  const parsed = parseClusterUrl(url, options.what);
  const tls = tlsSettings(url, parsed.tls ? { tls: {} } : {}, options);
  const client = new Cluster(parsed.nodes, clusterOptions(clientOptions(options), parsed, tls));
  const log = layerLogger(options.logger, 'redis');
  const shown = redactUrl(url);
  const onError = (err: Error) => {
    if (tls) explainTlsError(err);
    log.debug({ url: shown, msg: redactText(err?.message ?? String(err), parsed.secrets) }, 'redis: connection error');
  };
  client.on('error', onError);
  // A node's connection failing is reported here, not as the cluster's `error`.
  client.on('node error', onError);
  return { client, secrets: parsed.secrets };
}

const guarded = new WeakSet<object>();

/**
 * Keep a failed connection's socket from crashing the process. ioredis
 * listens for one `error` per socket (`once`), but a TLS socket whose
 * certificate was refused can emit a second one (the server's alert,
 * `ERR_SSL_TLSV1_ALERT_DECODE_ERROR`, sent straight to `emit` by Node's TLS
 * layer's `_emitTLSError`), which with no listener left is an uncaught
 * exception (timing-dependent: about half the runs of
 * examples/vin-bot/test/tls.test.ts hit it without this). The first
 * error has reached ioredis's handlers and the client's listeners by the time
 * this runs; later ones on the same socket mean nothing more.
 */
function guardStream(client: Redis): void {
  const stream = client.stream as (NodeJS.EventEmitter & object) | undefined;
  if (!stream || guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', () => {});
}

/**
 * The `tls` option of a client for `url`: undefined for `redis://` and
 * `unix://` (an explicit `options.tls` there is E_REDIS_URL), else the URL's
 * `{}` with `REDIS_TLS_CA` / `REDIS_TLS_REJECT_UNAUTHORIZED` of the
 * environment, overridden by `options.tls` (its `caFile` read here).
 */
function tlsSettings(url: string, where: RedisOptions, options: RedisConnectionOptions): ConnectionOptions | undefined {
  const what = options.what ?? 'redis';
  if (!where.tls) {
    if (options.tls) {
      throw new FerryError(
        E_REDIS_URL,
        `${what}: TLS options were given for "${redactUrl(url)}", which is not encrypted: use a rediss:// URL for TLS.`,
        { details: { url: redactUrl(url) } },
      );
    }
    return undefined;
  }
  const env = options.env ?? process.env;
  const settings: ConnectionOptions = { ...where.tls };
  const envCa = env.REDIS_TLS_CA?.trim();
  if (envCa) settings.ca = readPem(envCa, 'REDIS_TLS_CA', what);
  const envReject = env.REDIS_TLS_REJECT_UNAUTHORIZED?.trim().toLowerCase();
  if (envReject) {
    if (!['0', 'false', '1', 'true'].includes(envReject)) {
      throw new FerryError(
        E_CONFIG,
        `${what}: REDIS_TLS_REJECT_UNAUTHORIZED=${envReject} is not a boolean: use 0 (do not check the certificate) or 1 (check it, the default).`,
        { details: { REDIS_TLS_REJECT_UNAUTHORIZED: envReject } },
      );
    }
    settings.rejectUnauthorized = envReject === '1' || envReject === 'true';
  }
  if (options.tls) {
    const { caFile, ...rest } = options.tls;
    Object.assign(settings, rest);
    if (caFile) settings.ca = readPem(caFile, 'tls.caFile', what);
  }
  return settings;
}

function readPem(file: string, name: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new FerryError(
      E_CONFIG,
      `${what}: cannot read ${name}=${file}: ${(err as Error).message}. Point it at a readable PEM file with the CA certificate of the Redis server.`,
      { details: { [name]: file } },
    );
  }
}

/** Node's codes for a server certificate that was refused. */
const CERT_ERRORS = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const EXPLAINED = Symbol('ferry.tlsExplained');

/**
 * Add what to do to a TLS failure's message (in place, once), so the
 * warnings that quote it say more than `self-signed certificate in
 * certificate chain`. Other errors are left alone.
 */
export function explainTlsError(err: unknown): void {
  if (!(err instanceof Error) || (err as { [EXPLAINED]?: true })[EXPLAINED]) return;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  let hint: string | undefined;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    hint = 'the certificate does not name this host: connect by a name it lists, or set tls.servername';
  } else if (CERT_ERRORS.has(code)) {
    hint =
      'the server certificate is not trusted: give the CA that signed it with REDIS_TLS_CA=<PEM file> or tls: { caFile }';
  } else if (/wrong version number|packet length too long|unknown protocol/i.test(err.message)) {
    hint = 'the server did not answer in TLS: is it a TLS port? use redis:// for a plain one';
  }
  if (!hint) return;
  Object.defineProperty(err, EXPLAINED, { value: true });
  err.message = `TLS: ${err.message} (${code || 'handshake failed'}); ${hint}`;
}

/** Where a URL points, as ioredis options; E_REDIS_URL for anything else. */
export function parseRedisUrl(url: string, what = 'redis'): RedisOptions {
  const shown = redactUrl(url);
  const bad = (why: string) =>
    new FerryError(
      E_REDIS_URL,
      `${what}: Unsupported Redis URL "${shown}" (${why}): use redis://[user:password@]host:port[/db], rediss://... for TLS, unix:///path/to/redis.sock, redis+cluster://host1:port1,host2:port2 for a Redis Cluster, or pass an ioredis client.`,
      { details: { url: shown } },
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad('malformed');
  }
  const protocol = parsed.protocol.toLowerCase();
  const auth: RedisOptions = {};
  if (parsed.username) auth.username = decodeURIComponent(parsed.username);
  if (parsed.password) auth.password = decodeURIComponent(parsed.password);
  if (protocol === 'unix:') {
    const path = decodeURIComponent(parsed.pathname);
    if (!path || path === '/') throw bad('no socket path');
    const db = parsed.searchParams.get('db');
    if (db !== null && !/^\d+$/.test(db)) throw bad('db must be a number');
    return { ...auth, path, ...(db !== null ? { db: Number(db) } : {}) };
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw bad(`scheme ${parsed.protocol}`);
  if (!parsed.hostname) throw bad('no host');
  const dbPath = parsed.pathname.replace(/^\//, '');
  if (dbPath !== '' && !/^\d+$/.test(dbPath)) throw bad('the path must be a database number');
  // Other query parameters are ioredis options, as ioredis itself reads them (`?family=6`).
  const query: Record<string, string | number> = {};
  for (const [k, v] of parsed.searchParams)
    if (k !== 'db') query[k] = k === 'family' && /^\d+$/.test(v) ? Number(v) : v;
  return {
    ...query,
    ...auth,
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(dbPath !== '' ? { db: Number(dbPath) } : {}),
    ...(protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

function clientOptions(options: RedisConnectionOptions): RedisOptions {
  const connectTimeout = options.connectTimeoutMs ?? 2_000;
  switch (options.mode ?? 'queue') {
    case 'fail-fast': {
      const maxDelay = options.maxReconnectDelayMs ?? 1_000;
      return {
        // Fail fast instead of queueing while disconnected; never resend a command
        // after a reconnect (a late write could land after a newer one).
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        connectTimeout,
        retryStrategy: (times) => Math.min(50 * times, maxDelay),
        lazyConnect: false,
        ...options.ioredis,
      };
    }
    case 'once':
      return { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, ...options.ioredis };
    default: {
      const maxDelay = options.maxReconnectDelayMs ?? 2_000;
      return {
        connectTimeout,
        commandTimeout: options.commandTimeoutMs ?? 500,
        // Queue while (re)connecting, but never longer than commandTimeout, and
        // do not replay a command on several reconnections.
        enableOfflineQueue: true,
        maxRetriesPerRequest: 1,
        retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), maxDelay),
        ...options.ioredis,
      };
    }
  }
}

async function closeClient(client: RedisLike): Promise<void> {
  if (client.status === 'end') return;
  // quit() waits for the server when connected; when Redis is gone it
  // would wait forever, so disconnect instead.
  if (client.status === 'ready') {
    await Promise.race([client.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
  }
  client.disconnect();
}

/**
 * A GET as a driver command object, for the cache's hit path: sent with
 * `sendCommand`, it is one round trip with no promise of ours around it.
 */
export function getCommand(key: string, keyPrefix: string | undefined): Command {
  return new Command('get', [key], { replyEncoding: 'utf8', keyPrefix });
}

export type { Command as RedisCommand };
