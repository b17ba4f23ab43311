/**
 * The invalidation bus: pub/sub on `ns~bus` that carries invalidated keys
 * (never values) to every instance of a namespace, and a heartbeat that
 * proves, several times a second, that the subscriber is still hearing them.
 *
 * The proof is causal: Redis answers one connection's commands in order and
 * writes a message to a subscriber when it runs the PUBLISH, and ioredis
 * parses replies in order, emitting messages synchronously. So when the PONG
 * of a PING sent at time `p` resolves, every invalidation Redis ran before
 * that PING has already been delivered (`onProof(p)`). An L1 entry the cache
 * still holds then was not invalidated by anything Redis ran before `p`.
 */
import type { RedisLike } from '../redis/connection.js';
import type { BusSubscriber } from './shard-subscriber.js';

export interface BusMessage {
  /** Sender instance id. */
  s: string;
  /** Invalidated keys. */
  k?: string[];
  /** Whole namespace cleared. */
  c?: 1;
}

/** What a failed or skipped Redis call returns (instead of throwing). */
export const FAIL: unique symbol = Symbol('ferry.cache.fail');
export type Fail = typeof FAIL;

/** A command with a timeout that never throws (L2's `raw`). */
export type RunWithTimeout = <T>(op: string, fn: () => Promise<T>, timeoutMs: number) => Promise<T | Fail>;

export interface BusEvents {
  /** Keys (or everything) invalidated by another instance. */
  onInvalidate(keys: string[] | 'all'): void;
  /** The bus came (back) up after being down: invalidations may have been missed. */
  onBusUp(): void;
  onBusDown(): void;
  /**
   * A heartbeat PING sent at `sentAt` (performance.now()) while the bus was
   * up was answered: every message published before Redis ran it has been
   * delivered through `onInvalidate`.
   */
  onProof(sentAt: number): void;
  onError(err: unknown, op: string): void;
}

export class Bus {
  readonly channel: string;
  readonly #sub: BusSubscriber;
  readonly #instanceId: string;
  readonly #run: RunWithTimeout;
  readonly #timeoutMs: number;
  readonly #heartbeatMs: number;
  readonly #events: BusEvents;
  #heartbeat: NodeJS.Timeout | undefined;
  /** A heartbeat is running (one PING outstanding at most: a late PONG must not be overtaken by a newer one). */
  #beating = false;
  #up = false;
  /** Bumped on every up/down transition: a PONG proves something only for the subscription it was sent on. */
  #epoch = 0;
  #failures = 0;
  #closed = false;

  constructor(options: {
    client: RedisLike;
    /**
     * The subscriber connection, when not a duplicate of `client` subscribing
     * to `<namespace>~bus` (a Redis Cluster: a ShardSubscriber of `channel`).
     */
    subscriber?: { sub: BusSubscriber; channel: string };
    namespace: string;
    instanceId: string;
    /** Pause between heartbeat PINGs (one outstanding at a time). */
    heartbeatMs: number;
    /** Per-command timeout of L2; the bus allows 3× (at least 300 ms). */
    timeoutMs: number;
    run: RunWithTimeout;
    events: BusEvents;
  }) {
    this.channel = options.subscriber?.channel ?? `${options.namespace}~bus`;
    this.#instanceId = options.instanceId;
    this.#run = options.run;
    this.#timeoutMs = Math.max(options.timeoutMs * 3, 300);
    this.#heartbeatMs = options.heartbeatMs;
    this.#events = options.events;
    const sub =
      options.subscriber?.sub ??
      options.client.duplicate({
        enableOfflineQueue: false,
        autoResubscribe: true,
        autoResendUnfulfilledCommands: false,
        lazyConnect: false,
      });
    this.#sub = sub;
    sub.on('error', (err: Error) => this.#events.onError(err, 'bus'));
    sub.on('close', () => this.#set(false));
    sub.on('ready', () => void this.#subscribe());
    sub.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.#onMessage(message);
    });
    this.#schedule(options.heartbeatMs);
  }

  get up(): boolean {
    return this.#up;
  }

  /** The message that tells other instances `keys` changed. */
  message(keys: string[]): string {
    return JSON.stringify({ s: this.#instanceId, k: keys } satisfies BusMessage);
  }

  /** The message that tells other instances everything changed. */
  clearMessage(): string {
    return JSON.stringify({ s: this.#instanceId, c: 1 } satisfies BusMessage);
  }

  async #subscribe(): Promise<void> {
    if (this.#closed) return;
    const ok = await this.#run('subscribe', () => this.#sub.subscribe(this.channel), this.#timeoutMs);
    if (ok !== FAIL) this.#set(true);
  }

  /** Send a heartbeat now, unless one is outstanding (its answer, or the next one's, will come first). */
  beatSoon(): void {
    if (!this.#beating) this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#heartbeat);
    this.#heartbeat = setTimeout(() => void this.#beat(), delayMs);
    this.#heartbeat.unref();
  }

  /**
   * One heartbeat, then the next is scheduled (a loop, not an interval: one
   * PING outstanding at a time). A PING that is not answered within the bus
   * timeout means the bus is down (a hung Redis or a black-holed network),
   * and every third such failure reconnects the subscriber.
   */
  async #beat(): Promise<void> {
    if (this.#closed || this.#beating) return;
    this.#beating = true;
    const sub = this.#sub;
    const sentAt = performance.now();
    const epoch = this.#epoch;
    const up = this.#up;
    try {
      if (sub.status !== 'ready') {
        this.#set(false);
        return;
      }
      const pong = await this.#run('heartbeat', () => sub.ping(), this.#timeoutMs);
      if (this.#closed) return;
      if (pong === FAIL) {
        this.#set(false);
        if (++this.#failures % 3 === 0 && sub.status === 'ready') sub.disconnect(true);
        return;
      }
      this.#failures = 0;
      if (up && epoch === this.#epoch) this.#events.onProof(sentAt);
      else if (!this.#up) await this.#subscribe();
    } finally {
      this.#beating = false;
      // A PING answered late is followed at once, and so is a subscription
      // that just came up (nothing proves it yet).
      const justUp = this.#up && this.#epoch !== epoch;
      this.#schedule(justUp ? 0 : Math.max(0, this.#heartbeatMs - (performance.now() - sentAt)));
    }
  }

  #set(up: boolean): void {
    if (this.#closed || up === this.#up) return;
    this.#up = up;
    this.#epoch++;
    if (up) {
      this.#events.onBusUp();
      // Prove the new subscription at once rather than a heartbeat later.
      if (!this.#beating) this.#schedule(0);
    } else this.#events.onBusDown();
  }

  #onMessage(text: string): void {
    let msg: BusMessage;
    try {
      msg = JSON.parse(text) as BusMessage;
    } catch {
      return;
    }
    // Our own invalidations were applied locally before they were published.
    if (msg.s === this.#instanceId) return;
    if (msg.c === 1) this.#events.onInvalidate('all');
    else if (Array.isArray(msg.k)) this.#events.onInvalidate(msg.k.filter((k) => typeof k === 'string'));
  }

  async close(quit: (c: BusSubscriber) => Promise<void>): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#heartbeat);
    await quit(this.#sub);
  }
}
