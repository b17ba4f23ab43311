/**
 * A raw session: one connection held for a whole job, with plain SQL and
 * COPY. Bulk work (the importer) needs what Kysely does not model: session
 * temp tables that outlive a transaction, and COPY FROM STDIN. Both backends
 * expose it the same way; values come back through the same parsers as Kysely.
 */
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PostgresPoolClient } from 'kysely';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { QueryObserver } from './observer.js';
import type { PgPool } from './pg-pool.js';
import type { PGliteDialect, PGliteLike } from './pglite-dialect.js';
import { prepareParam, resolveUnknownTypes, type TypeRegistry } from './types.js';

export interface RawResult<R> {
  rows: R[];
  rowCount: number;
}

export type CopyPayload = string | Buffer | Iterable<string | Buffer>;

/** Statements without parameters run just before and after a COPY (see `RawSession.copyIn`). */
export interface CopyAround {
  before?: string;
  after?: string;
}

/** The COPY statement with `around`'s statements, as one simple-query string. */
function withAround(sql: string, around: CopyAround | undefined): string {
  if (!around) return sql;
  return [around.before, sql, around.after].filter((x) => x !== undefined && x !== '').join('; ');
}

export interface RawSession {
  readonly backend: 'postgres' | 'pglite';
  /** One statement with `$n` parameters, or (without parameters) several separated by `;`. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<RawResult<R>>;
  /**
   * `COPY <table> (<columns>) FROM STDIN WITH (<options>)` with `payload` as
   * the data: one string or buffer, or pieces of it (written as they come).
   * Pass the statement with `FROM STDIN`; PGlite gets it as a blob.
   *
   * `around` runs statements without parameters or results just before and
   * after the COPY. On Postgres they go in the COPY's own simple-query
   * message, so the server gets one round trip, not three:
   *
   * ```sql
   * savepoint ferry_direct; copy messages (…) from stdin with (…); release savepoint ferry_direct
   * ```
   *
   * (an importer writing a few hundred batches spent each of those extra
   * round trips idle on one side). A failure anywhere fails the call and the
   * statements after it do not run. PGlite, in process, runs them one by one.
   */
  copyIn(sql: string, payload: CopyPayload, around?: CopyAround): Promise<void>;
  /**
   * `COPY (…) TO STDOUT WITH (…)`: each piece of the output goes to `onData`,
   * which is awaited before the next is read, so a slow destination holds the
   * server back instead of piling output up in memory. Resolves to the row
   * count the server reported. PGlite runs it `TO '/dev/blob'` and hands over
   * the whole output as one piece: bound it by what the statement selects.
   */
  copyOut(sql: string, onData: (chunk: Buffer) => void | Promise<void>): Promise<number>;
  /**
   * One statement without parameters, each value as the server's text (its
   * type's output function, what COPY writes) or null: no parsing. For code
   * that writes values out as text (the PGlite CSV export of a query).
   */
  queryText(sql: string): Promise<TextResult>;
}

export interface TextResult {
  columns: string[];
  rows: (string | null)[][];
  /** Each column's type oid (Studio's SQL runner names and converts the cells by it). */
  types: number[];
  /** Each column's source table oid and column number, when it is a plain table column (PostgreSQL only; 0 otherwise). */
  sources: { table: number; column: number }[];
}

const asText = (text: string) => text;

const COPY_OUT_BUFFER = 1 << 20;

export async function withPgSession<T>(pool: PgPool, fn: (session: RawSession) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  const session: RawSession = {
    backend: 'postgres',
    async query<R>(sql: string, params?: readonly unknown[]) {
      try {
        const result = await client.query<R>(sql, params ?? []);
        return { rows: result.rows, rowCount: Number(result.rowCount ?? 0) };
      } catch (err) {
        broken ||= isConnectionLoss(err);
        throw err;
      }
    },
    async copyIn(sql: string, payload: CopyPayload, around?: CopyAround) {
      // pg hands a submittable straight to the connection; the wrapper passes non-strings through.
      // pg-copy-streams sends the text as one Query message and reads only COPY's own command tag.
      const stream = (client as unknown as { query(s: unknown): Writable }).query(copyFrom(withAround(sql, around)));
      try {
        await pipeline(async function* () {
          if (typeof payload === 'string' || Buffer.isBuffer(payload)) yield payload;
          else yield* payload;
        }, stream);
      } catch (err) {
        broken ||= isConnectionLoss(err);
        throw err;
      }
    },
    async copyOut(sql: string, onData: (chunk: Buffer) => void | Promise<void>) {
      const stream = (client as unknown as { query(s: unknown): Readable & { rowCount: number } }).query(
        // Up to 1 MB between the socket and `onData` (default 16 KB, less than one 64 KB socket read), so the
        // socket is paused and resumed far less often; it is still the bound on what is held.
        copyTo(sql, { highWaterMark: COPY_OUT_BUFFER }),
      );
      let sinkFailed = false;
      try {
        for await (const chunk of stream) {
          try {
            await onData(chunk as Buffer);
          } catch (err) {
            sinkFailed = true;
            throw err;
          }
        }
        return stream.rowCount;
      } catch (err) {
        // Abandoned mid-COPY, the connection may still be streaming rows: it is not reused.
        broken ||= sinkFailed || isConnectionLoss(err);
        throw err;
      }
    },
    async queryText(sql: string) {
      const config = { text: sql, rowMode: 'array', types: { getTypeParser: () => asText } };
      try {
        const result = await (client as unknown as { query(c: unknown): Promise<TextQueryResult> }).query(config);
        return {
          columns: result.fields.map((f) => f.name),
          rows: result.rows,
          types: result.fields.map((f) => f.dataTypeID),
          sources: result.fields.map((f) => ({ table: f.tableID ?? 0, column: f.columnID ?? 0 })),
        };
      } catch (err) {
        broken ||= isConnectionLoss(err);
        throw err;
      }
    },
  };
  try {
    return await fn(session);
  } finally {
    (client as PostgresPoolClient & { release(destroy?: boolean): void }).release(broken);
  }
}

export function withPGliteSession<T>(dialect: PGliteDialect, fn: (session: RawSession) => Promise<T>): Promise<T> {
  return dialect.exclusive((pglite, registry) => fn(pgliteSession(pglite, registry)));
}

function pgliteSession(pglite: PGliteLike, registry: TypeRegistry): RawSession {
  const lookup = async (sql: string, args: unknown[]) => (await pglite.query<never>(sql, args)).rows;
  return {
    backend: 'pglite',
    async query<R>(sql: string, params?: readonly unknown[]) {
      if (!params || params.length === 0) {
        const results = await pglite.exec(sql);
        const last = results.at(-1);
        const rows = (last?.rows ?? []) as R[];
        if (last) await resolveUnknownTypes(registry, last.fields, rows as Record<string, unknown>[], lookup);
        return { rows, rowCount: Number(last?.affectedRows ?? rows.length) };
      }
      const result = await pglite.query<R>(sql, params.map(prepareParam));
      await resolveUnknownTypes(registry, result.fields, result.rows as Record<string, unknown>[], lookup);
      return { rows: result.rows, rowCount: Number(result.affectedRows ?? result.rows.length) };
    },
    async copyIn(sql: string, payload: CopyPayload, around?: CopyAround) {
      const blobSql = sql.replace(/\bFROM\s+STDIN\b/i, "FROM '/dev/blob'");
      const parts = typeof payload === 'string' || Buffer.isBuffer(payload) ? [payload] : [...payload];
      if (around?.before) await pglite.exec(around.before);
      await pglite.query(blobSql, [], { blob: new Blob(parts) });
      if (around?.after) await pglite.exec(around.after);
    },
    async copyOut(sql: string, onData: (chunk: Buffer) => void | Promise<void>) {
      const blobSql = sql.replace(/\bTO\s+STDOUT\b/i, "TO '/dev/blob'");
      const result = await pglite.query(blobSql);
      if (result.blob && result.blob.size > 0) await onData(Buffer.from(await result.blob.arrayBuffer()));
      return Number(result.affectedRows ?? 0);
    },
    async queryText(sql: string) {
      // PGlite parses by type oid with no "leave everything as text" switch: name every oid of the result.
      const { resultFields } = await pglite.describeQuery(sql);
      const parsers = Object.fromEntries(resultFields.map((f) => [f.dataTypeID, asText]));
      const result = await pglite.query<(string | null)[]>(sql, [], { rowMode: 'array', parsers });
      return {
        columns: result.fields.map((f) => f.name),
        rows: result.rows,
        types: result.fields.map((f) => f.dataTypeID),
        // PGlite's fields carry no source table: callers fall back to column names.
        sources: result.fields.map(() => ({ table: 0, column: 0 })),
      };
    },
  };
}

/**
 * `session` with every statement reported to `observer` as operation `raw`
 * (and COPY as `copy`), table `''`: plain SQL names no repository table.
 * Only used while an observer is set (see DbHandle.session), so an
 * unobserved session pays nothing.
 */
export function observedSession(session: RawSession, observer: QueryObserver): RawSession {
  const timed = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      const result = await run();
      observer.onQuery?.({ operation, table: '', ms: performance.now() - start });
      return result;
    } catch (error) {
      observer.onQuery?.({ operation, table: '', ms: performance.now() - start, error });
      throw error;
    }
  };
  return {
    backend: session.backend,
    query: (sql, params) => timed('raw', () => session.query(sql, params)),
    copyIn: (sql, payload, around) => timed('copy', () => session.copyIn(sql, payload, around)),
    copyOut: (sql, onData) => timed('copy', () => session.copyOut(sql, onData)),
    queryText: (sql) => timed('raw', () => session.queryText(sql)),
  };
}

interface TextQueryResult {
  fields: { name: string; dataTypeID: number; tableID?: number; columnID?: number }[];
  rows: (string | null)[][];
}

const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

/** The connection (not the statement) failed: a server restart, a killed backend, a dropped socket. */
export function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: string; message?: string; cause?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.code && CONNECTION_SQLSTATES.has(e.code)) return true;
  if (e.code && ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'E_CONNECT'].includes(e.code)) return true;
  if (/Connection terminated|terminating connection|Client has encountered a connection error/i.test(e.message ?? ''))
    return true;
  return e.cause !== undefined && e.cause !== err && isConnectionLoss(e.cause);
}
