/**
 * The seam where metrics (ferry/ops) see database work without the database
 * layer knowing about them: a small structural observer that the handle
 * holds in one slot and that repositories, raw sessions and the pools call.
 *
 *   handle.observers.current = {
 *     onQuery: ({ operation, table, ms, error }) => histogram.observe(...),
 *     onAcquire: ({ ms, timedOut }) => waits.observe(ms / 1000),
 *   };
 *
 * Unset (the default) it costs one property read per call: callers check
 * `slot.current === undefined` and take the path they took before. Callbacks
 * must not throw and must not do I/O: they run on the query's path.
 */

/** One finished query: `operation` is the repository method (`get`, `findMany`, `insert`...) or `raw`. */
export interface QueryInfo {
  /** `get`, `getMany`, `findOne`, `findMany`, `page`, `count`, `insert`, `upsert`, `update`, `delete`, or `raw`. */
  readonly operation: string;
  /** The repository's table; `''` for raw SQL (`handle.session()`), which names none. */
  readonly table: string;
  /** Wall time of the call, in milliseconds. */
  readonly ms: number;
  /** The error it failed with (already a FerryError for repository calls), else undefined. */
  readonly error?: unknown;
}

/** One connection checkout: how long the caller waited, and whether it gave up (pool exhausted). */
export interface AcquireInfo {
  readonly ms: number;
  /** Postgres: no connection became free within `connectionTimeoutMillis`. PGlite never times out. */
  readonly timedOut: boolean;
}

/**
 * Where a read (a select outside a transaction) went, with read replicas
 * configured (see replicas.ts). `reason`: `replica` (served there), `forced`
 * (`ferry.primary()`), `behind` (no replica had replayed the scope's token),
 * `recent-write` (time-based read-your-writes), `unavailable` (no healthy
 * replica), `failed` (the replica failed mid-read; the primary answered).
 */
export interface RouteInfo {
  readonly target: 'replica' | 'primary';
  readonly reason: 'replica' | 'forced' | 'behind' | 'recent-write' | 'unavailable' | 'failed';
}

export interface QueryObserver {
  onQuery?(info: QueryInfo): void;
  onAcquire?(info: AcquireInfo): void;
  onRoute?(info: RouteInfo): void;
}

/** Where the one observer of a handle lives, shared by everything that reports to it. */
export interface ObserverSlot {
  current: QueryObserver | undefined;
}

/** Something that carries an observer slot (a `DbHandle`, a `Ferry`). */
export interface Observable {
  readonly observers: ObserverSlot;
}
