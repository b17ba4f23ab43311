/**
 * The invalidation bus's subscriber on a Redis Cluster: one plain connection
 * to the master that serves the channel's slot, subscribed with SSUBSCRIBE
 * (sharded pub/sub). It looks to bus.ts like the subscriber connection it has
 * on a single Redis (`status`, `subscribe`, `ping`, `message`/`ready`/`close`
 * events), so the bus's causal proof carries over unchanged:
 *
 * - messages are SPUBLISHed by the scripts on the slot's master, which writes
 *   them to this connection when it runs them;
 * - the heartbeat (`ping`) is an SSUBSCRIBE of the same channel again: its
 *   reply comes after every message that node ran before it, like a PONG;
 * - but a replica accepts SSUBSCRIBE too, and gets the shard's messages
 *   relayed late: after a failover the old master, now a replica, would keep
 *   answering heartbeats while the new master's messages reach it late, so
 *   L1 would be trusted while stale. So each heartbeat also asks the node's
 *   ROLE (on a second connection to it: a subscribed RESP2 connection takes
 *   no other command) before and after the SSUBSCRIBE, and fails unless it
 *   was the master both times. A failed heartbeat takes the bus down; this
 *   then reconnects to the master the replica names (or the cluster client
 *   knows) for the slot.
 *
 * Why not ioredis's own `shardedSubscribers`: its heartbeat could only be a
 * PING through the cluster client, to some node, which proves nothing about
 * what the subscriber connection has received.
 */
import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import { keySlot } from '../redis/cluster.js';
import type { RedisLike } from '../redis/connection.js';

/** The parts of an ioredis `Cluster` used here. */
export interface ShardedCluster {
  readonly slots: string[][];
  readonly options?: { redisOptions?: RedisOptions };
  refreshSlotsCache?(callback?: (err?: Error) => void): void;
}

const RETRY_MS = 100;

export class ShardSubscriber extends EventEmitter {
  readonly #cluster: ShardedCluster;
  readonly #channel: string;
  readonly #slot: number;
  #conn: Redis | null = null;
  /** A second connection to the same node, for ROLE. */
  #ctl: Redis | null = null;
  /** Where to connect next (`host:port`): the master a replica named. */
  #next: string | null = null;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(cluster: ShardedCluster, channel: string) {
    super();
    this.#cluster = cluster;
    this.#channel = channel;
    this.#slot = keySlot(channel);
    this.#schedule(0);
  }

  get status(): string {
    if (this.#closed) return 'end';
    return this.#conn?.status ?? 'connecting';
  }

  /** The master's `host:port` this connection is (or was last) made to, for tests and logs. */
  get node(): string | null {
    const o = this.#conn?.options;
    return o ? `${o.host}:${o.port}` : null;
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#connect(), delayMs);
    this.#timer.unref();
  }

  #connect(): void {
    if (this.#closed || this.#conn !== null) return;
    const master = this.#next ?? this.#cluster.slots[this.#slot]?.[0];
    this.#next = null;
    if (!master) {
      // The cluster client has no slot map yet (still connecting).
      this.#schedule(RETRY_MS);
      return;
    }
    const colon = master.lastIndexOf(':');
    const { keyPrefix: _k, retryStrategy: _r, lazyConnect: _l, ...base } = this.#cluster.options?.redisOptions ?? {};
    const options: RedisOptions = {
      ...base,
      host: master.slice(0, colon),
      port: Number(master.slice(colon + 1)),
      // Reconnections are ours: to whichever node then serves the slot.
      retryStrategy: () => null,
      enableOfflineQueue: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      lazyConnect: false,
    };
    const conn = new Redis(options);
    const ctl = new Redis(options);
    this.#conn = conn;
    this.#ctl = ctl;
    ctl.on('error', () => {}); // reported through conn's, or a failed heartbeat
    ctl.on('end', () => {
      if (this.#ctl === ctl) conn.disconnect();
    });
    conn.on('error', (err: Error) => this.emit('error', err));
    conn.on('ready', () => this.emit('ready'));
    conn.on('smessage', (channel: string, message: string) => this.emit('message', channel, message));
    conn.on('end', () => {
      ctl.disconnect();
      if (this.#conn !== conn) return;
      this.#conn = null;
      this.#ctl = null;
      this.emit('close');
      this.#refreshThenReconnect();
    });
  }

  /** Ask the cluster client for a fresh slot map (a failover), then connect to the slot's master. */
  #refreshThenReconnect(): void {
    if (this.#closed) return;
    const refresh = this.#cluster.refreshSlotsCache;
    if (typeof refresh !== 'function') {
      this.#schedule(RETRY_MS);
      return;
    }
    let done = false;
    const next = () => {
      if (done) return;
      done = true;
      this.#schedule(RETRY_MS);
    };
    try {
      refresh.call(this.#cluster, () => next());
    } catch {
      next();
    }
    // A refresh already under way does not call back: do not wait for it.
    setTimeout(next, RETRY_MS * 5).unref();
  }

  /** SSUBSCRIBE (the bus calls it `subscribe`). A node that no longer serves the slot answers MOVED: reconnect. */
  async subscribe(channel: string): Promise<unknown> {
    const conn = this.#conn;
    if (!conn) throw new Error('sharded subscriber: not connected');
    try {
      return await conn.ssubscribe(channel);
    } catch (err) {
      if (/MOVED|CLUSTERDOWN|READONLY/.test(String((err as Error)?.message))) conn.disconnect();
      throw err;
    }
  }

  /** The heartbeat: SSUBSCRIBE again, between two ROLE checks (see the module comment). */
  async ping(): Promise<string> {
    await this.#isMaster();
    await this.subscribe(this.#channel);
    await this.#isMaster();
    return 'PONG';
  }

  /** Throws unless the node is a master; a replica's master is where to reconnect. */
  async #isMaster(): Promise<void> {
    const ctl = this.#ctl;
    const conn = this.#conn;
    if (!ctl || !conn) throw new Error('sharded subscriber: not connected');
    const role = (await ctl.role()) as unknown[];
    if (role[0] === 'master') return;
    if (role[0] === 'slave' && typeof role[1] === 'string') this.#next = `${role[1]}:${role[2]}`;
    conn.disconnect();
    throw new Error(`sharded subscriber: ${this.node} is a ${String(role[0])} now, not the slot's master`);
  }

  disconnect(reconnect = false): void {
    if (!reconnect) this.#closed = true;
    this.#conn?.disconnect();
    this.#ctl?.disconnect();
  }

  async quit(): Promise<unknown> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const conn = this.#conn;
    this.#conn = null;
    this.#ctl?.disconnect();
    this.#ctl = null;
    if (!conn || conn.status === 'end') return 'OK';
    try {
      return await conn.quit();
    } finally {
      conn.disconnect();
    }
  }
}

/** The subscriber as the bus sees it (the subset of RedisLike it calls). */
export type BusSubscriber = Pick<RedisLike, 'status' | 'on' | 'ping' | 'subscribe' | 'disconnect' | 'quit'>;
