import type { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { type DbHandle, type OpenOptions, openDatabase } from './db/open.js';
import type { ReplicaStatus } from './db/replicas.js';
import { type Duration, toMs } from './duration.js';
import { FerryError } from './errors.js';
import { E_MIGRATION_FAILED } from './migrate/errors.js';
import { Migrator, type MigratorOptions, type RunResult } from './migrate/runner.js';
import type { ExportOptions, ExportSummary } from './ops/export.js';
import type { Repository, RepositoryCache } from './repo/repository.js';
import { RootScope, type Scope, type TransactionOptions, type TransactionScope } from './repo/scope.js';
import { TimestampsPlugin } from './repo/timestamps-plugin.js';
import { createStatements } from './schema/ddl.js';
import type { DatabaseOf } from './schema/infer.js';
import { defineSchema, type Schema } from './schema/schema.js';
import type { Table } from './schema/table.js';

export interface ConnectOptions<S> extends Omit<OpenOptions, 'replicas'> {
  /**
   * PostgreSQL streaming replicas to read from; default `DATABASE_REPLICA_URLS`
   * (comma separated). Selects outside a transaction go to a healthy replica
   * that has replayed this scope's writes (see `consistency()`, `token()`);
   * writes, transactions and `primary(fn)` stay on the primary. `[]`: none,
   * whatever the environment says.
   */
  replicas?: readonly string[];
  /** The schema module (`import * as schema from './schema.js'`): its tables type `db` and drive repositories. */
  schema?: S;
  /** Errors thrown by after-commit callbacks; by default they become process warnings. */
  onAfterCommitError?: (err: unknown) => void;
  /** The cache `repo(table).cached({ ttl, by })` uses (see `createCache`). */
  cache?: RepositoryCache;
}

/** Anything `shutdown()` closes after the pools' in-flight work: a cache, a session store, a rate limiter, metrics. */
export type Closable = { close(): unknown } | (() => unknown);

export interface ShutdownOptions {
  /** The signal that asked for it (logged in the report), e.g. `'SIGTERM'`. */
  signal?: string;
  /**
   * How long to wait, after readiness turned 503, before waiting for work to
   * end: the time a load balancer takes to see the 503 and stop sending
   * requests (Kubernetes: a few seconds). Default 0.
   */
  delay?: Duration;
  /** At most this long for queries and transactions in flight to end before the pools close anyway. Default 10 s. */
  drain?: Duration;
  /** More to close (after what `onShutdown` registered, before the pools). */
  close?: Closable[];
  /**
   * HTTP servers (`node:http`, or Express's/Fastify's underlying one) to stop
   * after `delay`: no new connections, idle keep-alive ones closed, requests
   * being served finish (within `drain`) before the pools drain.
   */
  servers?: StoppableServer[];
}

/** The part of `node:http`'s Server that shutdown uses. */
export interface StoppableServer {
  close(callback?: (err?: Error) => void): unknown;
  closeIdleConnections?(): void;
}

export interface ShutdownReport {
  signal: string | null;
  /** Whether every server stopped and every connection was idle before the pools closed (false: `drain` ran out). */
  drained: boolean;
  /** Connections still busy when the pools closed. */
  busyAtClose: number;
  /** Resources whose close() threw, with the message. */
  errors: { resource: string; message: string }[];
  ms: number;
}

/**
 * The handle under each Ferry, for Ferry's own tools that need what the
 * public class keeps private (Studio: raw sessions for its SQL runner, the
 * URL for the migrations' shadow). A WeakMap, not a public getter, so apps
 * keep one way in (the Ferry) and the handle's close stays the Ferry's.
 */
const handles = new WeakMap<object, DbHandle>();

/** @internal The `DbHandle` a `Ferry` was opened on (for Ferry's own tools, e.g. Studio). */
export function handleOf(ferry: Ferry<any>): DbHandle {
  const handle = handles.get(ferry);
  if (!handle) throw new TypeError('handleOf: not a Ferry made by connect()');
  return handle;
}

/**
 * An open database: Kysely typed by the schema, repositories, transactions,
 * and the handle's health helpers. Close it when done.
 */
export class Ferry<DB> implements Scope<DB> {
  readonly db: Kysely<DB>;
  readonly schema: Schema;
  readonly #handle: DbHandle;
  readonly #root: RootScope<DB>;
  #draining = false;
  #shutdown: Promise<ShutdownReport> | null = null;
  readonly #closers: Closable[] = [];

  constructor(
    handle: DbHandle,
    schema: Schema,
    options: Pick<ConnectOptions<unknown>, 'onAfterCommitError' | 'cache'>,
  ) {
    this.#handle = handle;
    handles.set(this, handle);
    this.schema = schema;
    this.db = handle.db.withPlugin(new TimestampsPlugin(schema)) as Kysely<DB>;
    const onAfterCommitError =
      options.onAfterCommitError ??
      ((err: unknown) => process.emitWarning(`ferry: an afterCommit callback failed: ${String(err)}`));
    this.#root = new RootScope(this.db, { onAfterCommitError, cache: options.cache, observers: handle.observers });
  }

  /** `'postgres'` for a server, `'pglite'` for the embedded database. */
  get backend(): DbHandle['backend'] {
    return this.#handle.backend;
  }

  /** The connection URL with any password replaced by `****`. */
  get url(): string {
    return this.#handle.redactedUrl;
  }

  repo<T extends Table>(table: T): Repository<T> {
    return this.#root.repo(table);
  }

  transaction<R>(fn: (tx: TransactionScope<DB>) => Promise<R>, options?: TransactionOptions): Promise<R> {
    return this.#root.transaction(fn, options);
  }

  afterCommit(fn: () => unknown): Promise<void> {
    return this.#root.afterCommit(fn);
  }

  /**
   * Run `fn` with every read on the primary (with read replicas; without,
   * just `fn()`). Writes and transactions are always on the primary.
   *
   *   const balance = await ferry.primary(() => ferry.repo(accounts).get(id));
   */
  primary<R>(fn: () => R): R {
    const replicas = this.#handle.replicas;
    return replicas ? replicas.primary(fn) : fn();
  }

  /**
   * Run `fn` (a request, a job) in a read-your-writes scope of its own that
   * starts from `token` (from `ferry.token()`, e.g. kept in the user's
   * session or a cookie; null/undefined: nothing to wait for). Reads inside
   * go to a replica only once it has replayed every write the token covers
   * and every write made inside the scope; otherwise to the primary. Code
   * outside any scope uses the handle's own token (every write of this
   * process). Without replicas: just `fn()`.
   *
   *   app.use((req, res, next) => ferry.consistency(req.session.lsn, next));
   *   // after a write in a handler: req.session.lsn = ferry.token();
   */
  consistency<R>(token: string | null | undefined, fn: () => R): R {
    const replicas = this.#handle.replicas;
    return replicas ? replicas.consistency(token, fn) : fn();
  }

  /**
   * The read-your-writes token of the current scope (else of this handle): the
   * primary's WAL position after the last write, e.g. `'0/3001178'` (with
   * `readYourWrites: '2s'`, the write's time, `'t1733400000000'`); null before
   * any write and without replicas. Hand it to `consistency()` in a later
   * request so a user reads what they wrote, whichever process serves them.
   */
  token(): string | null {
    return this.#handle.replicas?.token() ?? null;
  }

  /** Each read replica's health and lag as last polled (empty without replicas). */
  replicaStatus(): ReplicaStatus[] {
    return this.#handle.replicas?.status() ?? [];
  }

  /** Round-trip time of `select 1`, in milliseconds. */
  ping(): Promise<number> {
    return this.#handle.ping();
  }

  serverVersion(): Promise<string> {
    return this.#handle.serverVersion();
  }

  poolStats(): ReturnType<DbHandle['poolStats']> {
    return this.#handle.poolStats();
  }

  /** The handle's query observer slot (see `DbHandle.observers`): what ferry/ops metrics hook into. */
  get observers(): DbHandle['observers'] {
    return this.#handle.observers;
  }

  /**
   * Create every enum, table, key and index of the schema in one transaction
   * (for tests, demos and prototypes; use migrations for anything that lasts).
   */
  async createSchema(): Promise<void> {
    const statements = createStatements(this.schema.toIR());
    await this.#handle.db.transaction().execute(async (trx) => {
      for (const statement of statements) await sql.raw(statement).execute(trx);
    });
    await this.#handle.refreshTypes();
  }

  /** A migration runner on this connection (`ferry migrate` programmatically). */
  migrator(options: MigratorOptions): Migrator {
    return new Migrator(this.#handle.db, options);
  }

  /**
   * Apply pending migrations from `dir`; throws a FerryError when one fails
   * (the result names file, statement and SQLSTATE) so startup code can
   * simply `await ferry.migrate(dir)`.
   */
  async migrate(dir: string, options: Omit<MigratorOptions, 'dir'> = {}): Promise<RunResult> {
    const result = await this.migrator({ ...options, dir }).up();
    await this.#handle.refreshTypes();
    const failed = result.results.find((r) => r.status === 'failed');
    if (failed?.error) {
      const e = failed.error;
      throw new FerryError(
        E_MIGRATION_FAILED,
        `Migration ${failed.id} failed at ${e.file}${e.line ? `:${e.line}` : ''}: ${e.message}${e.sqlstate ? ` [SQLSTATE ${e.sqlstate}]` : ''}`,
        { details: { ...e } },
      );
    }
    return result;
  }

  /**
   * Stream `table` (or, with `table` null, `options.query`) as CSV (default)
   * or NDJSON to `options.to`, a file path (written whole or not at all) or a
   * Writable; memory stays bounded whatever the row count. `exportTo` in
   * `ferry/ops` does the work: it is loaded on first use, so apps that never
   * export do not load it.
   *
   *   await ferry.export('price_snapshots', { to: 'prices.csv', where: "day >= '2026-01-01'" });
   *   await ferry.export(null, { query: 'select id, total from orders', format: 'ndjson', to: process.stdout });
   */
  async export(
    table: string | null,
    options: Omit<ExportOptions, 'table'> & { to: Writable | string },
  ): Promise<ExportSummary> {
    const { exportTo } = await import('./ops/export.js');
    const { to, ...rest } = options;
    return exportTo(this.#handle, table === null ? rest : { ...rest, table }, to);
  }

  /** Re-read enum types after DDL run outside Ferry, so enum arrays parse. */
  refreshTypes(): Promise<void> {
    return this.#handle.refreshTypes();
  }

  close(): Promise<void> {
    return this.#handle.close();
  }

  /** True once `shutdown()` started: `ferry/ops` readiness answers 503 from then on. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Close `resource` on `shutdown()`, after in-flight queries end and before the pools (last registered, first closed). */
  onShutdown(resource: Closable): void {
    this.#closers.push(resource);
  }

  /**
   * Stop gracefully (on SIGTERM): readiness turns 503 at once; after `delay`,
   * queries and transactions in flight get up to `drain` to end (new ones
   * still run: a request being served may need several); then what
   * `onShutdown` registered and `close` lists is closed (caches, session
   * stores, rate limiters, metrics timers), then the pools. Idempotent: a
   * second call (a second signal) gets the same promise.
   *
   *   process.once('SIGTERM', () => ferry.shutdown({ signal: 'SIGTERM', delay: '5s' }).then(() => process.exit(0)));
   */
  shutdown(options: ShutdownOptions = {}): Promise<ShutdownReport> {
    this.#shutdown ??= this.#stop(options);
    return this.#shutdown;
  }

  async #stop(options: ShutdownOptions): Promise<ShutdownReport> {
    const started = performance.now();
    const delayMs = options.delay === undefined ? 0 : toMs(options.delay, 'shutdown delay');
    const drainMs = options.drain === undefined ? 10_000 : toMs(options.drain, 'shutdown drain');
    this.#draining = true;
    if (delayMs > 0) await sleep(delayMs);
    const busy = () => {
      const s = this.#handle.poolStats();
      return s.total - s.idle + s.waiting;
    };
    const deadline = performance.now() + drainMs;
    const stopped = await Promise.race([
      Promise.all((options.servers ?? []).map(stopServer)).then(() => true),
      sleep(drainMs).then(() => false),
    ]);
    // Polled: pg's Pool has no "idle" event, and 10 ms is nothing beside a shutdown's seconds.
    while (busy() > 0 && performance.now() < deadline) await sleep(10);
    const busyAtClose = busy();
    const errors: ShutdownReport['errors'] = [];
    for (const resource of [...this.#closers].reverse().concat(options.close ?? [])) {
      try {
        await (typeof resource === 'function' ? resource() : resource.close());
      } catch (err) {
        const name = typeof resource === 'function' ? resource.name || 'function' : resource.constructor?.name;
        errors.push({ resource: name || 'resource', message: err instanceof Error ? err.message : String(err) });
      }
    }
    await this.#handle.close();
    return {
      signal: options.signal ?? null,
      drained: busyAtClose === 0 && stopped,
      busyAtClose,
      errors,
      ms: Math.round(performance.now() - started),
    };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when the server has closed (its requests answered); a server not listening counts as closed. */
function stopServer(server: StoppableServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections?.();
  });
}

/**
 * Open the database chosen by `url`, else `DATABASE_URL`, else the embedded
 * PGlite under `FERRY_DATA_DIR` (default `./.ferry/pglite`).
 */
export async function connect<S extends Record<string, unknown> = Record<string, never>>(
  options: ConnectOptions<S> = {},
): Promise<Ferry<DatabaseOf<S>>> {
  const schema = defineSchema(options.schema ?? {});
  // Compile the schema before opening anything: a schema mistake should not leave a connection behind.
  schema.toIR();
  // The app's own connection also reads DATABASE_REPLICA_URLS; openDatabase() alone (Ferry's tools) does not.
  const handle = await openDatabase({ ...options, replicas: options.replicas ?? 'env' });
  return new Ferry<DatabaseOf<S>>(handle, schema, options);
}
