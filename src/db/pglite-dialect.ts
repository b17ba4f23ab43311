/**
 * A Kysely dialect for PGlite (Postgres compiled to WASM, one session per
 * instance).
 *
 * The SQL side (compiler, adapter, introspector) is Kysely's Postgres one; only
 * the driver differs. PGlite has exactly one session, so the "pool" is one
 * connection behind a FIFO mutex: a transaction holds it from BEGIN to
 * COMMIT, and everyone else waits. The catch is that code inside a
 * transaction callback that uses the outer `db` would wait for itself forever;
 * that case is detected and turned into an immediate E_PGLITE_REENTRANT.
 *
 * The dialect never closes the PGlite instance: several Kysely instances (with
 * different plugins) may share it, and `Kysely.destroy()` on one of them must
 * not pull the database out from under the others. Whoever created the
 * instance closes it (see `openDatabase`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Results } from '@electric-sql/pglite';
import {
  CompiledQuery,
  createQueryId,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  IdentifierNode,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  RawNode,
  type TransactionSettings,
} from 'kysely';
import { E_CLOSED, E_PGLITE_REENTRANT, FerryError } from '../errors.js';
import type { ObserverSlot } from './observer.js';
import {
  ARRAY_TYPES_SQL,
  type ArrayTypeRow,
  prepareParam,
  resolveUnknownTypes,
  SESSION_SETTINGS,
  serializeParam,
  TypeRegistry,
} from './types.js';

/** The part of a PGlite instance the dialect uses (structural, so no runtime import of PGlite). */
export interface PGliteLike {
  query<T>(
    sql: string,
    params?: unknown[],
    options?: { blob?: Blob; rowMode?: 'array' | 'object'; parsers?: Record<number, (text: string) => unknown> },
  ): Promise<Results<T>>;
  /** The statement's parameter and result types, without running it. */
  describeQuery(sql: string): Promise<{ resultFields: { name: string; dataTypeID: number }[] }>;
  exec(sql: string): Promise<Results[]>;
  parsers: Record<number | string, (text: string, typeId?: number) => unknown>;
  serializers: Record<number | string, (value: unknown) => string>;
}

export interface PGliteDialectConfig {
  pglite: PGliteLike;
  /** Where waits for the one connection are reported (see observer.ts). */
  observers?: ObserverSlot;
}

export interface PGliteStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

export class PGliteDialect implements Dialect {
  readonly #session: PGliteSession;

  constructor(config: PGliteDialectConfig) {
    this.#session = new PGliteSession(config.pglite, config.observers);
  }

  createDriver(): Driver {
    return new PGliteDriver(this.#session);
  }

  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }

  createAdapter(): PostgresAdapter {
    return new PostgresAdapter();
  }

  createIntrospector(db: Kysely<any>): PostgresIntrospector {
    return new PostgresIntrospector(db);
  }

  /** Install parsers and session settings; idempotent. Drivers call it on init. */
  init(): Promise<void> {
    return this.#session.init();
  }

  /** Re-read array types from pg_type (after DDL created enums or tables). */
  refreshTypes(): Promise<void> {
    return this.#session.refreshTypes();
  }

  stats(): PGliteStats {
    return this.#session.stats();
  }

  /**
   * Hold the one connection for `fn`, which talks to PGlite directly (COPY
   * from a blob, multi-statement batches). Kysely work from other tasks waits.
   */
  exclusive<T>(fn: (pglite: PGliteLike, registry: TypeRegistry) => Promise<T>): Promise<T> {
    return this.#session
      .init()
      .then(() => this.#session.withConnection(() => fn(this.#session.pglite, this.#session.registry)));
  }

  /**
   * Refuse new work, fail queued waiters, and wait (up to `timeoutMs`) for the
   * current holder to finish. Does not close the PGlite instance.
   */
  close(timeoutMs?: number): Promise<void> {
    return this.#session.close(timeoutMs);
  }
}

/** One acquisition of the connection; `active` flips off on release so stale ALS copies are inert. */
interface Hold {
  active: boolean;
}

interface Waiter {
  resolve: (hold: Hold) => void;
  reject: (err: Error) => void;
}

const MUTATING = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

class PGliteSession {
  readonly pglite: PGliteLike;
  readonly registry = new TypeRegistry();
  readonly connection: PGliteConnection;
  readonly #als = new AsyncLocalStorage<Hold>();
  #hold: Hold | null = null;
  readonly #waiters: Waiter[] = [];
  #released: Array<() => void> = [];
  #closed = false;
  #ready: Promise<void> | undefined;
  readonly #observers: ObserverSlot | undefined;

  constructor(pglite: PGliteLike, observers?: ObserverSlot) {
    this.pglite = pglite;
    this.#observers = observers;
    this.connection = new PGliteConnection(this);
  }

  init(): Promise<void> {
    this.#ready ??= this.#setup().catch((err) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async #setup(): Promise<void> {
    const { registry } = this;
    // Swap PGlite's per-instance tables for ours (never its module-level
    // defaults, which other instances share). Proxies so later registrations
    // apply at once, and so PGlite's own refreshArrayTypes() cannot undo them.
    this.pglite.parsers = new Proxy({} as PGliteLike['parsers'], {
      get: (_t, key) => (typeof key === 'string' ? registry.parser(Number(key)) : undefined),
      set: () => true,
    });
    this.pglite.serializers = new Proxy({} as PGliteLike['serializers'], {
      get: () => serializeParam,
      set: () => true,
    });
    await this.withConnection(async () => {
      await this.pglite.exec(SESSION_SETTINGS.map(([name, value]) => `SET ${name} TO '${value}';`).join('\n'));
      await this.#loadArrayTypes();
    });
  }

  async #loadArrayTypes(): Promise<void> {
    const { rows } = await this.pglite.query<ArrayTypeRow>(ARRAY_TYPES_SQL);
    this.registry.setArrayTypes(rows);
  }

  async refreshTypes(): Promise<void> {
    await this.init();
    await this.withConnection(() => this.#loadArrayTypes());
  }

  /** Run `fn` with the connection: directly if this task already holds it, else after acquiring it. */
  async withConnection<T>(fn: () => Promise<T>): Promise<T> {
    if (this.heldByCurrentTask()) return fn();
    const hold = await this.acquire();
    try {
      return await this.#als.run(hold, fn);
    } finally {
      this.release(hold);
    }
  }

  heldByCurrentTask(): boolean {
    const mine = this.#als.getStore();
    return mine?.active === true && mine === this.#hold;
  }

  acquire(): Promise<Hold> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.heldByCurrentTask()) return Promise.reject(reentrantError());
    const observer = this.#observers?.current;
    if (this.#hold === null) {
      this.#hold = { active: true };
      observer?.onAcquire?.({ ms: 0, timedOut: false });
      return Promise.resolve(this.#hold);
    }
    if (observer?.onAcquire === undefined) {
      return new Promise<Hold>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    }
    // Observed: the wait ends when release() hands the connection over. No timeout: a waiter waits its turn.
    const start = performance.now();
    return new Promise<Hold>((resolve, reject) =>
      this.#waiters.push({
        resolve: (hold) => {
          observer.onAcquire?.({ ms: performance.now() - start, timedOut: false });
          resolve(hold);
        },
        reject,
      }),
    );
  }

  releaseCurrent(): void {
    if (this.#hold) this.release(this.#hold);
  }

  release(hold: Hold): void {
    if (hold !== this.#hold) return;
    hold.active = false;
    const next = this.#waiters.shift();
    if (next) {
      this.#hold = { active: true };
      next.resolve(this.#hold);
    } else {
      this.#hold = null;
      for (const notify of this.#released.splice(0)) notify();
    }
  }

  /**
   * Called synchronously from Kysely's transaction consumer, whose async
   * context is private to that transaction: everything the callback does
   * inherits the mark, so a nested `db.*` call is recognised as re-entrant.
   */
  markCurrentTask(): void {
    if (this.#hold) this.#als.enterWith(this.#hold);
  }

  stats(): PGliteStats {
    return { total: 1, idle: this.#hold === null && !this.#closed ? 1 : 0, waiting: this.#waiters.length, max: 1 };
  }

  async close(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(closedError());
    if (this.#hold === null || this.heldByCurrentTask()) return;
    // Let a running transaction finish rather than cut it off mid-COMMIT; but a
    // forgotten controlled transaction must not hang shutdown forever.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.#released.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function closedError(): FerryError {
  return new FerryError(E_CLOSED, 'The embedded database (PGlite) has been closed; open a new handle to use it again.');
}

function reentrantError(): FerryError {
  return new FerryError(
    E_PGLITE_REENTRANT,
    'This code runs inside a transaction on the embedded database (PGlite) and asked for a second connection, ' +
      'which would wait for itself forever: PGlite has exactly one connection and the transaction holds it. ' +
      'Inside `db.transaction().execute(async (trx) => ...)` run every query through `trx`, not the outer `db` ' +
      '(on PostgreSQL the outer `db` would also run outside the transaction, which is rarely what you want).',
  );
}

class PGliteDriver implements Driver {
  readonly #session: PGliteSession;

  constructor(session: PGliteSession) {
    this.#session = session;
  }

  init(): Promise<void> {
    return this.#session.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#session.acquire();
    return this.#session.connection;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    // Must run before the first await: see markCurrentTask.
    this.#session.markCurrentTask();
    let sql = 'begin';
    if (settings.isolationLevel || settings.accessMode) {
      // Both values were validated by Kysely against fixed lists.
      sql = 'start transaction';
      if (settings.isolationLevel) sql += ` isolation level ${settings.isolationLevel}`;
      if (settings.accessMode) sql += ` ${settings.accessMode}`;
    }
    return this.#run(connection, sql);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#run(connection, 'commit');
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.#run(connection, 'rollback');
  }

  savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']): Promise<void> {
    return this.#savepointCommand(connection, 'savepoint', name, compile);
  }

  rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return this.#savepointCommand(connection, 'rollback to', name, compile);
  }

  releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    return this.#savepointCommand(connection, 'release', name, compile);
  }

  async releaseConnection(_connection: DatabaseConnection): Promise<void> {
    // One connection, one holder at a time: the caller is the holder.
    this.#session.releaseCurrent();
  }

  async destroy(): Promise<void> {
    // Nothing to do: the PGlite instance belongs to whoever created it.
  }

  async #run(connection: DatabaseConnection, sql: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(sql));
  }

  async #savepointCommand(
    connection: DatabaseConnection,
    command: string,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    // Same construction as Kysely's PostgresDriver: the identifier node quotes the name.
    const node = RawNode.createWithChildren([RawNode.createWithSql(`${command} `), IdentifierNode.create(name)]);
    await connection.executeQuery(compile(node, createQueryId()));
  }
}

class PGliteConnection implements DatabaseConnection {
  readonly #session: PGliteSession;

  constructor(session: PGliteSession) {
    this.#session = session;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { pglite, registry } = this.#session;
    const params = compiledQuery.parameters.map(prepareParam);
    let result: Results<R>;
    if (params.length === 0) {
      // Like pg: no parameters → simple query protocol, which also allows
      // several statements; pg then returns no rows, so neither do we.
      const results = await pglite.exec(compiledQuery.sql);
      if (results.length !== 1) return { rows: [] };
      result = results[0] as Results<R>;
    } else {
      result = await pglite.query<R>(compiledQuery.sql, params);
    }
    await resolveUnknownTypes(registry, result.fields, result.rows as Record<string, unknown>[], async (sql, args) => {
      return (await pglite.query<ArrayTypeRow>(sql, args)).rows;
    });
    return {
      rows: result.rows,
      numAffectedRows:
        result.command && MUTATING.has(result.command)
          ? BigInt(result.rowCount ?? result.affectedRows ?? 0)
          : undefined,
    };
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<R>> {
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new Error('chunkSize must be a positive integer');
    // PGlite has no cursors over its in-process protocol; the rows are already
    // in memory, so stream them in chunks to keep the Kysely contract.
    const { rows } = await this.executeQuery<R>(compiledQuery);
    for (let i = 0; i < rows.length; i += chunkSize) yield { rows: rows.slice(i, i + chunkSize) };
  }
}
