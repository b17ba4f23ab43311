/**
 * L2: the Redis side of the cache — commands with a timeout behind the
 * circuit breaker (src/redis/breaker.ts), the lease scripts that stop stale
 * fills (leases.ts), the invalidations that could not reach Redis (replayed
 * before the breaker closes again), and the pub/sub bus (bus.ts).
 * It also keeps the cache's trust window (`trustUntil`): how long what this
 * instance holds may still be served, from the bus's heartbeats, the
 * breaker and the quarantine after an outage.
 *
 * Over 600 lines: the hit-path GET ring, the command timeouts, the breaker's
 * probe and replay, and the trust window all read and change one set of
 * connection state (breaker, outage flags, pending invalidations, bus); split
 * apart, each piece would need that state exposed to the others, and the
 * ordering that keeps invalidations ahead of reads would be spread over files.
 */
import { randomUUID } from 'node:crypto';
import type { FerryError } from '../errors.js';
import { type BreakerState, CircuitBreaker, type ProbeResult, ReplayQueue } from '../redis/breaker.js';
import { checkScriptSlots, groupBySlot, isClusterClient, scanTargets } from '../redis/cluster.js';
import { getCommand, type RedisCommand, type RedisLike } from '../redis/connection.js';
import { Bus, FAIL, type Fail } from './bus.js';
import { cacheError, E_CACHE_REDIS, E_CACHE_TIMEOUT } from './errors.js';
import { DELETE, FILL, PUBLISH, READ, type ReadResult, type Script, SET, sharded } from './leases.js';
import { type BusSubscriber, type ShardedCluster, ShardSubscriber } from './shard-subscriber.js';

export type { BreakerState } from '../redis/breaker.js';
export { FAIL, type Fail } from './bus.js';
export type { ReadResult } from './leases.js';

export interface RemoteEvents {
  /** Keys (or everything) invalidated by another instance. */
  onInvalidate(keys: string[] | 'all'): void;
  /** The bus came (back) up after being down: invalidations may have been missed. */
  onBusUp(): void;
  onBusDown(): void;
  /**
   * Until when (performance.now()) L1 entries, and L2 values read by commands
   * sent before then, may be served: 0 while nothing proves that this
   * instance hears invalidations (see `trustUntil`). Never called without a bus.
   */
  onTrust(until: number): void;
  /** The first invalidation of an episode that Redis did not confirm (it is replayed); once per episode. */
  onUnconfirmed(keys: number): void;
  onBreaker(state: BreakerState, reason: string): void;
  /** Every Redis error, already a redacted FerryError. */
  onError(err: FerryError, op: string): void;
}

export interface RemoteOptions {
  client: RedisLike;
  /** Close (quit) `client` on close: true when the cache created it. */
  ownsClient: boolean;
  namespace: string;
  timeoutMs: number;
  threshold: number;
  breakMs: number;
  /** After an outage, how long L2 values written before it are not trusted (see `suspect`). */
  quarantineMs: number;
  leaseTtlMs: number;
  /** null: no bus (single-instance deployments only). */
  bus: { heartbeatMs: number; maxStaleMs: number } | null;
  /** Scrub these from error messages (the Redis password). */
  redact: (text: string) => string;
  events: RemoteEvents;
}

/** Most invalidations remembered during an outage; beyond that the namespace is flushed on recovery. */
const MAX_PENDING = 10_000;
const REPLAY_BATCH = 256;
/** Most keys per DELETE script call (two Redis keys each). */
const DELETE_BATCH = 1_000;
/** The first probe after a failed invalidation (at most; breakMs if shorter). */
const QUICK_PROBE_MS = 50;

const vkey = (ns: string, key: string) => `${ns}~v:${key}`;
const lkey = (ns: string, key: string) => `${ns}~l:${key}`;

/**
 * On a Redis Cluster, throw E_REDIS_CROSSSLOT unless every script's keys (and
 * the bus channel) of `namespace` hash to one slot with the client's
 * `keyPrefix` (see leases.ts for the layout). Nothing to check on one Redis.
 */
export function checkCacheSlots(client: RedisLike, namespace: string): void {
  if (!isClusterClient(client)) return;
  const ns = `{${namespace}}`;
  const prefix = client.options?.keyPrefix ?? '';
  const [v, l, v2, l2] = [vkey(ns, 'k'), lkey(ns, 'k'), vkey(ns, 'k2'), lkey(ns, 'k2')];
  const what = `createCache "${namespace}"`;
  checkScriptSlots(what, { READ: [v, l, `${ns}~seq`], FILL: [v, l], SET: [v, l], DELETE: [v, l, v2, l2] }, prefix);
  // The channel is not prefixed by the client: it is named with the prefix, and must hash with the keys.
  checkScriptSlots(what, { 'SET (bus channel)': [`${prefix}${ns}~bus`, prefix + v] });
}

export class Remote {
  readonly instanceId = randomUUID();
  readonly #client: RedisLike;
  readonly #bus: Bus | null;
  readonly #o: RemoteOptions;
  /** What keys start with: the namespace, or `{namespace}` on a cluster (a hash tag, see leases.ts). */
  readonly #ns: string;
  readonly #cluster: boolean;
  readonly #scripts: { read: Script; fill: Script; set: Script; delete: Script; publish: Script };
  readonly #seqKey: string;
  readonly #channel: string;
  /**
   * GETs go straight to `sendCommand` (see send()): not with auto-pipelining,
   * which queues commands, so a direct one could overtake an earlier write.
   */
  readonly #direct: boolean;
  readonly #keyPrefix: string | undefined;

  readonly #breaker: CircuitBreaker;
  /** Invalidations Redis has not confirmed (replayed by the breaker's probe). */
  readonly #pending = new ReplayQueue<true>({ max: MAX_PENDING });
  readonly #inflight = new Set<Inflight>();
  /**
   * Hit-path GETs in flight, oldest first, and when each was sent: a ring
   * (absolute positions #getHead..#getTail, masked) rather than an object in
   * a Set per GET, which costs an L2 hit measurably. The sweeper rejects the
   * driver's command of those older than timeoutMs, as ioredis's own
   * commandTimeout does; a reply that comes later finds it settled.
   */
  #gets = new Array<RedisCommand | undefined>(16).fill(undefined);
  #getTimes = new Float64Array(16);
  #getHead = 0;
  #getTail = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #probeFailures = 0;
  /** Redis failed since the breaker last closed (not just the first connection). */
  #outage = false;
  #everClosed = false;
  #suspectUntil = 0;
  #closed = false;
  /** See `trustUntil`. */
  #trustUntil = 0;
  /** Callers waiting for the next proof (see `proof`). */
  #proofWait: { promise: Promise<boolean>; resolve: (ok: boolean) => void } | null = null;
  /** When the breaker last opened: heartbeats sent before then prove nothing any more. */
  #trustFloor = 0;
  /** A heartbeat has been answered since the bus (last) came up. */
  #proven = false;
  #busEverUp = false;
  /** The current episode of unconfirmed invalidations was reported (reset when the breaker closes). */
  #warned = false;
  /** When the deadline sweeper last ran (a late run means this process was stalled). */
  #lastSweep = 0;
  #sweepSkipped = false;

  errors = 0;

  constructor(options: RemoteOptions) {
    this.#o = options;
    this.#client = options.client;
    this.#cluster = isClusterClient(this.#client);
    this.#ns = this.#cluster ? `{${options.namespace}}` : options.namespace;
    this.#seqKey = `${this.#ns}~seq`;
    const clientOptions = this.#client.options ?? {};
    this.#direct = typeof this.#client.sendCommand === 'function' && !clientOptions.enableAutoPipelining;
    this.#keyPrefix = clientOptions.keyPrefix;
    this.#scripts = this.#cluster
      ? { read: READ, fill: FILL, set: sharded(SET), delete: sharded(DELETE), publish: sharded(PUBLISH) }
      : { read: READ, fill: FILL, set: SET, delete: DELETE, publish: PUBLISH };
    // On a cluster the channel is a sharded one in the namespace's slot, named as sent (keyPrefix included).
    const channel = this.#cluster ? `${this.#keyPrefix ?? ''}${this.#ns}~bus` : null;
    // Starts open: commands issued before the first probe succeeds are
    // skipped (and invalidations remembered), exactly as during an outage.
    this.#breaker = new CircuitBreaker({
      threshold: options.threshold,
      breakMs: options.breakMs,
      quickProbeMs: Math.min(QUICK_PROBE_MS, options.breakMs),
      initial: 'open',
      probe: () => this.#probe(),
      pending: () => this.#pending.unsent > 0,
      onChange: (state, reason) => {
        if (state === 'open') {
          this.#outage = true;
          // Redis may be hanging: stop trusting L1 now rather than when the heartbeat lapses.
          this.#trustFloor = performance.now();
          this.#setTrust(0);
        }
        if (state === 'closed') {
          this.#everClosed = true;
          if (this.#outage) this.#quarantine();
          this.#outage = false;
          this.#probeFailures = 0;
          this.#warned = false;
        }
        this.#o.events.onBreaker(state, reason);
      },
    });

    this.#client.on('error', (err: Error) => {
      this.#outage = true;
      this.#report(err, 'connection');
    });
    this.#client.on('close', () => {
      if (this.#breaker.isClosed) this.#breaker.open('connection closed');
    });
    this.#client.on('ready', () => {
      if (!this.#breaker.isClosed) this.#breaker.probeIn(0);
    });
    this.#breaker.probeIn(0);

    this.#bus = options.bus
      ? new Bus({
          client: this.#client,
          ...(channel !== null
            ? { subscriber: { sub: new ShardSubscriber(this.#client as unknown as ShardedCluster, channel), channel } }
            : {}),
          namespace: this.#ns,
          instanceId: this.instanceId,
          heartbeatMs: options.bus.heartbeatMs,
          timeoutMs: options.timeoutMs,
          run: (op, fn, timeoutMs) => this.#raw(op, fn, timeoutMs),
          events: {
            onInvalidate: (keys) => options.events.onInvalidate(keys),
            onBusUp: () => {
              // Back after being down: while it was, other instances may have
              // committed writes whose invalidations they have not replayed yet.
              if (this.#busEverUp) this.#quarantine();
              this.#busEverUp = true;
              options.events.onBusUp();
            },
            onBusDown: () => {
              this.#proven = false;
              this.#setTrust(0);
              options.events.onBusDown();
            },
            onProof: (sentAt) => this.#onProof(sentAt),
            onError: (err, op) => this.#report(err, op),
          },
        })
      : null;
    this.#channel = this.#bus?.channel ?? '';
  }

  get state(): BreakerState {
    return this.#breaker.state;
  }

  get busUp(): boolean {
    return this.#bus?.up ?? false;
  }

  get hasBus(): boolean {
    return this.#bus !== null;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Invalidations replayed to Redis after an outage (a namespace flush counts as one). */
  get replayedCount(): number {
    return this.#pending.replayed;
  }

  /**
   * Just after an outage, values in Redis may be ones another instance
   * invalidated during the outage and has not replayed yet (it recovers on
   * its own schedule). For `quarantineMs` after closing, the cache treats L2
   * hits as misses (reloading under a lease) instead of serving them.
   */
  get suspect(): boolean {
    return this.#suspectUntil !== 0 && performance.now() < this.#suspectUntil;
  }

  /** Redis is usable right now (breaker closed). */
  get usable(): boolean {
    return this.#breaker.isClosed;
  }

  /**
   * Until when (performance.now()) this instance is known to hear every
   * invalidation within `maxStaleMs`: the send time of the last answered
   * heartbeat plus `maxStaleMs` (see bus.ts for why that is causal). 0 while
   * the bus is down, since the breaker last opened (until a heartbeat sent
   * after that is answered) and during a quarantine (`suspect`). Infinity
   * without a bus: nothing can be proven, and nothing is asked.
   */
  get trustUntil(): number {
    return this.#bus === null ? Number.POSITIVE_INFINITY : this.#trustUntil;
  }

  #setTrust(until: number): void {
    if (this.#bus === null || until === this.#trustUntil) return;
    this.#trustUntil = until;
    this.#o.events.onTrust(until);
    if (until > performance.now()) this.#proofWait?.resolve(true);
  }

  /**
   * A heartbeat can restore trust right now: the bus is up, the breaker
   * closed, no quarantine. (Trust lapses while it is so when this process
   * was too busy to send or read heartbeats.)
   */
  get provable(): boolean {
    return this.#bus?.up === true && this.#breaker.isClosed && !this.suspect;
  }

  /**
   * Resolves true at the next proof (a heartbeat answered), asking the bus
   * for one now; false after `timeoutMs` without one. One wait is shared by
   * every caller.
   */
  proof(): Promise<boolean> {
    if (this.#proofWait !== null) return this.#proofWait.promise;
    let resolve!: (ok: boolean) => void;
    const promise = new Promise<boolean>((r) => {
      resolve = r;
    });
    const timer = setTimeout(() => wait.resolve(false), this.#o.timeoutMs);
    timer.unref();
    const wait = {
      promise,
      resolve: (ok: boolean) => {
        if (this.#proofWait === wait) this.#proofWait = null;
        clearTimeout(timer);
        resolve(ok);
      },
    };
    this.#proofWait = wait;
    this.#bus?.beatSoon();
    return promise;
  }

  #onProof(sentAt: number): void {
    if (sentAt < this.#trustFloor) return;
    this.#proven = true;
    this.#setTrust(this.suspect ? 0 : sentAt + this.#o.bus!.maxStaleMs);
  }

  /**
   * Values in L1 and L2 may be ones another instance invalidated while we
   * could not hear it and has not replayed yet: serve neither (reloading
   * instead) for `quarantineMs`.
   */
  #quarantine(): void {
    if (this.#o.quarantineMs <= 0) return;
    this.#suspectUntil = performance.now() + this.#o.quarantineMs;
    this.#setTrust(0);
  }

  // ------------------------------------------------------------------ keys

  // `~` after the namespace (which may not contain one): the keys of `probe`
  // can never be mistaken for those of `probe:sub` (see #flush).
  #vkey(key: string): string {
    return vkey(this.#ns, key);
  }

  #lkey(key: string): string {
    return lkey(this.#ns, key);
  }

  // -------------------------------------------------------------- commands

  /**
   * Send a plain GET of the stored value now: the L2 hit path, one round
   * trip with no promise wrapped around the driver's, no timer and no
   * allocation of ours (see #gets for the timeout). null while the breaker
   * is open. The caller awaits `sent.promise` and must then call `received`
   * (with what it resolved to) or `failed` (with what it threw).
   */
  send(key: string): Sent | null {
    if (!this.#breaker.isClosed) return null;
    if (!this.#direct) return { promise: this.#run('get', () => this.#client.get(this.#vkey(key))) };
    const cmd = getCommand(this.#vkey(key), this.#keyPrefix);
    this.#client.sendCommand!(cmd); // returns cmd.promise
    // The command is on the wire: this bookkeeping overlaps its round trip.
    if (this.#getTail - this.#getHead === this.#gets.length) this.#growGets();
    const i = this.#getTail++ & (this.#gets.length - 1);
    this.#gets[i] = cmd;
    this.#getTimes[i] = performance.now();
    if (this.#sweeper === undefined) this.#sweep(this.#o.timeoutMs);
    return cmd as Sent;
  }

  /** A `send` whose promise resolved. */
  received(sent: Sent, reply: string | null | Fail): void {
    this.#unqueue(sent);
    if (reply !== FAIL) this.#breaker.success();
  }

  /** A `send` whose promise rejected (a Redis error, or the timeout): always FAIL. */
  failed(sent: Sent, err: unknown): Fail {
    const timeout = err instanceof GetTimeout;
    if (!timeout) this.#unqueue(sent); // the sweeper dequeued timed-out ones
    this.#report(timeout ? new Error(`timed out after ${this.#o.timeoutMs} ms`) : err, 'get', timeout);
    this.#breaker.failure();
    return FAIL;
  }

  /** Take a settled GET out of #gets: the oldest one, nearly always (one connection answers in order). */
  #unqueue(sent: Sent): void {
    const gets = this.#gets;
    const mask = gets.length - 1;
    let n = this.#getHead;
    while (n < this.#getTail && gets[n & mask] !== sent) n++;
    if (n === this.#getTail) return; // not queued (an auto-pipelining client's GET)
    gets[n & mask] = undefined;
    while (this.#getHead < this.#getTail && gets[this.#getHead & mask] === undefined) this.#getHead++;
  }

  #growGets(): void {
    const size = this.#gets.length * 2;
    const gets = new Array<RedisCommand | undefined>(size).fill(undefined);
    const times = new Float64Array(size);
    for (let n = this.#getHead; n < this.#getTail; n++) {
      gets[n & (size - 1)] = this.#gets[n & (this.#gets.length - 1)];
      times[n & (size - 1)] = this.#getTimes[n & (this.#gets.length - 1)]!;
    }
    this.#gets = gets;
    this.#getTimes = times;
  }

  /** A read that takes a lease on a miss (or when `force`d: the value was logically expired). */
  async read(key: string, force: boolean): Promise<ReadResult | Fail> {
    const r = await this.#run('read', () =>
      this.#eval(
        this.#scripts.read,
        [this.#vkey(key), this.#lkey(key), this.#seqKey],
        [this.#o.leaseTtlMs, force ? '1' : '0'],
      ),
    );
    if (r === FAIL) return FAIL;
    const reply = r as [number, string, string?];
    if (reply[0] === 1) return { kind: 'hit', raw: reply[1] };
    if (reply[0] === 2) return { kind: 'miss', raw: reply[1], lease: reply[2]! };
    return { kind: 'miss', lease: reply[1] };
  }

  /** Store a loaded value under its lease: true stored, false refused (the key was written since). */
  async fill(key: string, lease: string, payload: string, pxMs: number): Promise<boolean | Fail> {
    const r = await this.#run('fill', () =>
      this.#eval(this.#scripts.fill, [this.#vkey(key), this.#lkey(key)], [lease, payload, Math.max(1, pxMs)]),
    );
    return r === FAIL ? FAIL : r === 1;
  }

  /** Write a value (revoking leases, telling other instances). Never throws; a failure is replayed as a delete. */
  async set(key: string, payload: string, pxMs: number): Promise<void> {
    // Breaker open: the value is not written (a late SET could land after a newer write), but the invalidation is.
    if (!this.#breaker.isClosed) return this.#unconfirmed([key]);
    const r = await this.#run('set', () =>
      this.#eval(
        this.#scripts.set,
        [this.#vkey(key), this.#lkey(key)],
        [payload, Math.max(1, pxMs), this.#channel, this.#message([key])],
      ),
    );
    if (r === FAIL) this.#remember([key]);
  }

  /** Invalidate keys everywhere. Never throws; a failure is remembered and replayed before L2 is used again. */
  async delete(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    if (!this.#breaker.isClosed) return this.#unconfirmed(keys);
    const r = await this.#run('delete', () => this.#deleteNow(keys));
    if (r === FAIL) this.#remember(keys);
  }

  /**
   * An invalidation while the breaker is open: remembered for the replay,
   * and also sent now if the connection is up. The breaker may be open only
   * because of a passing hiccup (a stall of this very process can time out
   * every command in flight), and holding the invalidation back until the
   * next probe would let other instances serve the old value meanwhile. A
   * delete is idempotent and can only cause misses, so sending it twice is
   * harmless. The caller does not wait for it.
   */
  #unconfirmed(keys: string[]): void {
    if (this.#client.status !== 'ready') {
      this.#remember(keys);
      return;
    }
    // Queued as on its way: it leaves the queue once Redis confirms it, and
    // waits for the replay (tripping the breaker again, if it closed
    // meanwhile) when it does not.
    const seqs = this.#remember(keys, true);
    void this.#raw('delete', () => this.#deleteNow(keys)).then((r) => {
      for (let i = 0; i < keys.length; i++) this.#pending.settle(keys[i]!, seqs[i]!, r !== FAIL);
      if (r === FAIL) this.#breaker.trip('an invalidation could not be written');
    });
  }

  /** Drop every key of the namespace. Never throws; a failure is replayed on recovery. */
  async clear(): Promise<void> {
    if (!this.#breaker.isClosed) {
      this.#pending.overflow();
      return;
    }
    const ok = await this.#flush();
    if (!ok) {
      this.#pending.overflow();
      this.#breaker.trip('clear failed');
    }
  }

  /**
   * Delete (and publish) in batches of DELETE_BATCH keys: Lua's `unpack` takes
   * at most ~8,000 values, so one script call for 4,000 keys or more fails.
   */
  async #deleteNow(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.length <= DELETE_BATCH ? keys : keys.slice(i, i + DELETE_BATCH);
      const redisKeys: string[] = [];
      for (const k of batch) redisKeys.push(this.#vkey(k), this.#lkey(k));
      await this.#eval(this.#scripts.delete, redisKeys, [this.#channel, this.#message(batch)]);
    }
  }

  /**
   * SCAN + UNLINK of `ns~v:*` and `ns~l:*` (values and leases; the token
   * counter survives so tokens are never reused). No other namespace's keys
   * match: namespaces cannot contain `~`. A client's `keyPrefix` is not applied
   * to SCAN patterns nor stripped from the keys SCAN returns, but is added
   * to UNLINK's keys: both done here.
   */
  async #flush(): Promise<boolean> {
    const prefix = this.#keyPrefix ?? '';
    const pattern = `${(prefix + this.#ns).replace(/[*?[\]\\]/g, '\\$&')}~[vl]:*`;
    // A cluster's keys are spread over its masters: SCAN each (every key of
    // one namespace is in one slot, but which master holds it changes on failover).
    const nodes = scanTargets(this.#client);
    if (nodes.length === 0) return false;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const r = await this.#raw('flush', () => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
        if (r === FAIL) return false;
        const [next, found] = r;
        cursor = next;
        const keys = prefix === '' ? found : found.map((k) => k.slice(prefix.length));
        for (const group of groupBySlot(this.#client, keys, prefix)) {
          const u = await this.#raw('flush', () => this.#client.unlink(...group));
          if (u === FAIL) return false;
        }
      } while (cursor !== '0');
    }
    const bus = this.#bus;
    if (bus !== null) {
      // Through a script on the namespace's shard: on a cluster, SPUBLISH to the master its subscribers listen to.
      const p = await this.#raw('flush', () =>
        this.#eval(this.#scripts.publish, [this.#seqKey], [bus.channel, bus.clearMessage()]),
      );
      if (p === FAIL) return false;
    }
    return true;
  }

  #message(keys: string[]): string {
    return this.#bus?.message(keys) ?? '';
  }

  async #eval(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await this.#client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err;
      return this.#client.eval(script.src, keys.length, ...keys, ...args);
    }
  }

  // --------------------------------------------------------------- breaker

  /** Run a command if the breaker is closed, with the timeout; FAIL (never a throw) otherwise. */
  async #run<T>(op: string, fn: () => Promise<T>): Promise<T | Fail> {
    if (!this.#breaker.isClosed) return FAIL;
    const r = await this.#raw(op, fn);
    if (r === FAIL) this.#breaker.failure();
    else this.#breaker.success();
    return r;
  }

  /**
   * A command with the timeout, regardless of the breaker. Deadlines are
   * checked by one shared sweeper rather than a timer per command: a
   * setTimeout/clearTimeout pair and a Promise.race cost more than an L2 hit's
   * own bookkeeping. A timeout fires between `timeoutMs` and 1.25× that.
   */
  #raw<T>(op: string, fn: () => Promise<T>, timeoutMs = this.#o.timeoutMs): Promise<T | Fail> {
    return new Promise<T | Fail>((resolve) => {
      let settled = false;
      const entry: Inflight = {
        deadline: performance.now() + timeoutMs,
        expire: () => {
          if (settled) return;
          settled = true;
          this.#report(new Error(`timed out after ${timeoutMs} ms`), op, true);
          resolve(FAIL);
        },
      };
      this.#inflight.add(entry);
      this.#sweep(timeoutMs);
      let started: Promise<T>;
      try {
        started = fn();
      } catch (err) {
        started = Promise.reject(err);
      }
      started.then(
        (value) => {
          this.#inflight.delete(entry);
          if (settled) return;
          settled = true;
          resolve(value);
        },
        (err) => {
          this.#inflight.delete(entry);
          if (settled) return;
          settled = true;
          this.#report(err, op, false);
          resolve(FAIL);
        },
      );
    });
  }

  /** Start the deadline sweeper if it is not running; it stops itself when nothing is in flight. */
  #sweep(timeoutMs: number): void {
    if (this.#sweeper !== undefined) return;
    // Paced by the shortest timeout in use (the commands'), whichever command
    // starts it: the bus's heartbeats, with a longer one, start it often.
    const every = Math.max(5, Math.floor(Math.min(timeoutMs, this.#o.timeoutMs) / 4));
    this.#lastSweep = performance.now();
    this.#sweeper = setInterval(() => {
      const now = performance.now();
      // Running late means this process was stalled (CPU starved, stopped,
      // a long GC): replies that arrived meanwhile wait unread in the socket,
      // and timers run before I/O. Skip one sweep so they are read first; a
      // timeout measures Redis, not our own stall. Never two in a row, so a
      // process that is always late still times out, one tick later.
      const late = now - this.#lastSweep > 2 * every;
      this.#lastSweep = now;
      if (late && !this.#sweepSkipped) {
        this.#sweepSkipped = true;
        return;
      }
      this.#sweepSkipped = false;
      for (const entry of this.#inflight) {
        if (entry.deadline <= now) {
          this.#inflight.delete(entry);
          entry.expire();
        }
      }
      const gets = this.#gets;
      const mask = gets.length - 1;
      const sentBefore = now - this.#o.timeoutMs;
      while (this.#getHead < this.#getTail) {
        const i = this.#getHead & mask;
        const cmd = gets[i];
        if (cmd !== undefined && this.#getTimes[i]! > sentBefore) break;
        gets[i] = undefined;
        this.#getHead++;
        cmd?.reject(new GetTimeout());
      }
      if (this.#inflight.size === 0 && this.#getHead === this.#getTail) {
        clearInterval(this.#sweeper);
        this.#sweeper = undefined;
      }
    }, every);
    this.#sweeper.unref();
  }

  /** An invalidation did not reach Redis: remember it and stop using L2 until it is replayed. */
  #remember(keys: string[], sending = false): number[] {
    const seqs = keys.map((k) => this.#pending.add(k, true, sending));
    if (!this.#warned) {
      this.#warned = true;
      this.#o.events.onUnconfirmed(keys.length);
    }
    this.#breaker.trip('an invalidation could not be written');
    return seqs;
  }

  /**
   * Half-open: one PING, then replay every invalidation that did not reach
   * Redis (or flush the namespace when there were too many). Only then does
   * the breaker close, so this instance never reads an L2 value it failed to
   * invalidate; requests keep going to the loader meanwhile.
   */
  async #probe(): Promise<ProbeResult> {
    if (this.#closed) return 'closed';
    if (this.#client.status !== 'ready' && !this.#everClosed && !this.#outage) {
      // Still making the first connection: not an outage; 'ready' triggers the next probe.
      return 'wait';
    }
    try {
      const pong = this.#client.status === 'ready' ? await this.#raw('probe', () => this.#client.ping()) : FAIL;
      if (pong === FAIL) {
        this.#outage = true;
        this.#probeFailures++;
        // A connection that is open but silent (a black-holed network) may never recover by
        // itself; reconnect our own client after a few failed probes.
        if (this.#o.ownsClient && this.#client.status === 'ready' && this.#probeFailures % 3 === 0) {
          this.#client.disconnect(true);
        }
        return 'probe failed';
      }
      const replayed = await this.#pending.drain({
        batchSize: REPLAY_BATCH,
        replayAll: () => this.#flush(),
        replay: async (batch) => (await this.#raw('replay', () => this.#deleteNow(batch.map(([k]) => k)))) !== FAIL,
      });
      if (!replayed) return 'replay failed';
      return this.#closed ? 'closed' : true;
    } catch (err) {
      this.#report(err, 'probe');
      return 'probe failed';
    }
  }

  // ---------------------------------------------------------------- errors

  #report(err: unknown, op: string, timeout = false): void {
    this.errors++;
    const message = this.#o.redact(err instanceof Error ? err.message : String(err));
    const e = cacheError(
      timeout ? E_CACHE_TIMEOUT : E_CACHE_REDIS,
      `Redis ${op}: ${message}`,
      // No `cause`: driver errors may carry the connection options.
      { details: { op } },
    );
    this.#o.events.onError(e, op);
  }

  /** Wait until the breaker is closed (and the bus up, if any); false on timeout. */
  async ready(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.#breaker.isClosed && (this.#bus === null || (this.#bus.up && this.#proven))) return true;
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#breaker.stop();
    const quit = async (c: BusSubscriber) => {
      if (c.status === 'end') return;
      const r = await this.#raw('close', () => c.quit(), 500);
      if (r === FAIL) c.disconnect();
    };
    await this.#bus?.close(quit);
    if (this.#o.ownsClient) await quit(this.#client);
  }
}

/** A command waiting for Redis, with the moment it times out. */
interface Inflight {
  deadline: number;
  expire(): void;
}

/** A GET sent by Remote.send: the driver's command, or (auto-pipelining clients) a #run around it. */
export interface Sent {
  readonly promise: Promise<string | null | Fail>;
}

/** What the sweeper rejects a timed-out hit-path GET with. */
class GetTimeout extends Error {}
