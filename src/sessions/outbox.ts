/**
 * The revocation outbox: revocations Redis may not have yet, kept in Postgres
 * (the `session_outbox` table, written by the same statement that revokes
 * the session, see postgres.ts), never only in one process's memory. A
 * process cut off from Redis that revokes a session and then dies still
 * leaves every other instance refusing it.
 *
 * Every instance with `persist` and Redis reads the whole table every
 * `outboxPollMs` (one query) and
 * - refuses the sessions listed there before it trusts Redis (`has`);
 * - when it reaches Redis, tells Redis each one as a per-jti revoke
 *   (tombstone + delete: idempotent, so instances racing to replay the same
 *   row is harmless) and deletes the rows. Never as a generation bump: a late
 *   or repeated bump would also end sessions created after the revocation
 *   (a user logs out everywhere, then logs in again).
 * Replaying runs beside the polls, not in them: a Redis that hangs must not
 * delay what the polls tell this instance to refuse.
 *
 * So an instance whose polls succeed refuses a revocation made anywhere
 * within one poll period plus two queries after it committed (a poll already
 * running at the commit may miss it; the next one, a period later, sees it),
 * and Redis has it as soon as any instance reaches Redis; after that Redis's
 * tombstone, then Postgres (a miss reads through and finds it revoked),
 * refuse it.
 *
 * A row is deleted once Redis has it, or, never replayed, once past its
 * `expires_at`: the later of the session's expiry and the revocation, plus
 * the tombstone lifetime (max(2 × ttl, 60 s)). Redis's copy can outlive that
 * only if some instance reaching Redis kept touching the session without
 * ever reading the outbox; any instance that reads it and reaches Redis
 * replays the row within one poll. Postgres-only instances write rows too
 * (their revocations must reach the instances that use Redis) and only prune.
 *
 * The table is normally empty: a row exists from a revocation until Redis
 * has it, so it grows only while Redis is unreachable for everyone, by one
 * row per revoked session.
 */
import type { OutboxRow, PgStore } from './postgres.js';

/** Rows replayed into Redis per round (a backlog after a long outage drains over a few rounds). */
const REPLAY_BATCH = 500;
/** Instances without Redis have nothing to refuse or replay: they only prune, this often at most. */
const PRUNE_EVERY_MS = 60_000;

export interface OutboxOptions {
  pollMs: number;
  /** Tell Redis one revocation (per-jti revoke); `null` without Redis (then the outbox is only pruned). */
  replay: ((row: OutboxRow) => Promise<unknown>) | null;
  /** Whether Redis is worth trying now. */
  canReplay: () => boolean;
  onError: (err: unknown) => void;
}

const keyOf = (u: string, jti: string) => `${u}\0${jti}`;

export class RevocationOutbox {
  readonly #pg: PgStore;
  readonly #o: OutboxOptions;
  /** Sessions to refuse: key -> the number of the poll that last saw its row (or that was running when it was held). */
  readonly #pending = new Map<string, number>();
  #started = 0;
  #polls = 0;
  #replayed = 0;
  #failing: string | null = null;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | null = null;
  #replaying: Promise<void> | null = null;
  #stopped = false;

  constructor(pg: PgStore, options: OutboxOptions) {
    this.#pg = pg;
    this.#o = options;
    this.#schedule(0); // at once: a new instance learns of pending revocations before its first poll period
  }

  /** Whether the session is listed in the outbox (as of the last poll, or revoked here since). */
  has(u: string, jti: string): boolean {
    return this.#pending.size > 0 && this.#pending.has(keyOf(u, jti));
  }

  /**
   * This instance just wrote these rows: refuse their sessions now, without
   * waiting for a poll. A poll that was already running when they were
   * written may miss them; only a poll started after this call drops them
   * (once their rows are gone).
   */
  hold(rows: readonly OutboxRow[]): void {
    for (const r of rows) this.#pending.set(keyOf(r.u, r.jti), this.#started);
  }

  /** Redis has these revocations: delete their rows (a failure leaves them to be replayed again, harmlessly). */
  async settle(rows: readonly OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.#pg.deleteOutbox(rows.map((r) => r.id));
    for (const r of rows) this.#pending.delete(keyOf(r.u, r.jti));
  }

  stats() {
    return { outboxPolls: this.#polls, pendingRevocations: this.#pending.size, replayedRevocations: this.#replayed };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#polling;
    await this.#replaying;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#polling = this.#poll().finally(() => {
        this.#polling = null;
        this.#schedule(this.#o.replay ? this.#o.pollMs : Math.max(this.#o.pollMs, PRUNE_EVERY_MS));
      });
    }, ms);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    if (!this.#o.replay) {
      await this.#pg.pruneOutbox().then(
        () => this.#ok(),
        (err) => this.#failed(err),
      );
      return;
    }
    const epoch = ++this.#started;
    let rows: OutboxRow[];
    try {
      rows = await this.#pg.pollOutbox();
    } catch (err) {
      this.#failed(err); // keep refusing what the last poll listed
      return;
    }
    this.#ok();
    const seen = new Set<string>();
    for (const r of rows) {
      const key = keyOf(r.u, r.jti);
      seen.add(key);
      this.#pending.set(key, epoch);
    }
    // Gone from the table (Redis has it) and not held since this poll started: Redis refuses it now.
    for (const [key, e] of this.#pending) if (e < epoch && !seen.has(key)) this.#pending.delete(key);
    this.#polls++;
    if (rows.length > 0 && !this.#replaying && this.#o.canReplay()) {
      this.#replaying = this.#replay(rows.slice(0, REPLAY_BATCH)).finally(() => {
        this.#replaying = null;
      });
    }
  }

  async #replay(rows: readonly OutboxRow[]): Promise<void> {
    const done: OutboxRow[] = [];
    for (const row of rows) {
      if (this.#stopped || !this.#o.canReplay()) break;
      try {
        await this.#o.replay!(row);
        done.push(row);
      } catch (err) {
        this.#o.onError(err); // Redis went away again: the next poll retries
        break;
      }
    }
    this.#replayed += done.length;
    await this.settle(done).catch((err) => this.#o.onError(err));
  }

  #ok(): void {
    this.#failing = null;
  }

  /** Report a failing poll once, not every period, until a poll succeeds again. */
  #failed(err: unknown): void {
    const message = (err as Error)?.message ?? String(err);
    if (message === this.#failing) return;
    this.#failing = message;
    this.#o.onError(err);
  }
}
