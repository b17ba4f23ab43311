/**
 * `defineCutover`: the object the app reads and writes through while it
 * moves one collection from its old store to a new one, live. What each call
 * does is the stage table's (stages.ts); the stage comes from the database
 * and is followed by every instance (control.ts); writes to the second store
 * that fail, or that a crash interrupts, are journaled and replayed
 * (journal.ts); shadow reads are compared (compare.ts) and their outcomes
 * feed the gate of `advance` (advance.ts).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { toMs } from '../duration.js';
import { FerryError } from '../errors.js';
import { type Comparator, valueComparator } from './compare.js';
import { StageFollower } from './control.js';
import { E_CUTOVER_CONFIG, E_CUTOVER_STORE } from './errors.js';
import { Journal, type JournalOp, type Settlement, toJson } from './journal.js';
import { bucketOf } from './key-hash.js';
import { type CutoverOptions, validate } from './options.js';
import { BEHAVIOUR, type Stage, type StoreSide } from './stages.js';
import type { CutoverStore, StoreEntry } from './store.js';
import { COMPARISONS_TABLE, CONTROL_TABLE, capRows, MISMATCHES_TABLE, query } from './tables.js';

export type { CutoverOptions } from './options.js';

export interface CutoverStats {
  stage: Stage;
  epoch: number;
  reads: number;
  writes: number;
  deletes: number;
  /** Shadow reads started (sampled reads of the second store). */
  shadowReads: number;
  comparisons: number;
  mismatches: number;
  shadowErrors: number;
  shadowTimeouts: number;
  /** Secondary writes that failed and were left to the journal. */
  journaled: number;
  /** Keys the drainer copied to their target. */
  replayed: number;
  /** Primary reads or writes that failed (the request failed). */
  primaryFailures: number;
}

export interface Cutover<V> {
  readonly name: string;
  /** The stage this instance follows now. */
  readonly stage: Stage;
  /** Resolves once the instance registered and read its stage (every call waits for it anyway). */
  ready(): Promise<void>;
  read(key: string): Promise<V | undefined>;
  write(key: string, value: V): Promise<void>;
  /** `write(key(value), value)`; needs the `key` option. */
  save(value: V): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every entry of the store reads come from (E_CUTOVER_STORE if it cannot list). */
  list(options?: { signal?: AbortSignal }): AsyncIterable<StoreEntry<V>>;
  stats(): CutoverStats;
  /** Wait for shadow comparisons under way, then record outcomes and mismatches in the database. */
  flush(): Promise<void>;
  /** Re-read the stage now and wait until it is applied (the next poll would do it anyway). */
  refresh(): Promise<void>;
  /** Run one journal drain round now. */
  drain(): Promise<{ replayed: number; failed: number; deferred: number }>;
  /** Finish in-flight writes, flush, leave the instances table. The stores are the app's to close. */
  close(): Promise<void>;
}

interface Mismatch {
  key: string;
  old: unknown;
  new: unknown;
  fields: string[];
}

/**
 * Read and write one collection through a live cutover from `old` to `new`.
 * What each call does follows the stage, which is stored in Postgres
 * (`ferry_cutover`) and moved by `advance`/`rollback` (or `ferry cutover
 * advance <name>`); every instance of the app follows it within `poll`, at
 * once with Redis.
 *
 *   | stage        | writes        | reads                                            |
 *   |--------------|---------------|--------------------------------------------------|
 *   | `off`        | old           | old                                              |
 *   | `dual-write` | old, then new | old                                              |
 *   | `shadow`     | old, then new | old; new concurrently on a sample, compared      |
 *   | `live`       | new, then old | new; old concurrently on a sample, compared      |
 *   | `rampdown`   | new, then old | new                                              |
 *   | `complete`   | new           | new                                              |
 *
 * A failure of the first store written fails the call (E_CUTOVER_STORE); a
 * failure of the second is journaled in `ferry_cutover_journal` and replayed
 * in the background, as is a write interrupted by a crash between the two
 * stores. Shadow reads never delay the answer (they run beside it with
 * `shadowTimeout`); their mismatches are stored (`ferry_cutover_mismatches`,
 * newest `mismatchCap`) and counted, and `advance` from `shadow` to `live`
 * refuses while they are too many. A ramp percentage (`setRamp`) routes that
 * share of keys' reads to the new store within `shadow`/`live`.
 *
 * @example
 *   import { connect } from 'ferry';
 *   import { defineCutover, memoryStore, valueComparator } from 'ferry/cutover';
 *
 *   const ferry = await connect({ schema });
 *   const users = defineCutover<User>({
 *     name: 'users',
 *     old: memoryStore(legacyUsers),                  // what the app used so far
 *     new: repositoryStore(ferry.repo(schema.users)),  // where it is going
 *     key: (u) => String(u.id),
 *     db: ferry,
 *     redis: process.env.REDIS_URL,                   // optional: instances follow at once
 *     compare: { table: schema.users, ignore: ['updated_at'] },
 *     sample: 0.1,
 *   });
 *   await users.save({ id: 42, name: 'Ada' });
 *   const ada = await users.read('42');
 *   // elsewhere: await advance(ferry, 'users');   (off → dual-write → shadow → live → rampdown → complete)
 */
export function defineCutover<V>(options: CutoverOptions<V>): Cutover<V> {
  return new CutoverImpl(options);
}

const DEFAULT_POLL_MS = 1_000;
const DEFAULT_SHADOW_TIMEOUT_MS = 1_000;

class CutoverImpl<V> implements Cutover<V> {
  readonly name: string;
  readonly #o: CutoverOptions<V>;
  readonly #stores: Record<StoreSide, CutoverStore<V>>;
  readonly #compare: Comparator<V>;
  readonly #sample: number;
  readonly #shadowTimeoutMs: number;
  readonly #follower: StageFollower;
  readonly #journal: Journal;
  readonly #ready: Promise<void>;
  readonly #background = new Set<Promise<void>>();
  #outcomes: boolean[] = [];
  #mismatches: Mismatch[] = [];
  /**
   * Writes that ended and whose journal row is not settled yet: written in
   * batches beside the requests (one statement per batch), and kept for the
   * next tick when the database hiccups, or they would look in flight forever.
   */
  #unsettled: Settlement[] = [];
  #settling: Promise<void> | null = null;
  /** Dual writes in flight by key: two that overlap are marked `raced` (their settle leaves them to the drainer). */
  readonly #writing = new Map<string, Set<Settlement>>();
  #settleScheduled = false;
  #settled: Promise<void> = Promise.resolve();
  #flushing: Promise<void> | null = null;
  #closed: Promise<void> | null = null;
  readonly #stats = {
    reads: 0,
    writes: 0,
    deletes: 0,
    shadowReads: 0,
    comparisons: 0,
    mismatches: 0,
    shadowErrors: 0,
    shadowTimeouts: 0,
    journaled: 0,
    replayed: 0,
    primaryFailures: 0,
  };

  constructor(options: CutoverOptions<V>) {
    validate(options);
    this.#o = options;
    this.name = options.name;
    this.#stores = { old: options.old, new: options.new };
    this.#compare = typeof options.compare === 'function' ? options.compare : valueComparator<V>(options.compare ?? {});
    this.#sample = options.sample ?? 1;
    this.#shadowTimeoutMs = toMs(
      options.shadowTimeout ?? DEFAULT_SHADOW_TIMEOUT_MS,
      `defineCutover "${options.name}" option shadowTimeout`,
      E_CUTOVER_CONFIG,
    );
    const pollMs = toMs(
      options.poll ?? DEFAULT_POLL_MS,
      `defineCutover "${options.name}" option poll`,
      E_CUTOVER_CONFIG,
    );
    const ttlMs =
      options.instanceTtl === undefined
        ? Math.max(5 * pollMs, 5_000)
        : toMs(options.instanceTtl, `defineCutover "${options.name}" option instanceTtl`, E_CUTOVER_CONFIG);
    const instanceId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.#journal = new Journal({
      db: options.db,
      name: options.name,
      instanceId,
      stores: this.#stores as Record<StoreSide, CutoverStore<unknown>>,
      syncIntent: options.syncJournal ?? false,
    });
    this.#follower = new StageFollower({
      db: options.db,
      name: options.name,
      instanceId,
      pollMs,
      ttlMs,
      initialStage: options.initialStage ?? 'off',
      redis: options.redis,
      onTick: () => this.#tick(),
    });
    this.#ready = this.#follower.start().then(() => {
      // Orphans of instances that died before this one started are replayed now, not a poll later.
      this.#run(
        this.#journal.drain().then((r) => {
          this.#stats.replayed += r.replayed;
        }),
        'journal drain',
      );
    });
    this.#ready.catch(() => {}); // surfaced by the first call that awaits it
    const shutdownHook = (options.db as { onShutdown?: (c: { close(): unknown }) => void }).onShutdown;
    if (typeof shutdownHook === 'function') shutdownHook.call(options.db, this);
  }

  get stage(): Stage {
    return this.#follower.state.stage;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  async read(key: string): Promise<V | undefined> {
    await this.#ready;
    this.#stats.reads++;
    const { stage, ramp } = this.#follower.state;
    const behaviour = BEHAVIOUR[stage];
    let primary = behaviour.reads;
    let shadow = behaviour.shadow;
    if (stage === 'shadow' || stage === 'live') {
      const percent = ramp ?? (stage === 'shadow' ? 0 : 100);
      primary = bucketOf(key) < percent ? 'new' : 'old';
      shadow = primary === 'new' ? 'old' : 'new';
    }
    const answer = this.#stores[primary].get(key);
    if (shadow !== null && (this.#sample >= 1 || Math.random() < this.#sample)) {
      this.#stats.shadowReads++;
      const store = this.#stores[shadow];
      this.#track(this.#shadowCompare(key, primary, answer, () => store.get(key)));
    }
    try {
      return await answer;
    } catch (err) {
      this.#stats.primaryFailures++;
      throw storeError(this.name, this.#stores[primary], 'get', key, err);
    }
  }

  write(key: string, value: V): Promise<void> {
    return this.#write(key, 'put', value);
  }

  save(value: V): Promise<void> {
    if (!this.#o.key) {
      throw new FerryError(
        E_CUTOVER_CONFIG,
        `cutover "${this.name}": save(value) needs the \`key\` option (a function from a value to its key); or call write(key, value).`,
      );
    }
    return this.#write(this.#o.key(value), 'put', value);
  }

  delete(key: string): Promise<void> {
    return this.#write(key, 'delete', undefined);
  }

  async *list(options?: { signal?: AbortSignal }): AsyncIterable<StoreEntry<V>> {
    await this.#ready;
    const store = this.#stores[BEHAVIOUR[this.stage].reads];
    if (!store.list) {
      throw new FerryError(
        E_CUTOVER_STORE,
        `cutover "${this.name}": the store ${store.label} cannot list its entries; list() needs a store with list().`,
        { details: { store: store.label, operation: 'list' } },
      );
    }
    yield* store.list(options);
  }

  stats(): CutoverStats {
    const { stage, epoch } = this.#follower.state;
    return { stage, epoch, ...this.#stats };
  }

  async flush(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
    // A record already under way (the poll's) took only what was buffered when it began: wait for it, then
    // record what came after, so flush() returns with every comparison made before it in the database.
    while (this.#flushing) await this.#flushing.catch(() => {});
    if (this.#outcomes.length === 0 && this.#mismatches.length === 0) return;
    this.#flushing = this.#record().finally(() => {
      this.#flushing = null;
    });
    await this.#flushing;
  }

  async refresh(): Promise<void> {
    await this.#ready;
    await this.#follower.refresh();
    await this.#follower.settled();
  }

  async drain(): Promise<{ replayed: number; failed: number; deferred: number }> {
    await this.#ready;
    await this.#resettle();
    const result = await this.#journal.drain();
    this.#stats.replayed += result.replayed;
    return result;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#ready.catch(() => {});
      await this.#follower.close();
      await this.flush().catch((err) => this.#o.onError?.(err, 'flush'));
      await this.#resettle().catch(() => {});
    })();
    return this.#closed;
  }

  async #write(key: string, op: JournalOp, value: V | undefined): Promise<void> {
    await this.#ready;
    const { state, done } = this.#follower.begin();
    try {
      if (op === 'put') this.#stats.writes++;
      else this.#stats.deletes++;
      const [primary, secondary] = BEHAVIOUR[state.stage].writes as [StoreSide, StoreSide | undefined];
      if (secondary === undefined) {
        await this.#apply(primary, key, op, value, true);
        return;
      }
      let seq: number;
      try {
        seq = await this.#journal.intend(key, op, value, primary, secondary);
      } catch (err) {
        this.#stats.primaryFailures++;
        throw new FerryError(
          E_CUTOVER_STORE,
          `cutover "${this.name}": could not journal the ${op} of key "${key}" in ferry_cutover_journal, so neither store was written; check the database and retry.`,
          { cause: err, details: { store: 'ferry_cutover_journal', key, operation: op } },
        );
      }
      const entry: Settlement = { seq, key, op, value, source: primary, target: secondary };
      let writing = this.#writing.get(key);
      if (!writing) {
        writing = new Set();
        this.#writing.set(key, writing);
      }
      if (writing.size > 0) {
        entry.raced = true;
        for (const other of writing) other.raced = true;
      }
      writing.add(entry);
      try {
        try {
          await this.#apply(primary, key, op, value, true);
        } catch (err) {
          // The row stays for the drainer: it makes the secondary equal the primary, whatever the primary kept.
          entry.error = err;
          await this.#settle(entry);
          throw err;
        }
        try {
          await this.#apply(secondary, key, op, value, false);
        } catch (err) {
          entry.error = err;
          this.#stats.journaled++;
          this.#o.onError?.(err, `secondary ${op} of "${key}" in ${this.#stores[secondary].label} (journaled)`);
        }
      } finally {
        writing.delete(entry);
        if (writing.size === 0) this.#writing.delete(key);
      }
      // Off the request path: nothing waits for the settle of a write that reached both stores (see journal.ts);
      // a failed one is settled before the call returns, so the journal shows it as pending at once.
      if (entry.error === undefined) void this.#settle(entry);
      else await this.#settle(entry);
    } finally {
      done();
    }
  }

  async #apply(side: StoreSide, key: string, op: JournalOp, value: V | undefined, primary: boolean): Promise<void> {
    const store = this.#stores[side];
    try {
      if (op === 'put') await store.put(key, value as V);
      else await store.delete(key);
    } catch (err) {
      if (!primary) throw err;
      this.#stats.primaryFailures++;
      throw storeError(this.name, store, op, key, err);
    }
  }

  /**
   * Queue a settle; the batch goes out once the current turn of the event
   * loop is over. Resolves when it was written (or left queued for the next
   * tick, the database failing); never rejects.
   */
  #settle(entry: Settlement): Promise<void> {
    this.#unsettled.push(entry);
    if (!this.#settleScheduled) {
      this.#settleScheduled = true;
      this.#settled = new Promise<void>((resolve) =>
        setImmediate(() => {
          this.#settleScheduled = false;
          this.#resettle()
            .catch((err) => this.#o.onError?.(err, 'journal settle'))
            .finally(resolve);
        }),
      );
    }
    return this.#settled;
  }

  /** Write every queued settle, a batch at a time (one batch in flight); a failed batch is queued again. */
  async #resettle(): Promise<void> {
    // Wait for a batch in flight first: it may have stopped looking at the queue before our entries came.
    while (this.#settling) await this.#settling.catch(() => {});
    if (this.#unsettled.length === 0) return;
    this.#settling = (async () => {
      try {
        while (this.#unsettled.length > 0) {
          const batch = this.#unsettled.splice(0, 500);
          try {
            await this.#journal.settleMany(batch);
          } catch (err) {
            this.#unsettled.unshift(...batch);
            throw err;
          }
        }
      } finally {
        this.#settling = null;
      }
    })();
    await this.#settling;
  }

  async #shadowCompare(
    key: string,
    primary: StoreSide,
    answer: Promise<V | undefined>,
    readOther: () => Promise<V | undefined>,
  ): Promise<void> {
    let primaryValue: V | undefined;
    try {
      primaryValue = await answer;
    } catch {
      return; // the request failed; there is nothing to compare
    }
    // The shadow read starts once the answer is on its way back to the caller (the next turn of the event
    // loop): it then runs beside the rest of the request, and not even the CPU of issuing it (a repository
    // builds and validates its query before the first await, ~100 µs) comes before the answer. Started
    // beside the primary read instead, that CPU alone made a shadowed Redis read of ~15 µs take ~150 µs.
    await new Promise<void>((resolve) => setImmediate(resolve));
    let other: Promise<V | undefined>;
    try {
      other = readOther();
    } catch (err) {
      other = Promise.reject(err);
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = Symbol('timeout');
    let otherValue: V | undefined | typeof timedOut;
    try {
      otherValue = await Promise.race([
        other,
        new Promise<typeof timedOut>((resolve) => {
          timer = setTimeout(() => resolve(timedOut), this.#shadowTimeoutMs);
          timer.unref();
        }),
      ]);
    } catch (err) {
      this.#stats.shadowErrors++;
      this.#o.onError?.(err, `shadow read of "${key}"`);
      return;
    } finally {
      clearTimeout(timer);
    }
    if (otherValue === timedOut) {
      other.catch(() => {});
      this.#stats.shadowTimeouts++;
      return;
    }
    let [oldValue, newValue] = primary === 'old' ? [primaryValue, otherValue] : [otherValue, primaryValue];
    let fields = this.#compare(oldValue as V, newValue as V);
    if (fields.length > 0) {
      // The shadow read started after the answer, so a write of the key in between (the app's read, then
      // its write: the commonest pattern there is) differs for no fault of either store. Read both again,
      // at the same instant: a real difference is still there, a passing write has reached both by now.
      const again = await this.#readBoth(key);
      if (again === undefined) return; // timed out or failed: neither a match nor a mismatch
      [oldValue, newValue] = again;
      fields = this.#compare(oldValue as V, newValue as V);
    }
    this.#stats.comparisons++;
    this.#outcomes.push(fields.length > 0);
    if (fields.length > 0) {
      this.#stats.mismatches++;
      this.#mismatches.push({ key, old: oldValue, new: newValue, fields });
    }
  }

  /** Both stores' values of `key`, read together (undefined when either fails or takes over shadowTimeout). */
  async #readBoth(key: string): Promise<[V | undefined, V | undefined] | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const both = Promise.all([this.#stores.old.get(key), this.#stores.new.get(key)]);
    both.catch(() => {});
    try {
      return await Promise.race([
        both,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), this.#shadowTimeoutMs);
          timer.unref();
        }),
      ]);
    } catch (err) {
      this.#stats.shadowErrors++;
      this.#o.onError?.(err, `shadow re-read of "${key}"`);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  #track(task: Promise<void>): void {
    const tracked = task
      .catch((err) => this.#o.onError?.(err, 'shadow compare'))
      .finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  #run(task: Promise<unknown>, context: string): void {
    task.catch((err) => this.#o.onError?.(err, context));
  }

  /** Write buffered comparison outcomes and mismatches (kept in memory again if the database fails). */
  async #record(): Promise<void> {
    const outcomes = this.#outcomes.splice(0);
    const mismatches = this.#mismatches.splice(0);
    if (outcomes.length === 0 && mismatches.length === 0) return;
    const { db, name } = this.#o;
    try {
      if (outcomes.length > 0) {
        await query(
          db,
          `insert into ${COMPARISONS_TABLE} (name, mismatch) select $1, m from unnest($2::boolean[]) with ordinality as t(m, i) order by i`,
          [name, outcomes],
        );
        await query(
          db,
          `update ${CONTROL_TABLE} set comparisons = comparisons + $2, mismatches = mismatches + $3 where name = $1`,
          [name, outcomes.length, outcomes.filter(Boolean).length],
        );
        await capRows(db, COMPARISONS_TABLE, name, this.#o.comparisonsKept ?? 10_000);
      }
      for (const m of mismatches) {
        await query(
          db,
          `insert into ${MISMATCHES_TABLE} (name, key, old_value, new_value, fields) values ($1, $2, $3::jsonb, $4::jsonb, $5::jsonb)`,
          [name, m.key, toJson(m.old), toJson(m.new), JSON.stringify(m.fields)],
        );
      }
      if (mismatches.length > 0) await capRows(db, MISMATCHES_TABLE, name, this.#o.mismatchCap ?? 1_000);
    } catch (err) {
      this.#outcomes.unshift(...outcomes);
      this.#mismatches.unshift(...mismatches);
      throw err;
    }
  }

  async #tick(): Promise<void> {
    await this.flush().catch((err) => this.#o.onError?.(err, 'flush'));
    await this.#resettle().catch(() => {});
    const result = await this.#journal.drain().catch((err) => {
      this.#o.onError?.(err, 'journal drain');
      return null;
    });
    if (result) this.#stats.replayed += result.replayed;
  }
}

function storeError(name: string, store: CutoverStore<unknown>, operation: string, key: string, cause: unknown) {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new FerryError(
    E_CUTOVER_STORE,
    `cutover "${name}": ${operation} of key "${key}" failed in ${store.label}, the store this stage depends on (${reason}); the request failed. Check ${store.label} and retry.`,
    { cause, details: { store: store.label, key, operation } },
  );
}
