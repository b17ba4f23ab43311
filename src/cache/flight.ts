/**
 * What the cache keeps per key in L1 (Entry) and per load in progress
 * (Flight: the one loader call concurrent misses of a key share).
 */

export interface Entry {
  v: unknown;
  /** performance.now() of storage. */
  at: number;
  /** Logically fresh until (performance.now()). */
  exp: number;
  /** Servable as a graced value until. */
  hard: number;
}

/**
 * A read or load of a key in progress is stale once the key has been
 * invalidated since it started: its ticket is the invalidation count then
 * (see #stale).
 */
export type Ticket = number;

export class Flight {
  promise!: Promise<unknown>;
  /** With grace only: resolves with a graced value once the loader has been slow for graceTimeout (never otherwise). */
  soft: Promise<unknown> | undefined;
  /** Settled (and cleaned up). */
  done = false;
  constructor(
    readonly key: string,
    readonly ticket: Ticket,
  ) {}
}

/** A flight's fallback value (getOrSet with grace). */
export interface Graced {
  v: unknown;
  has: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Keep `v` to serve if the loader fails, and serve it anyway if the loader is still running after graceTimeout. */
  offer(v: unknown): void;
}
