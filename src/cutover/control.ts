/**
 * Where the stage lives and how every instance follows it.
 *
 * The stage of a cutover is one row of `ferry_cutover` (stage, ramp, epoch):
 * the database every instance already trusts, so it survives restarts and
 * needs nothing else. Each `defineCutover` object is an *instance*: it
 * registers in `ferry_cutover_instances` and, every `poll` (default 1 s),
 * heartbeats there and re-reads the row. With Redis, `advance`/`rollback`
 * also publish on `ferry:cutover:<name>` and every instance re-reads at once;
 * Redis is only a doorbell (the message carries nothing to trust), so a
 * Redis outage only means instances notice within `poll` instead of at once.
 *
 * Every change bumps `epoch`. An instance that sees a new epoch switches:
 * writes started from then on use the new stage, and only after every write
 * started under an older epoch has finished does it record (acks) the new
 * epoch. So no write straddles two stages, and an ack means "I no longer
 * write the old way". A change that alters which stores are written
 * (`changesWriteSet`: off ↔ dual-write, rampdown ↔ complete) waits for the
 * acks of every live instance (heartbeat younger than its own `ttl`) before
 * `advance` returns (advance.ts), and is undone if they do not come.
 */
import { hostname } from 'node:os';
import { FerryError } from '../errors.js';
import { openRedis, type RedisConnection, type RedisInput, type RedisLike } from '../redis/connection.js';
import { E_CUTOVER_CLOSED } from './errors.js';
import { isStage, type Stage } from './stages.js';
import { CONTROL_TABLE, type CutoverDb, ensureTables, INSTANCES_TABLE, query } from './tables.js';

export interface ControlState {
  readonly stage: Stage;
  readonly epoch: number;
  /** Percent of reads answered by the new store within `shadow`/`live` (null: the stage's default). */
  readonly ramp: number | null;
}

/** The Redis channel that rings every instance of cutover `name`. */
export function channelOf(name: string): string {
  return `ferry:cutover:${name}`;
}

/** Read the control row of `name` (null when there is none). */
export async function readControl(db: CutoverDb, name: string): Promise<ControlState | null> {
  const rows = await query<{ stage: string; epoch: string | number; ramp: number | null }>(
    db,
    `select stage, epoch, ramp from ${CONTROL_TABLE} where name = $1`,
    [name],
  );
  const row = rows[0];
  if (!row || !isStage(row.stage)) return null;
  return { stage: row.stage, epoch: Number(row.epoch), ramp: row.ramp };
}

/**
 * Ring the instances of `name` (after a change of its row). Best effort: a
 * Redis that fails leaves them to their polling.
 */
export async function ringInstances(redis: RedisInput, name: string): Promise<void> {
  let connection: RedisConnection | null = null;
  try {
    connection = openRedis(redis, { mode: 'once', what: `cutover "${name}"` });
    await connection?.client.publish(channelOf(name), 'changed');
  } catch {
    // polling covers it
  } finally {
    await connection?.close().catch(() => {});
  }
}

export interface FollowerOptions {
  db: CutoverDb;
  name: string;
  instanceId: string;
  pollMs: number;
  /** How long after its last heartbeat this instance counts as gone (advance stops waiting for it). */
  ttlMs: number;
  /** The stage a cutover starts in when its row does not exist yet. */
  initialStage: Stage;
  redis?: RedisInput;
  /** Called after each poll (the cutover flushes comparisons and drains its journal there). */
  onTick?: () => Promise<void>;
}

/** One instance's view of the stage (see the module comment). */
export class StageFollower {
  readonly #o: FollowerOptions;
  #state: ControlState;
  /** Writes in flight, by the epoch they started under. */
  readonly #inflight = new Map<number, number>();
  readonly #idle: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #switching: Promise<void> = Promise.resolve();
  #polling: Promise<void> | null = null;
  #pollAgain = false;
  #redis: RedisConnection | null = null;
  #sub: RedisLike | null = null;
  #closed = false;
  /** Times a Redis message made this instance re-read at once (tests and stats). */
  rings = 0;

  constructor(options: FollowerOptions) {
    this.#o = options;
    this.#state = { stage: options.initialStage, epoch: 0, ramp: null };
  }

  get state(): ControlState {
    return this.#state;
  }

  async start(): Promise<void> {
    const { db, name, initialStage, instanceId, ttlMs } = this.#o;
    await ensureTables(db);
    await query(db, `insert into ${CONTROL_TABLE} (name, stage) values ($1, $2) on conflict (name) do nothing`, [
      name,
      initialStage,
    ]);
    const state = await readControl(db, name);
    if (!state) throw new Error(`ferry_cutover row of "${name}" has an unknown stage`);
    this.#state = state;
    await query(
      db,
      `insert into ${INSTANCES_TABLE} (instance_id, name, stage, epoch, ttl_ms, host, pid)
       values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (instance_id) do update set stage = excluded.stage, epoch = excluded.epoch, heartbeat = now()`,
      [instanceId, name, state.stage, state.epoch, ttlMs, hostname(), process.pid],
    );
    this.#listen();
    this.#schedule();
  }

  /**
   * Begin a write: the stage it runs under, and `done` to call when it ended.
   * A stage switch waits for the `done` of every write begun before it.
   */
  begin(): { state: ControlState; done: () => void } {
    if (this.#closed) throw new FerryError(E_CUTOVER_CLOSED, `cutover "${this.#o.name}" is closed.`);
    const state = this.#state;
    this.#inflight.set(state.epoch, (this.#inflight.get(state.epoch) ?? 0) + 1);
    let ended = false;
    return {
      state,
      done: () => {
        if (ended) return;
        ended = true;
        const left = (this.#inflight.get(state.epoch) ?? 1) - 1;
        if (left > 0) this.#inflight.set(state.epoch, left);
        else this.#inflight.delete(state.epoch);
        if (left <= 0) for (const wake of this.#idle.splice(0)) wake();
      },
    };
  }

  /** Re-read the control row now (coalesced with a poll in progress). */
  refresh(): Promise<void> {
    if (this.#polling) {
      this.#pollAgain = true;
      return this.#polling;
    }
    this.#polling = (async () => {
      try {
        do {
          this.#pollAgain = false;
          await this.#poll();
        } while (this.#pollAgain && !this.#closed);
      } finally {
        this.#polling = null;
      }
    })();
    return this.#polling;
  }

  /** Resolves once every stage switch seen so far is applied and acked. */
  settled(): Promise<void> {
    return this.#switching;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#polling?.catch(() => {});
    await this.#waitIdle(Number.POSITIVE_INFINITY);
    if (this.#sub && this.#sub !== this.#redis?.client) this.#sub.disconnect();
    await this.#redis?.close().catch(() => {});
    // Gone: advance no longer waits for this instance, and the journal treats its unfinished entries as orphans.
    await query(this.#o.db, `delete from ${INSTANCES_TABLE} where instance_id = $1`, [this.#o.instanceId]).catch(
      () => {},
    );
  }

  async #poll(): Promise<void> {
    const { db, name, instanceId } = this.#o;
    const rows = await query<{ n: number }>(
      db,
      `update ${INSTANCES_TABLE} set heartbeat = now() where instance_id = $1 returning 1 as n`,
      [instanceId],
    );
    if (rows.length === 0 && !this.#closed) {
      // Our row was removed (an operator's cleanup): register again, as acked at what we last applied.
      const { stage, epoch } = this.#state;
      await query(
        db,
        `insert into ${INSTANCES_TABLE} (instance_id, name, stage, epoch, ttl_ms, host, pid)
         values ($1, $2, $3, $4, $5, $6, $7) on conflict (instance_id) do nothing`,
        [instanceId, name, stage, epoch, this.#o.ttlMs, hostname(), process.pid],
      );
    }
    const next = await readControl(db, name);
    if (next && next.epoch !== this.#state.epoch) this.#switchTo(next);
  }

  /** Apply a new stage: new writes use it at once; the ack waits for the writes of older epochs. */
  #switchTo(next: ControlState): void {
    this.#state = next;
    this.#switching = this.#switching.then(async () => {
      await this.#waitIdle(next.epoch);
      if (this.#state.epoch !== next.epoch) return; // overtaken by a newer switch, which acks for both
      await query(
        this.#o.db,
        `update ${INSTANCES_TABLE} set stage = $2, epoch = $3, heartbeat = now() where instance_id = $1`,
        [this.#o.instanceId, next.stage, next.epoch],
      ).catch(() => {
        // The next poll re-registers; advance keeps waiting meanwhile, which is the safe side.
      });
    });
  }

  /** Until no write begun under an epoch below `epoch` is in flight. */
  async #waitIdle(epoch: number): Promise<void> {
    while ([...this.#inflight.keys()].some((e) => e < epoch)) {
      await new Promise<void>((resolve) => this.#idle.push(resolve));
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(async () => {
      try {
        await this.refresh();
        await this.#o.onTick?.();
      } catch {
        // The database is away: the instance keeps its stage and tries again next time.
      }
      this.#schedule();
    }, this.#o.pollMs);
    this.#timer.unref();
  }

  #listen(): void {
    if (this.#o.redis === undefined || this.#o.redis === null || this.#o.redis === false) return;
    const channel = channelOf(this.#o.name);
    try {
      // autoResubscribe off: ioredis's own resubscription rejects unhandled when Redis drops mid-way;
      // subscribing on every 'ready' (below) does the same job.
      const ioredis = { autoResubscribe: false, enableOfflineQueue: false, autoResendUnfulfilledCommands: false };
      this.#redis = openRedis(this.#o.redis, { mode: 'fail-fast', what: `cutover "${this.#o.name}"`, ioredis });
      if (!this.#redis) return;
      // A client Ferry made from a URL is ours: it subscribes itself. The app's client is left alone (duplicated).
      const sub = this.#redis.owned
        ? this.#redis.client
        : this.#redis.client.duplicate({ ...ioredis, lazyConnect: false });
      this.#sub = sub;
      // Errors only mean "no doorbell for now": polling keeps the instance following.
      sub.on('error', () => {});
      sub.on('ready', () => {
        sub.subscribe(channel).catch(() => {});
      });
      sub.on('message', (ch: string) => {
        if (ch !== channel || this.#closed) return;
        this.rings++;
        this.refresh().catch(() => {});
      });
    } catch {
      this.#sub = null;
    }
  }
}
