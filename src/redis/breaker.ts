/**
 * One circuit breaker, and the replay queue of writes Redis did not receive,
 * shared by the cache's L2 and the session store (after BentoCache's
 * CircuitBreaker: closed → open after failures → a probe after `breakMs`).
 *
 * Unlike a plain breaker, ours closes only through a probe that the owner
 * supplies, and the probe's job includes draining the replay queue: an
 * invalidation or revocation that could not reach Redis is written before
 * Redis is trusted again, so nothing removed during an outage resurfaces
 * after it.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * What a probe concludes: `true` Redis is back (and everything queued was
 * replayed): close; `'wait'`: not an outage yet (still making the first
 * connection), stay open without counting it; a string: still failing, why.
 */
export type ProbeResult = true | 'wait' | string;

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker (>= 1). */
  threshold: number;
  /** How long it stays open before a probe, ms. */
  breakMs: number;
  /**
   * The first probe after `trip` (a write that must be replayed failed), and
   * the retry after a probe whose replay was overtaken by another such write,
   * ms (default `breakMs`). Shorter than `breakMs` so that a write which only
   * hit a passing hiccup is replayed promptly rather than a whole break later;
   * a probe that fails falls back to `breakMs`.
   */
  quickProbeMs?: number;
  /** Half-open: check Redis and replay the queue. Must not throw (a throw counts as 'probe failed'). */
  probe: () => Promise<ProbeResult>;
  /**
   * Whether writes still wait for a replay (the owner's ReplayQueue is not
   * empty). A trip during a probe then keeps the probe from closing only while
   * some remain: the queue's drain loops until it is empty, so a write queued
   * during the probe was replayed by it when the queue is empty at close.
   * Without it every trip during a probe fails the probe, and a breaker under
   * a steady stream of writes during recovery never closes. Default: always
   * pending.
   */
  pending?: () => boolean;
  /** Every transition, with why. */
  onChange?: (state: BreakerState, reason: string) => void;
  /** Default 'closed'. The cache starts 'open' and probes at once: nothing is sent before Redis answered. */
  initial?: BreakerState;
}

export class CircuitBreaker {
  readonly #o: CircuitBreakerOptions;
  #state: BreakerState;
  #failures = 0;
  #probing = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Why the breaker was tripped while a probe was running (its replay may have missed that write). */
  #trippedWhileProbing: string | undefined;

  constructor(options: CircuitBreakerOptions) {
    this.#o = options;
    this.#state = options.initial ?? 'closed';
  }

  get state(): BreakerState {
    return this.#state;
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  get failures(): number {
    return this.#failures;
  }

  /** A command succeeded: the failure streak ends. */
  success(): void {
    this.#failures = 0;
  }

  /** A command failed: opens the breaker once `threshold` failed in a row. */
  failure(): void {
    if (++this.#failures >= this.#o.threshold) this.open(`${this.#failures} consecutive failures`);
  }

  /**
   * Open now if closed (a write that must be replayed failed: do not wait for
   * the threshold), probing after `quickProbeMs`.
   */
  trip(reason: string): void {
    if (this.#state === 'closed') this.open(reason, this.#o.quickProbeMs);
    else if (this.#probing) this.#trippedWhileProbing = reason;
  }

  /** Open (or stay open) and probe after `delayMs` (default `breakMs`). */
  open(reason: string, delayMs = this.#o.breakMs): void {
    if (this.#stopped) return;
    const was = this.#state;
    this.#state = 'open';
    if (was !== 'open') this.#o.onChange?.('open', reason);
    if (!this.#probing) this.probeIn(delayMs);
  }

  /** Schedule a probe (replacing a scheduled one); `0` probes on the next turn. */
  probeIn(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#probe(), delayMs);
    this.#timer.unref();
  }

  /** No more probes or transitions (the owner is closing). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #probe(): Promise<void> {
    if (this.#stopped || this.#probing || this.#state === 'closed') return;
    this.#probing = true;
    this.#state = 'half-open';
    this.#o.onChange?.('half-open', 'probing');
    this.#trippedWhileProbing = undefined;
    let result: ProbeResult;
    try {
      result = await this.#o.probe();
    } catch {
      result = 'probe failed';
    }
    // A write queued after the probe's replay finished must not be skipped by
    // closing now; Redis answered, so probe again soon rather than a break later.
    // The check and the close below run in one turn: no write can slip between.
    let delayMs = this.#o.breakMs;
    if (result === true && this.#trippedWhileProbing !== undefined && (this.#o.pending?.() ?? true)) {
      result = this.#trippedWhileProbing;
      delayMs = this.#o.quickProbeMs ?? delayMs;
    }
    this.#probing = false;
    if (this.#stopped) return;
    if (result === true) {
      this.#state = 'closed';
      this.#failures = 0;
      this.#o.onChange?.('closed', 'recovered');
    } else if (result === 'wait') {
      this.#state = 'open';
      this.probeIn(this.#o.breakMs);
    } else {
      this.open(result, delayMs);
    }
  }
}

/**
 * Writes that did not reach Redis, by key, replayed in order of first
 * failure. Re-adding a key moves its sequence on, so a replay that was in
 * flight when the key failed again does not drop the newer entry.
 *
 * Bounded: beyond `max` entries the queue gives up on individual keys and
 * asks for one `replayAll` instead (the cache flushes its namespace). An
 * owner without such a fallback passes `max: Infinity`.
 */
export class ReplayQueue<T> {
  /** `sending`: the write is on its way to Redis by itself (see `add`); the replay need not send it again. */
  readonly #items = new Map<string, { seq: number; value: T; sending: boolean }>();
  readonly #max: number;
  #seq = 0;
  #overflow = false;
  #replayed = 0;

  constructor(options: { max: number }) {
    this.#max = options.max;
  }

  /** Entries waiting, plus one for a pending replay-all. */
  get size(): number {
    return this.#items.size + (this.#overflow ? 1 : 0);
  }

  /** Entries replayed successfully since creation (a replay-all counts as one), for metrics. */
  get replayed(): number {
    return this.#replayed;
  }

  /** Everything must be replayed at once (too many keys, or an explicit `overflow()`). */
  get overflowed(): boolean {
    return this.#overflow;
  }

  has(key: string): boolean {
    return this.#items.has(key);
  }

  /**
   * Entries the replay must still send (those not on their way by
   * themselves), plus one for a pending replay-all: what keeps a breaker
   * from closing.
   */
  get unsent(): number {
    let n = this.#overflow ? 1 : 0;
    for (const item of this.#items.values()) if (!item.sending) n++;
    return n;
  }

  /**
   * Queue `key`; returns its sequence number, for `settle`. With `sending`,
   * the owner is also sending this write now and reports the outcome with
   * `settle`: the entry leaves the queue when it arrived, and waits for the
   * replay when it did not. A write sent now on the connection reads will use
   * arrives before them, so it need not hold the breaker open; without this,
   * writes arriving steadily during recovery kept the replay from ever
   * finding the queue empty.
   */
  add(key: string, value: T, sending = false): number {
    const seq = ++this.#seq;
    if (this.#overflow) return seq; // covered by the replay-all
    this.#items.set(key, { seq, value, sending });
    if (this.#items.size > this.#max) this.overflow();
    return seq;
  }

  /** The outcome of a write queued with `sending` (a later `add` of the key supersedes it). */
  settle(key: string, seq: number, arrived: boolean): void {
    const item = this.#items.get(key);
    if (item?.seq !== seq) return;
    if (arrived) this.#items.delete(key);
    else item.sending = false;
  }

  /** Replace every entry by one replay-all (a `clear` that failed, or too many keys). */
  overflow(): void {
    this.#items.clear();
    this.#overflow = true;
  }

  /**
   * Replay until nothing is unsent: `replayAll` first when overflowed, then
   * batches of `batchSize` through `replay` (entries on their way by
   * themselves are left to their senders). Stops at the first failure
   * (false), keeping what was not replayed. Entries re-added while their
   * replay was in flight stay queued.
   */
  async drain(handlers: {
    batchSize: number;
    replay: (entries: Array<[key: string, value: T]>) => Promise<boolean>;
    replayAll?: () => Promise<boolean>;
  }): Promise<boolean> {
    while (this.unsent > 0) {
      if (this.#overflow) {
        if (!handlers.replayAll) throw new Error('ReplayQueue overflowed without a replayAll handler');
        this.#overflow = false;
        const marks = this.#marks([...this.#items.keys()]);
        if (!(await handlers.replayAll())) {
          this.#overflow = true;
          return false;
        }
        // Everything queued before the replay-all is covered by it.
        this.#settle(marks);
        this.#replayed++;
        continue;
      }
      const batch: Array<[string, T]> = [];
      for (const [k, { value, sending }] of this.#items) {
        if (sending) continue;
        batch.push([k, value]);
        if (batch.length >= handlers.batchSize) break;
      }
      const marks = this.#marks(batch.map(([k]) => k));
      if (!(await handlers.replay(batch))) return false;
      this.#settle(marks);
      this.#replayed += batch.length;
    }
    return true;
  }

  clear(): void {
    this.#items.clear();
    this.#overflow = false;
  }

  #marks(keys: string[]): Map<string, number> {
    const marks = new Map<string, number>();
    for (const k of keys) marks.set(k, this.#items.get(k)!.seq);
    return marks;
  }

  #settle(marks: Map<string, number>): void {
    for (const [k, seq] of marks) if (this.#items.get(k)?.seq === seq) this.#items.delete(k);
  }
}
