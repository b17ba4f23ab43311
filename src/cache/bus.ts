/**
 * The invalidation bus: pub/sub on `ns~bus` that carries invalidated keys
 * (never values) to every instance of a namespace, and a heartbeat that
 * notices a subscriber that stopped answering (a black-holed network), since
 * an instance that cannot hear invalidations must stop trusting its L1.
 */
import type { RedisLike } from '../redis/connection.js';

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
  onError(err: unknown, op: string): void;
}

export class Bus {
  readonly channel: string;
  readonly #sub: RedisLike;
  readonly #instanceId: string;
  readonly #run: RunWithTimeout;
  readonly #timeoutMs: number;
  readonly #events: BusEvents;
  readonly #heartbeat: NodeJS.Timeout;
  #up = false;
  #failures = 0;
  #closed = false;

  constructor(options: {
    client: RedisLike;
    namespace: string;
    instanceId: string;
    heartbeatMs: number;
    /** Per-command timeout of L2; the bus allows 3× (at least 300 ms). */
    timeoutMs: number;
    run: RunWithTimeout;
    events: BusEvents;
  }) {
    this.channel = `${options.namespace}~bus`;
    this.#instanceId = options.instanceId;
    this.#run = options.run;
    this.#timeoutMs = Math.max(options.timeoutMs * 3, 300);
    this.#events = options.events;
    const sub = options.client.duplicate({
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
    this.#heartbeat = setInterval(() => void this.#beat(), options.heartbeatMs);
    this.#heartbeat.unref();
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

  /** Heartbeat: a subscriber that stops answering (black-holed network) is a bus that is down. */
  async #beat(): Promise<void> {
    const sub = this.#sub;
    if (this.#closed) return;
    if (sub.status !== 'ready') {
      this.#set(false);
      return;
    }
    const pong = await this.#run('heartbeat', () => sub.ping(), this.#timeoutMs);
    if (this.#closed) return;
    if (pong === FAIL) {
      this.#set(false);
      if (++this.#failures % 3 === 0 && sub.status === 'ready') sub.disconnect(true);
    } else {
      this.#failures = 0;
      if (!this.#up) await this.#subscribe();
    }
  }

  #set(up: boolean): void {
    if (this.#closed || up === this.#up) return;
    this.#up = up;
    if (up) this.#events.onBusUp();
    else this.#events.onBusDown();
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

  async close(quit: (c: RedisLike) => Promise<void>): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    await quit(this.#sub);
  }
}
