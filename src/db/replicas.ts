/**
 * Read replicas: which replica may serve a read, and the read-your-writes
 * token that decides it.
 *
 * The token is a WAL position. After a write commits on the primary, the
 * primary's `pg_current_wal_lsn()` (read on the same connection: after a
 * COMMIT in the same round trip, `commit; select pg_current_wal_lsn()`)
 * becomes the token of the current consistency scope (an AsyncLocalStorage
 * store: one per request with `consistency(token, fn)`), and of the handle as
 * a whole for code running outside any scope. A replica serves a read only
 * once its `pg_last_wal_replay_lsn()` has reached the token: the replay
 * position is cached per replica (polled every `pollInterval`, and re-read,
 * one query shared by concurrent reads, when a read needs more than the cache
 * says), so a read after no recent write costs a bigint compare. Otherwise the
 * primary serves it. Unlike a fixed delay (Rails' 2 s), this is exact in both
 * directions: no stale read when the replica lags 5 s, no needless primary read
 * when it replays within a millisecond. The fixed delay is still available
 * (`readYourWrites: '2s'`).
 *
 * Health: every `pollInterval` each replica is asked whether it is still in
 * recovery and how far it has replayed; lag in bytes is the primary's WAL
 * position minus that, lag in seconds the age of the last replayed commit
 * (0 when caught up). An unreachable replica, one lagging more than `maxLag`,
 * or one that was promoted (no longer in recovery: it is not following our
 * primary any more) is skipped. A read that fails on a replica because the
 * connection failed, or because the replica refused it (read-only
 * transaction, recovery conflict), is run again on the primary and the
 * replica is marked down until the next poll finds it well: the caller sees
 * no error.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { CompiledQuery, QueryResult } from 'kysely';
import { E_BAD_ARGUMENT, FerryError } from '../errors.js';
import type { LayerLogger } from '../logger.js';
import { formatLsn, parseLsn } from './lsn.js';
import type { ObserverSlot, RouteInfo } from './observer.js';
import type { PgPool } from './pg-pool.js';
import type { ResolvedReplicaOptions } from './replica-options.js';
import { isConnectionLoss } from './session.js';

/** One replica as the last poll (or failed read) saw it. */
export interface ReplicaStatus {
  /** The replica's URL, password redacted. */
  readonly url: string;
  /** Whether reads may go there now. */
  readonly healthy: boolean;
  /** `up`, `down` (unreachable or failed a read), `lagging` (beyond maxLag), `promoted` (not in recovery). */
  readonly state: 'up' | 'down' | 'lagging' | 'promoted';
  /** The primary's WAL position minus the replica's replay position, at the last poll (null: unknown). */
  readonly lagBytes: number | null;
  /** Age of the last replayed commit when behind, 0 when caught up (null: unknown). */
  readonly lagSeconds: number | null;
  /** `pg_last_wal_replay_lsn()` as last seen, e.g. `'0/3001178'`. */
  readonly replayLsn: string | null;
}

/** What `consistency()`, `primary()` and `token()` work on; the Ferry exposes it. */
export interface ReplicaRouting {
  /**
   * Run `fn` in a consistency scope of its own, starting from `token` (a
   * string from `token()`, e.g. kept in the user's session or a cookie): its
   * reads see every write the token covers and every write made inside it.
   */
  consistency<R>(token: string | null | undefined, fn: () => R): R;
  /** Run `fn` with every read on the primary (writes and transactions are there anyway). */
  primary<R>(fn: () => R): R;
  /** The current scope's token (else the handle's): null until something was written. */
  token(): string | null;
  /** Each replica's health and lag, as last polled. */
  status(): ReplicaStatus[];
}

interface TokenHolder {
  /** The highest WAL position written in this scope (0n: nothing). */
  lsn: bigint;
  /** Date.now() of the scope's last write (time-based read-your-writes). */
  writtenAt: number;
}

interface ScopeState {
  holder: TokenHolder;
  forcePrimary: boolean;
}

/** A re-read replay position is good for this long: concurrent reads share one query, and a burst pays it once. */
const REFRESH_FRESH_MS = 2;

/** SQLSTATEs after which the read is retried on the primary: read-only transaction, recovery conflict, shutdown. */
const RETRY_ON_PRIMARY = new Set(['25006', '40001', '57P01', '57P02', '57P03', '57014']);

class Replica {
  readonly pool: PgPool;
  state: ReplicaStatus['state'] = 'down';
  replay = -1n;
  lagBytes: number | null = null;
  lagSeconds: number | null = null;
  refreshing: Promise<void> | null = null;
  refreshedAt = 0;
  constructor(pool: PgPool) {
    this.pool = pool;
  }
}

export class ReplicaSet implements ReplicaRouting {
  readonly #primary: PgPool;
  readonly #replicas: Replica[];
  readonly #options: ResolvedReplicaOptions;
  readonly #observers: ObserverSlot;
  readonly #log: LayerLogger | undefined;
  readonly #scopes = new AsyncLocalStorage<ScopeState>();
  readonly #global: TokenHolder = { lsn: 0n, writtenAt: Number.NEGATIVE_INFINITY };
  #primaryLsn = -1n;
  #next = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | null = null;
  #closed = false;

  constructor(
    primary: PgPool,
    replicas: PgPool[],
    options: ResolvedReplicaOptions,
    observers: ObserverSlot,
    log?: LayerLogger,
  ) {
    this.#primary = primary;
    this.#replicas = replicas.map((p) => new Replica(p));
    this.#options = options;
    this.#observers = observers;
    this.#log = log;
  }

  /** First poll (so the first reads already know which replicas are up), then one every pollInterval. */
  async start(): Promise<void> {
    await this.poll();
    this.#timer = setInterval(() => void this.poll(), this.#options.pollIntervalMs);
    // Health polling never keeps a process alive.
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#polling?.catch(() => {});
    await Promise.all(this.#replicas.map((r) => r.pool.close()));
  }

  // ---- the public side: scopes and tokens --------------------------------------------------

  consistency<R>(token: string | null | undefined, fn: () => R): R {
    const holder: TokenHolder = { lsn: 0n, writtenAt: Number.NEGATIVE_INFINITY };
    if (token !== null && token !== undefined && token !== '') {
      const lsn = parseLsn(token);
      const time = /^t(\d{1,15})$/.exec(token);
      if (lsn !== undefined) holder.lsn = lsn;
      else if (time) holder.writtenAt = Number(time[1]);
      else {
        throw new FerryError(
          E_BAD_ARGUMENT,
          `consistency(): "${token.slice(0, 40)}" is not a read-your-writes token (a WAL position such as "0/3001178" from ferry.token()).`,
          { details: { token: token.slice(0, 40) } },
        );
      }
    }
    return this.#scopes.run({ holder, forcePrimary: this.#scopes.getStore()?.forcePrimary ?? false }, fn);
  }

  primary<R>(fn: () => R): R {
    const outer = this.#scopes.getStore();
    // The same holder: writes inside still advance the surrounding scope's token.
    return this.#scopes.run({ holder: outer?.holder ?? this.#global, forcePrimary: true }, fn);
  }

  token(): string | null {
    const holder = this.#scopes.getStore()?.holder ?? this.#global;
    if (this.#options.readYourWrites === 'lsn') return holder.lsn > 0n ? formatLsn(holder.lsn) : null;
    return Number.isFinite(holder.writtenAt) ? `t${holder.writtenAt}` : null;
  }

  status(): ReplicaStatus[] {
    return this.#replicas.map((r) => ({
      url: r.pool.redactedUrl,
      healthy: r.state === 'up',
      state: r.state,
      lagBytes: r.lagBytes,
      lagSeconds: r.lagSeconds,
      replayLsn: r.replay >= 0n ? formatLsn(r.replay) : null,
    }));
  }

  // ---- the driver's side (routing-dialect.ts) ---------------------------------------------

  /** Whether writes need the primary's WAL position afterwards (LSN mode). */
  get wantsLsn(): boolean {
    return this.#options.readYourWrites === 'lsn';
  }

  /**
   * A write committed on the primary: `lsn` is `pg_current_wal_lsn()` read
   * after it (undefined outside LSN mode). Advances the current scope's token
   * and the handle's.
   */
  noteWrite(lsnText: string | undefined): void {
    const now = Date.now();
    const lsn = lsnText === undefined ? undefined : parseLsn(lsnText);
    const store = this.#scopes.getStore();
    for (const holder of store && store.holder !== this.#global ? [store.holder, this.#global] : [this.#global]) {
      holder.writtenAt = now;
      if (lsn !== undefined && lsn > holder.lsn) holder.lsn = lsn;
    }
  }

  /**
   * Run a read (a select outside any transaction) on a replica that may serve
   * it; undefined means "run it on the primary" (no replica may, or the
   * replica failed: the primary retries it, the caller sees no error).
   */
  async read(query: CompiledQuery): Promise<QueryResult<unknown> | undefined> {
    const store = this.#scopes.getStore();
    if (store?.forcePrimary) return this.#route('primary', 'forced');
    const holder = store?.holder ?? this.#global;
    const ryw = this.#options.readYourWrites;
    if (typeof ryw === 'number' && Date.now() - holder.writtenAt < ryw) return this.#route('primary', 'recent-write');
    const need = ryw === 'lsn' ? holder.lsn : 0n;
    let replica = this.#pick(need);
    if (replica === undefined && need > 0n && this.#replicas.some((r) => r.state === 'up')) {
      const deadline = performance.now() + this.#options.waitForReplicaMs;
      for (;;) {
        await Promise.all(
          this.#replicas.filter((r) => r.state === 'up' && r.replay < need).map((r) => this.#refresh(r)),
        );
        replica = this.#pick(need);
        if (replica !== undefined || performance.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, Math.min(10, deadline - performance.now())));
      }
      if (replica === undefined) return this.#route('primary', 'behind');
    }
    if (replica === undefined) return this.#route('primary', 'unavailable');
    let client: Awaited<ReturnType<PgPool['connect']>>;
    try {
      client = await replica.pool.connect();
    } catch (err) {
      this.#markDown(replica, err);
      return this.#route('primary', 'failed');
    }
    let broken = false;
    try {
      const result = (await client.query(query.sql, [...query.parameters])) as unknown as {
        rows?: unknown[];
      };
      this.#route('replica', 'replica');
      return { rows: result.rows ?? [] };
    } catch (err) {
      const code = (err as { code?: string }).code;
      broken = isConnectionLoss(err);
      if (broken || (code !== undefined && RETRY_ON_PRIMARY.has(code))) {
        if (broken || code?.startsWith('57')) this.#markDown(replica, err);
        return this.#route('primary', 'failed');
      }
      throw err;
    } finally {
      releaseClient(client, broken);
    }
  }

  #route(target: RouteInfo['target'], reason: RouteInfo['reason']): undefined {
    this.#observers.current?.onRoute?.({ target, reason });
    return undefined;
  }

  /** A healthy replica whose cached replay position has reached `need`, round robin. */
  #pick(need: bigint): Replica | undefined {
    const n = this.#replicas.length;
    for (let i = 0; i < n; i++) {
      const r = this.#replicas[(this.#next + i) % n]!;
      if (r.state === 'up' && r.replay >= need) {
        this.#next = (this.#next + i + 1) % n;
        return r;
      }
    }
    return undefined;
  }

  #markDown(replica: Replica, err: unknown): void {
    if (replica.state !== 'down') {
      this.#log?.error({ err, url: replica.pool.redactedUrl }, 'read replica failed; reads go elsewhere');
    }
    replica.state = 'down';
  }

  /** Re-read one replica's replay position (one query in flight per replica, shared). */
  #refresh(replica: Replica): Promise<void> {
    if (performance.now() - replica.refreshedAt < REFRESH_FRESH_MS) return Promise.resolve();
    replica.refreshing ??= this.#bounded(replica, async () => {
      try {
        const rows = await queryReplica<{ lsn: string | null }>(
          replica,
          'select pg_last_wal_replay_lsn()::text as lsn',
        );
        const lsn = rows[0]?.lsn == null ? undefined : parseLsn(rows[0].lsn);
        if (lsn !== undefined && lsn > replica.replay) replica.replay = lsn;
      } catch (err) {
        this.#markDown(replica, err);
      }
    }).finally(() => {
      replica.refreshedAt = performance.now();
      replica.refreshing = null;
    });
    return replica.refreshing;
  }

  /** One health poll of the primary's WAL position and every replica (overlapping calls share it). */
  poll(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#polling ??= this.#pollOnce().finally(() => {
      this.#polling = null;
    });
    return this.#polling;
  }

  async #pollOnce(): Promise<void> {
    const primary = (async () => {
      const client = await this.#primary.connect();
      try {
        const { rows } = await client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn', []);
        this.#primaryLsn = parseLsn(rows[0]!.lsn) ?? this.#primaryLsn;
      } finally {
        client.release();
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    try {
      // Bounded like the replicas' checks: a hung primary must not stop the polling.
      await Promise.race([
        primary,
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.#options.checkTimeoutMs);
        }),
      ]);
    } catch {
      // The primary is unreachable (or is a replica itself mid-failover): lag in bytes stays as it was.
    } finally {
      clearTimeout(timer);
      primary.catch(() => {});
    }
    await Promise.all(this.#replicas.map((r) => this.#bounded(r, () => this.#pollReplica(r))));
  }

  /**
   * `check()`, or a timeout after checkTimeout that marks the replica down:
   * a stopped or partitioned server keeps its sockets open and never errors.
   * The check itself goes on; its connection is released when it ends.
   */
  async #bounded(replica: Replica, check: () => Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#options.checkTimeoutMs);
    });
    try {
      const outcome = await Promise.race([check().then(() => 'done' as const), timedOut]);
      if (outcome === 'timeout') {
        this.#markDown(
          replica,
          new Error(`no answer from the replica within ${this.#options.checkTimeoutMs} ms (checkTimeout)`),
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async #pollReplica(replica: Replica): Promise<void> {
    try {
      const rows = await queryReplica<{ recovering: boolean; replay: string | null; age: number | null }>(
        replica,
        `select pg_is_in_recovery() as recovering, pg_last_wal_replay_lsn()::text as replay,
                extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 as age`,
      );
      const row = rows[0]!;
      const replay = row.replay === null ? undefined : parseLsn(row.replay);
      if (replay !== undefined && replay > replica.replay) replica.replay = replay;
      const caughtUp = replica.replay >= 0n && this.#primaryLsn >= 0n && replica.replay >= this.#primaryLsn;
      replica.lagBytes =
        replica.replay >= 0n && this.#primaryLsn >= 0n ? Math.max(0, Number(this.#primaryLsn - replica.replay)) : null;
      replica.lagSeconds = caughtUp ? 0 : row.age === null ? null : Math.max(0, row.age);
      if (!row.recovering) replica.state = 'promoted';
      else if (replica.lagSeconds !== null && replica.lagSeconds * 1000 > this.#options.maxLagMs) {
        replica.state = 'lagging';
      } else replica.state = 'up';
    } catch (err) {
      this.#markDown(replica, err);
      replica.lagBytes = null;
      replica.lagSeconds = null;
    }
  }
}

/** pg-pool.ts's clients take `release(true)` to drop a broken connection (Kysely's type has no argument). */
/** One query on a connection of the replica's pool; a connection lost on the way is destroyed, not reused. */
async function queryReplica<R>(replica: Replica, text: string): Promise<R[]> {
  const client = await replica.pool.connect();
  let broken = false;
  try {
    return (await client.query<R>(text, [])).rows;
  } catch (err) {
    broken = isConnectionLoss(err);
    throw err;
  } finally {
    releaseClient(client, broken);
  }
}

function releaseClient(client: { release(): void }, broken: boolean): void {
  (client.release as (destroy?: boolean) => void)(broken);
}
