/**
 * `openDatabase`: the one way Ferry gets a database.
 *
 * With a DATABASE_URL it is PostgreSQL through a pg pool; without one it is an
 * embedded PGlite on disk, so a fresh checkout runs the same SQL as production
 * with nothing to install. Both come back as the same `DbHandle`, with the
 * same value types (see types.ts).
 */
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { type Dialect, Kysely, PostgresDialect, sql } from 'kysely';
import { E_CLOSED, E_CONFIG, E_CONNECT, FerryError } from '../errors.js';
import { type Logger, layerLogger } from '../logger.js';
import { acquireDataDirLock, type DataDirLock } from './data-dir-lock.js';
import { splitHosts } from './host-list.js';
import { createMultiHostPool } from './multi-host.js';
import type { ObserverSlot, QueryObserver } from './observer.js';
import { createPgPool, type PgPool, type PgPoolOptions, type PoolOptions, type PoolStats } from './pg-pool.js';
import { directUrlRequired, resolveDirectUrl } from './pgbouncer.js';
import { PGliteDialect, type PGliteLike } from './pglite-dialect.js';
import { loadPgliteExtensions, PGLITE_EXTENSIONS, pgliteExtensionClosure } from './pglite-extensions.js';
import { initdbInChild, needsInitdb } from './pglite-initdb.js';
import { type ReplicaOptions, type ResolvedReplicaOptions, resolveReplicaOptions } from './replica-options.js';
import { type ReplicaRouting, ReplicaSet } from './replicas.js';
import { RoutingDialect } from './routing-dialect.js';
import { observedSession, type RawSession, withPGliteSession, withPgSession } from './session.js';
import { type ParsedUrl, parseDatabaseUrl, redactUrl } from './url.js';

/**
 * Server settings of every embedded database, passed at start (`shared_buffers`
 * cannot be changed later). PGlite's default 128 MB of shared buffers makes
 * its WASM memory grow past the initial 128 MB at start, all of it resident:
 * with 32 MB an import of 200k messages peaked at 486 MB instead of 602 MB,
 * 2% slower (issue 13's measurements). Postgres itself does not need more for
 * a single-connection embedded database: COPY reads its input in slices.
 */
const PGLITE_SETTINGS = ['-c', 'shared_buffers=32MB'];

export const DEFAULT_DATA_DIR = './.ferry/pglite';

export interface OpenOptions {
  /** Database URL; beats `env.DATABASE_URL`. */
  url?: string;
  /**
   * When `url` goes through PgBouncer (`?pgbouncer=true`): a URL straight to
   * PostgreSQL for work that needs one session throughout (raw sessions:
   * imports' temp tables and COPY; the migration lock). Beats
   * `env.DIRECT_DATABASE_URL`; ignored without PgBouncer. Without it that work
   * throws E_DIRECT_URL_REQUIRED. Opened on first use.
   */
  directUrl?: string;
  /** PGlite data directory when no URL is given (else `env.FERRY_DATA_DIR`, else ./.ferry/pglite under `projectDir`). */
  dataDir?: string;
  /**
   * The project folder (the CLI passes the config file's folder): the default
   * data dir `./.ferry/pglite` lives there, so every subfolder of a project
   * opens the same database. Default `cwd`.
   */
  projectDir?: string;
  /** Called after PGlite created a new, empty database in a data dir that held none (not for memory://). */
  onCreate?: (dataDir: string) => void;
  pool?: PoolOptions;
  /** Environment to read (default `process.env`); tests pass their own instead of mutating the real one. */
  env?: NodeJS.ProcessEnv;
  /** Background errors (idle pool clients); already redacted. Also logged through `logger`. */
  onError?: (err: Error) => void;
  /**
   * A pino-compatible logger (Ferry's one `logger` option): background
   * connection errors (`error`) and opening (`debug`), under `layer: 'db'`,
   * passwords redacted. Default (and `false`): silent.
   */
  logger?: Logger | false;
  /**
   * PGlite only: extensions whose bundles to load (`pg_trgm`, `btree_gist`, ...;
   * see db/pglite-extensions.ts), so `CREATE EXTENSION` finds them. Extensions
   * already installed in the data dir are loaded without being listed. One
   * PGlite does not ship throws E_EXTENSION_UNAVAILABLE. Ignored on PostgreSQL.
   */
  extensions?: readonly string[];
  /** PGlite only: start from this data-dir tarball (`pglite.dumpDataDir()`), handy for test fixtures. */
  loadDataDir?: Blob;
  /** Base for relative paths in `url`, `dataDir`, DATABASE_URL and FERRY_DATA_DIR (default `process.cwd()`). */
  cwd?: string;
  /**
   * PostgreSQL streaming replicas to read from: selects outside a transaction
   * go to a healthy replica that has replayed the scope's writes; writes,
   * transactions and everything else stay on the primary (see replicas.ts,
   * routing-dialect.ts). `'env'`: the comma-separated `DATABASE_REPLICA_URLS`
   * (what `connect()` passes when the option is not given). Unset: none —
   * Ferry's own tools (CLI, shadow database, restore) open the primary alone,
   * whatever the environment says. PostgreSQL only: with PGlite or memory://
   * any replica is a configuration error.
   */
  replicas?: readonly string[] | 'env';
  /** How reads use the replicas: read-your-writes mode, lag bound, poll interval (see `ReplicaOptions`). */
  replicaOptions?: ReplicaOptions;
}

export interface DbHandle {
  readonly backend: 'postgres' | 'pglite';
  /** Build more Kysely instances (with plugins) on this; they share the connection(s) and need no destroy(). */
  readonly dialect: Dialect;
  /** A plain Kysely on `dialect`. */
  readonly db: Kysely<any>;
  /** e.g. 'postgresql://postgres:****@127.0.0.1:5432/test', 'pglite:/abs/dir' or 'memory://'. */
  readonly redactedUrl: string;
  /** Round-trip time of `select 1`, in ms. */
  ping(): Promise<number>;
  /** `show server_version`, e.g. '15.20 (Debian 15.20-0+deb12u1)' or '18.6'. */
  serverVersion(): Promise<string>;
  poolStats(): PoolStats;
  /**
   * The one query observer of this handle (see observer.ts): repositories on
   * it, raw sessions and connection checkouts report to `observers.current`.
   * Unset by default; ferry/ops' `createMetrics` sets it.
   */
  readonly observers: ObserverSlot;
  /** Re-read array types (enum arrays...) after DDL. Usually automatic; see types.ts. */
  refreshTypes(): Promise<void>;
  /**
   * Hold one connection for `fn` and talk to it in plain SQL and COPY (bulk
   * jobs: session temp tables, COPY FROM STDIN). On PGlite this holds the
   * only connection, so other work waits until `fn` settles. Behind PgBouncer
   * (`pgbouncer=true`) it is a connection of the direct URL (`directUrl`,
   * DIRECT_DATABASE_URL), else E_DIRECT_URL_REQUIRED.
   */
  session<T>(fn: (session: RawSession) => Promise<T>): Promise<T>;
  /** Close connections and release the data-dir lock; idempotent. */
  close(): Promise<void>;
  /** With read replicas: consistency scopes, tokens and replica health; undefined without replicas. */
  readonly replicas?: ReplicaRouting;
}

export async function openDatabase(options: OpenOptions = {}): Promise<DbHandle> {
  const target = resolveDatabaseTarget(options);
  const log = layerLogger(options.logger, 'db');
  let handle: DbHandle;
  const env = options.env ?? process.env;
  // Validated before anything opens: a replica list with PGlite is a configuration error.
  const replicas = resolveReplicaOptions(options.replicas, options.replicaOptions, env);
  if (target.backend === 'postgres') {
    handle = await openPostgres(target.connectionString, options, env, replicas);
  } else {
    if (replicas.urls.length > 0) {
      throw new FerryError(
        E_CONFIG,
        `Read replicas are configured (${options.replicas !== 'env' ? 'the replicas option' : 'DATABASE_REPLICA_URLS'}) but the database is ${target.redacted}: ` +
          'only PostgreSQL has streaming replicas. Set a postgresql:// URL, or remove the replicas.',
        { details: options.replicas !== 'env' ? { option: 'replicas' } : { variable: 'DATABASE_REPLICA_URLS' } },
      );
    }
    if (target.dataDir !== null) prepareDataDir(target.dataDir, target.redacted, shellSetting(options));
    handle = await openPGlite(target.dataDir, target.redacted, options);
  }
  log.debug({ backend: handle.backend, url: handle.redactedUrl }, 'database opened');
  return handle;
}

/**
 * Which setting named the embedded data dir when it came from the shell
 * (`--url`, DATABASE_URL, FERRY_DATA_DIR), else null (the code's `dataDir`,
 * the config's, or the default).
 */
function shellSetting(options: OpenOptions): string | null {
  const env = options.env ?? process.env;
  if (nonEmpty(options.url) !== undefined) return 'the database URL';
  if (nonEmpty(env.DATABASE_URL) !== undefined) return 'DATABASE_URL';
  if (nonEmpty(options.dataDir) === undefined && nonEmpty(env.FERRY_DATA_DIR) !== undefined) return 'FERRY_DATA_DIR';
  return null;
}

/**
 * Create the data dir. A dir named in the shell gets only its last folder
 * created: its parent must exist, so a typo (`pglite:/srv/ferri/db`) fails
 * here instead of quietly starting an empty database in new folders. The
 * default and code/config-named dirs live in the project and get their
 * parents (`.ferry/`) created.
 */
function prepareDataDir(dataDir: string, redactedUrl: string, namedBy: string | null): void {
  const parent = path.dirname(dataDir);
  if (namedBy !== null && !existsSync(parent)) {
    throw new FerryError(
      E_CONNECT,
      `Cannot open the embedded database at ${redactedUrl}: the folder ${parent} does not exist. ` +
        `Ferry creates the database folder but not its parents, so a mistyped ${namedBy} does not start an empty ` +
        `database somewhere new: create ${parent} first, or fix ${namedBy}.`,
      { details: { dataDir } },
    );
  }
  mkdirSync(dataDir, { recursive: true });
}

/**
 * Which database `openDatabase(options)` would open: `options.url`, else
 * `env.DATABASE_URL`, else PGlite at `options.dataDir ?? env.FERRY_DATA_DIR`,
 * else `./.ferry/pglite` in `projectDir`. Empty strings count as unset (a
 * blank line in .env). Settings from the shell (URLs, FERRY_DATA_DIR) and
 * `options.dataDir` resolve against `cwd`, as a shell user expects; only the
 * default belongs to the project.
 */
export function resolveDatabaseTarget(options: OpenOptions = {}): ParsedUrl {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const url = nonEmpty(options.url) ?? nonEmpty(env.DATABASE_URL);
  if (url !== undefined) return parseDatabaseUrl(url, cwd);
  const named = nonEmpty(options.dataDir) ?? nonEmpty(env.FERRY_DATA_DIR);
  const dataDir =
    named !== undefined ? path.resolve(cwd, named) : path.resolve(cwd, options.projectDir ?? '.', DEFAULT_DATA_DIR);
  return { backend: 'pglite', dataDir, redacted: `pglite:${dataDir}` };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

async function openPostgres(
  connectionString: string,
  options: OpenOptions,
  env: NodeJS.ProcessEnv,
  replicaOptions: ResolvedReplicaOptions,
): Promise<DbHandle> {
  const observers: ObserverSlot = { current: undefined };
  const log = layerLogger(options.logger, 'db');
  const poolOptions = {
    observers,
    pool: options.pool,
    env,
    onError: options.onError,
    log,
  };
  const pool = openPgPool(connectionString, poolOptions);
  // Behind PgBouncer, session work goes to a second pool on the direct URL, opened on first use.
  let directUrl: string | undefined;
  try {
    directUrl = pool.options.pgbouncer ? resolveDirectUrl(options.directUrl, env) : undefined;
  } catch (err) {
    await pool.close();
    throw err;
  }
  let direct: Promise<PgPool> | undefined;
  let directDb: Promise<Kysely<any>> | undefined;
  const directPool = (what: string): Promise<PgPool> => {
    if (directUrl === undefined) return Promise.reject(directUrlRequired(what, pool.redactedUrl));
    direct ??= (async () => {
      const opened = createPgPool(directUrl, { ...poolOptions, pool: { ...options.pool, pgbouncer: false } });
      try {
        await opened.refreshTypes();
      } catch (err) {
        await opened.close().catch(() => {});
        direct = undefined;
        throw err;
      }
      return opened;
    })();
    return direct;
  };
  let replicas: ReplicaSet | undefined;
  let replicaPools: PgPool[] = [];
  if (replicaOptions.urls.length > 0) {
    // Replica pools report no checkouts: the pool metrics stay the primary's.
    replicaPools = replicaOptions.urls.map((url) => {
      const parsed = parseDatabaseUrl(url, options.cwd);
      if (parsed.backend !== 'postgres') throw new Error('unreachable: resolveReplicaOptions checked the scheme');
      return openPgPool(parsed.connectionString, { pool: options.pool, env, onError: options.onError, log });
    });
    replicas = new ReplicaSet(pool, replicaPools, replicaOptions, observers, log);
  }
  const dialect = replicas ? new RoutingDialect(pool, replicas) : new PostgresDialect({ pool: pool.kyselyPool });
  const handle = new Handle({
    backend: 'postgres',
    dialect,
    redactedUrl: pool.redactedUrl,
    connectionString: directUrl ?? connectionString,
    observers,
    stats: () => pool.stats(),
    // Replicas have the primary's catalog; one that is down learns types lazily when it is back.
    refreshTypes: async () => {
      await pool.refreshTypes();
      await Promise.all(replicaPools.map((p) => p.refreshTypes().catch(() => {})));
      if (direct) await (await direct).refreshTypes();
    },
    session: pool.options.pgbouncer
      ? async (fn) =>
          withPgSession(await directPool('A raw session (handle.session(): imports, COPY, temp tables)'), fn)
      : (fn) => withPgSession(pool, fn),
    ...(pool.options.pgbouncer
      ? {
          sessionDb: (what: string) => {
            directDb ??= directPool(what).then(
              (p) => new Kysely<any>({ dialect: new PostgresDialect({ pool: p.kyselyPool }) }),
            );
            // A failed open is not remembered: the next call tries again.
            directDb.catch(() => {
              directDb = undefined;
            });
            return directDb;
          },
        }
      : {}),
    replicas,
    close: async () => {
      await replicas?.close();
      const opened = direct?.catch(() => undefined);
      await Promise.all([pool.close(), opened?.then((p) => p?.close())]);
    },
  });
  try {
    // Fail at open, within the connect timeout, rather than on the first query;
    // loading the array types doubles as the connectivity check.
    await pool.refreshTypes();
    // A replica down at open is no error: it is skipped until a poll finds it answering.
    await replicas?.start();
  } catch (err) {
    await replicas?.close().catch(() => {});
    await pool.close().catch(() => {});
    throw err;
  }
  return handle;
}

/** A pg pool on `connectionString`: one host, or several (libpq's `h1:5432,h2:5432`, see multi-host.ts). */
function openPgPool(connectionString: string, opts: PgPoolOptions): PgPool {
  const hosts = splitHosts(connectionString);
  return hosts
    ? createMultiHostPool(hosts, redactUrl(connectionString), createPgPool, opts)
    : createPgPool(connectionString, opts);
}

async function openPGlite(dataDir: string | null, redactedUrl: string, options: OpenOptions): Promise<DbHandle> {
  let lock: DataDirLock | null = null;
  let pglite: (PGliteLike & { close(): Promise<void> }) | undefined;
  try {
    if (dataDir !== null) {
      // Lock the real path, so a symlinked spelling of the same dir is caught too.
      lock = acquireDataDirLock(realpathSync(dataDir));
    }
    // Decided under the lock: whoever held it before may just have created the cluster.
    const fresh = dataDir !== null && !options.loadDataDir && needsInitdb(dataDir);
    // Loaded on demand: Postgres-only deployments never pay for the WASM.
    const { PGlite } = await import('@electric-sql/pglite');
    const startParams = [...PGlite.defaultStartParams, ...PGLITE_SETTINGS];
    // Asked for ones first (before any initdb): an unknown name is E_EXTENSION_UNAVAILABLE, not a connection error.
    const wanted = pgliteExtensionClosure(options.extensions ?? []);
    await loadPgliteExtensions(wanted);
    // initdb in a child process, whose memory goes when it exits (see pglite-initdb.ts);
    // this process then opens an existing cluster. memory:// and tarballs stay in-process.
    if (fresh) await initdbInChild(dataDir, startParams, redactedUrl);
    const create = async (extensions: readonly string[]) =>
      PGlite.create({
        startParams,
        ...(dataDir !== null ? { dataDir } : {}),
        ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
        ...(extensions.length > 0 ? { extensions: (await loadPgliteExtensions(extensions)) as never } : {}),
      });
    try {
      pglite = await create(wanted);
      // A database that already has extensions installed needs their bundles too,
      // or using them fails: reopened with them (once, only when some are missing).
      if (!fresh && (dataDir !== null || options.loadDataDir)) {
        const { rows } = await pglite.query<{ name: string }>('select extname::text as name from pg_extension');
        const missing = pgliteExtensionClosure(rows.map((r) => r.name)).filter(
          (n) => !wanted.includes(n) && PGLITE_EXTENSIONS.includes(n),
        );
        if (missing.length > 0) {
          await pglite.close();
          pglite = undefined;
          pglite = await create([...wanted, ...missing]);
        }
      }
    } catch (err) {
      throw new FerryError(
        E_CONNECT,
        `Cannot open the embedded database at ${redactedUrl}: ${(err as Error)?.message ?? String(err)}. ` +
          'If the directory was written by another PGlite/Postgres version or is damaged, move it away ' +
          '(or set FERRY_DATA_DIR to a new directory) and start again.',
        { cause: err, details: { dataDir } },
      );
    }
    if (fresh) options.onCreate?.(dataDir);
    const instance = pglite;
    const observers: ObserverSlot = { current: undefined };
    const dialect = new PGliteDialect({ pglite: instance, observers });
    await dialect.init();
    const heldLock = lock;
    return new Handle({
      backend: 'pglite',
      dialect,
      redactedUrl,
      observers,
      stats: () => dialect.stats(),
      refreshTypes: () => dialect.refreshTypes(),
      session: (fn) => withPGliteSession(dialect, fn),
      // Called inside a session (see dumpDataDirOf), so no statement runs while the files are
      // read; after a checkpoint, so the copy starts without replaying WAL (which, among other
      // things, moves sequences on by the 32 values Postgres logs ahead, as after a crash).
      dumpDataDir: async () => {
        await instance.exec('checkpoint');
        return (instance as unknown as PGliteDumper).dumpDataDir('gzip');
      },
      close: async () => {
        try {
          await dialect.close();
          await instance.close();
        } finally {
          heldLock?.release();
        }
      },
    });
  } catch (err) {
    await pglite?.close().catch(() => {});
    lock?.release();
    throw err;
  }
}

/**
 * The Kysely that work needing one session for its whole run (the migration
 * lock) must take its connection from: `db` itself, unless `db` is the `db`
 * of a handle whose URL goes through PgBouncer; then one on the direct URL,
 * or E_DIRECT_URL_REQUIRED naming `what`. Not exported from the package.
 */
export function sessionDbFor(db: Kysely<any>, what: string): Promise<Kysely<any>> {
  const handle = handlesByDb.get(db);
  return handle ? Handle.sessionDb(handle, what) : Promise.resolve(db);
}

const handlesByDb = new WeakMap<Kysely<any>, Handle>();

interface HandleParts {
  backend: 'postgres' | 'pglite';
  dialect: Dialect;
  redactedUrl: string;
  /** Postgres: the URL with its password, for `connectionStringOf` only. */
  connectionString?: string;
  /** The slot the pool or PGlite session reports checkouts to. */
  observers: ObserverSlot;
  stats(): PoolStats;
  refreshTypes(): Promise<void>;
  session<T>(fn: (session: RawSession) => Promise<T>): Promise<T>;
  /** Behind PgBouncer: the Kysely on the direct URL (see sessionDbFor); else absent (the handle's own db). */
  sessionDb?(what: string): Promise<Kysely<any>>;
  /** PGlite: the data dir as a gzipped tarball (`pglite.dumpDataDir()`). */
  dumpDataDir?(): Promise<Blob>;
  /** Postgres with read replicas. */
  replicas?: ReplicaRouting;
  close(): Promise<void>;
}

interface PGliteDumper {
  dumpDataDir(compression: 'gzip'): Promise<Blob>;
}

/**
 * The URL (password included) a handle from `openDatabase` was opened with,
 * for Ferry's own code that must open more connections to the same server
 * (the shadow database), so nothing re-reads DATABASE_URL from the
 * environment and hopes it is still the same. Behind PgBouncer it is the
 * direct URL when one is set (a shadow database, pg_dump and the like need a
 * session of their own). Undefined for PGlite and for `DbHandle`s made
 * elsewhere. Not exported from the package.
 */
export function connectionStringOf(handle: DbHandle): string | undefined {
  return handle instanceof Handle ? Handle.connectionString(handle) : undefined;
}

/**
 * A PGlite handle's whole data dir as a gzipped tarball, which
 * `openDatabase({ loadDataDir })` (PGlite only) starts from; undefined for
 * Postgres and for `DbHandle`s made elsewhere. Call it inside
 * `handle.session()`, outside a transaction: the session holds the only
 * connection, so the files are read with no statement running, and the
 * caller can read the same state before (backups checksum the tables).
 * Not exported from the package.
 */
export function dumpDataDirOf(handle: DbHandle): (() => Promise<Blob>) | undefined {
  return handle instanceof Handle ? Handle.dumpDataDir(handle) : undefined;
}

class Handle implements DbHandle {
  readonly backend: 'postgres' | 'pglite';
  readonly dialect: Dialect;
  readonly db: Kysely<any>;
  readonly redactedUrl: string;
  readonly observers: ObserverSlot;
  readonly replicas: ReplicaRouting | undefined;
  // A private field: not enumerable, not in JSON, not shown by util.inspect
  // (see [inspect.custom] too), readable only through connectionStringOf().
  readonly #connectionString: string | undefined;
  readonly #parts: HandleParts;
  #closing: Promise<void> | undefined;

  static connectionString(handle: Handle): string | undefined {
    return handle.#connectionString;
  }

  static sessionDb(handle: Handle, what: string): Promise<Kysely<any>> {
    handle.#assertOpen();
    return handle.#parts.sessionDb?.(what) ?? Promise.resolve(handle.db);
  }

  static dumpDataDir(handle: Handle): (() => Promise<Blob>) | undefined {
    const dump = handle.#parts.dumpDataDir;
    if (!dump) return undefined;
    return () => {
      handle.#assertOpen();
      return dump();
    };
  }

  constructor(parts: HandleParts) {
    this.backend = parts.backend;
    this.dialect = parts.dialect;
    this.redactedUrl = parts.redactedUrl;
    this.observers = parts.observers;
    this.replicas = parts.replicas;
    this.#connectionString = parts.connectionString;
    this.#parts = { ...parts, connectionString: undefined };
    this.db = new Kysely<any>({ dialect: parts.dialect });
    handlesByDb.set(this.db, this);
  }

  /** `DbHandle { backend: 'postgres', redactedUrl: '...' }`: what identifies it, never the connection internals. */
  [inspect.custom](): string {
    return `DbHandle ${inspect({ backend: this.backend, redactedUrl: this.redactedUrl })}`;
  }

  async ping(): Promise<number> {
    this.#assertOpen();
    const start = performance.now();
    await sql`select 1`.execute(this.db);
    return performance.now() - start;
  }

  async serverVersion(): Promise<string> {
    this.#assertOpen();
    const { rows } = await sql<{ server_version: string }>`show server_version`.execute(this.db);
    return rows[0]?.server_version ?? '';
  }

  poolStats(): PoolStats {
    return this.#parts.stats();
  }

  async refreshTypes(): Promise<void> {
    this.#assertOpen();
    await this.#parts.refreshTypes();
  }

  session<T>(fn: (session: RawSession) => Promise<T>): Promise<T> {
    this.#assertOpen();
    const observer: QueryObserver | undefined = this.observers.current;
    if (observer?.onQuery === undefined) return this.#parts.session(fn);
    return this.#parts.session((session) => fn(observedSession(session, observer)));
  }

  close(): Promise<void> {
    // db.destroy() is not needed (drivers own nothing) and would make later
    // use fail with Kysely's generic error instead of E_CLOSED.
    this.#closing ??= this.#parts.close();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing) throw new FerryError(E_CLOSED, `The database handle for ${this.redactedUrl} has been closed.`);
  }
}
