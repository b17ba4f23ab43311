/**
 * The Kysely dialect of a PostgreSQL handle with read replicas: the seam
 * where reads leave for a replica, so repositories and `ferry.db` selects are
 * routed with no change above src/db.
 *
 * Routing happens per statement, in the connection Kysely acquires for it,
 * and only for what is certainly a read:
 *
 * - a `SelectQueryNode` (a query built with `selectFrom`; raw `sql` templates
 *   are opaque and stay on the primary), without a locking clause
 *   (`forUpdate()`, `forShare()`, ... or a raw end modifier) and without a
 *   data-modifying CTE (`with x as (insert ...) select ...`);
 * - outside a transaction: Kysely calls `beginTransaction` on the driver, and
 *   from then on the connection is the primary's;
 * - on a connection that has not used the primary yet: Kysely also hands out
 *   connections for `db.connection().execute(fn)`, whose statements may rely
 *   on session state (`set search_path`, temp tables). The first statement
 *   that needs the primary pins the connection there for the rest of `fn`;
 *   reads before it have no session state to miss.
 *
 * A select calling a function that writes (`select nextval(...)`) is refused
 * by the replica (SQLSTATE 25006, read-only transaction) and is run again on
 * the primary (replicas.ts): correct, at the cost of a wasted round trip;
 * `ferry.primary(fn)` avoids it. Such a write does not advance the
 * read-your-writes token (its command tag is SELECT).
 *
 * Writes: after a statement outside a transaction whose command tag is not
 * SELECT/SHOW (INSERT, UPDATE, DELETE, MERGE, DDL...), the primary's
 * `pg_current_wal_lsn()` is read on the same connection (one more round trip,
 * only after writes); a COMMIT becomes `commit; select pg_current_wal_lsn()`,
 * one round trip as before (simple query protocol, no parameters).
 */
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
  SelectQueryNode,
  type TransactionSettings,
} from 'kysely';
import type { PgPool } from './pg-pool.js';
import type { ReplicaSet } from './replicas.js';

type PoolClient = Awaited<ReturnType<PgPool['connect']>>;

/**
 * Command tags (their first word) of statements that write no WAL: no token
 * to read after them. Anything else, EXPLAIN (ANALYZE runs the statement) and
 * unknown tags included, counts as a write.
 */
const NO_WAL_COMMANDS = new Set([
  'SELECT',
  'SHOW',
  'SET',
  'RESET',
  'LISTEN',
  'UNLISTEN',
  'DISCARD',
  'DEALLOCATE',
  'BEGIN',
  'START',
  'SAVEPOINT',
  'RELEASE',
]);

interface PgResult {
  command?: string;
  rowCount?: number | null;
  rows?: Record<string, unknown>[];
}

/** Whether `query` is a select a replica may answer (see the header). */
export function isReplicaSafe(query: CompiledQuery): boolean {
  const node = query.query;
  if (!SelectQueryNode.is(node)) return false;
  for (const m of node.endModifiers ?? [])
    if (m.rawModifier !== undefined || m.modifier?.startsWith('For')) return false;
  for (const cte of node.with?.expressions ?? []) if (!SelectQueryNode.is(cte.expression)) return false;
  return true;
}

export class RoutingDialect implements Dialect {
  readonly #primary: PgPool;
  readonly #replicas: ReplicaSet;
  constructor(primary: PgPool, replicas: ReplicaSet) {
    this.#primary = primary;
    this.#replicas = replicas;
  }
  createDriver(): Driver {
    return new RoutingDriver(this.#primary, this.#replicas);
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler();
  }
  createAdapter(): DialectAdapter {
    return new PostgresAdapter();
  }
  createIntrospector(db: Kysely<any>) {
    return new PostgresIntrospector(db);
  }
}

class RoutingDriver implements Driver {
  readonly #primary: PgPool;
  readonly #replicas: ReplicaSet;
  constructor(primary: PgPool, replicas: ReplicaSet) {
    this.#primary = primary;
    this.#replicas = replicas;
  }
  async init(): Promise<void> {}
  async acquireConnection(): Promise<DatabaseConnection> {
    // Nothing is checked out yet: a read may never touch the primary's pool.
    return new RoutedConnection(this.#primary, this.#replicas);
  }
  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const conn = connection as RoutedConnection;
    let text = 'begin';
    if (settings.isolationLevel || settings.accessMode) {
      text = `start transaction${settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : ''}${settings.accessMode ? ` ${settings.accessMode}` : ''}`;
    }
    conn.inTransaction = true;
    await conn.raw(text);
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as RoutedConnection;
    conn.inTransaction = false;
    if (!this.#replicas.wantsLsn) {
      const result = await conn.raw('commit');
      if (result.command === 'COMMIT') this.#replicas.noteWrite(undefined);
      return;
    }
    const results = (await conn.raw('commit; select pg_current_wal_lsn()::text as lsn')) as unknown as PgResult[];
    const lsn = results[1]?.rows?.[0]?.lsn;
    if (results[0]?.command === 'COMMIT' && typeof lsn === 'string') this.#replicas.noteWrite(lsn);
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as RoutedConnection;
    conn.inTransaction = false;
    await conn.raw('rollback');
  }
  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    await this.#savepointCommand(connection, 'savepoint', name, compile);
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    await this.#savepointCommand(connection, 'rollback to', name, compile);
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    await this.#savepointCommand(connection, 'release', name, compile);
  }
  async #savepointCommand(
    connection: DatabaseConnection,
    command: 'savepoint' | 'rollback to' | 'release',
    name: string,
    _compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    // Kysely's own parser is internal; the name is an identifier, quoted as Kysely does.
    await (connection as RoutedConnection).raw(`${command} "${name.replace(/"/g, '""')}"`);
  }
  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    (connection as RoutedConnection).release();
  }
  async destroy(): Promise<void> {}
}

class RoutedConnection implements DatabaseConnection {
  readonly #pool: PgPool;
  readonly #replicas: ReplicaSet;
  // A promise, so two statements racing on one held connection still share one checkout.
  #client: Promise<PoolClient> | null = null;
  inTransaction = false;

  constructor(pool: PgPool, replicas: ReplicaSet) {
    this.#pool = pool;
    this.#replicas = replicas;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    if (this.#client === null && !this.inTransaction && isReplicaSafe(compiledQuery)) {
      const result = await this.#replicas.read(compiledQuery);
      if (result !== undefined) return result as QueryResult<R>;
    }
    const client = await this.#primaryClient();
    const result = (await client.query(compiledQuery.sql, [...compiledQuery.parameters])) as unknown as PgResult;
    const command = result.command;
    if (!this.inTransaction && command !== undefined && !NO_WAL_COMMANDS.has(command)) {
      let lsn: string | undefined;
      if (this.#replicas.wantsLsn) {
        const { rows } = await client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn', []);
        lsn = rows[0]?.lsn;
      }
      this.#replicas.noteWrite(lsn);
    }
    return {
      numAffectedRows:
        command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE'
          ? BigInt(result.rowCount ?? 0)
          : undefined,
      rows: (result.rows ?? []) as R[],
    };
  }

  // biome-ignore lint/correctness/useYield: streaming is not supported, as with the plain dialect (no cursor).
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error(
      "'cursor' is not present in your postgres dialect config. It's required to make streaming work in postgres.",
    );
  }

  /** A statement on the primary (transaction control). */
  async raw(text: string): Promise<PgResult> {
    const client = await this.#primaryClient();
    return (await client.query(text, [])) as unknown as PgResult;
  }

  #primaryClient(): Promise<PoolClient> {
    this.#client ??= this.#pool.connect();
    return this.#client;
  }

  release(): void {
    const client = this.#client;
    this.#client = null;
    this.inTransaction = false;
    client?.then((c) => c.release()).catch(() => {});
  }
}
