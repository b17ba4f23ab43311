/** `defineCutover`'s options, and the one place that checks them (E_CUTOVER_CONFIG naming the option). */
import type { Duration } from '../duration.js';
import { FerryError } from '../errors.js';
import type { RedisInput } from '../redis/connection.js';
import type { Comparator, ValueComparatorOptions } from './compare.js';
import { E_CUTOVER_CONFIG } from './errors.js';
import { isStage, type Stage } from './stages.js';
import type { CutoverStore } from './store.js';
import type { CutoverDb } from './tables.js';

export interface CutoverOptions<V> {
  /** The cutover's name: its row in `ferry_cutover`, what `ferry cutover advance <name>` takes. */
  name: string;
  /** The store being left. */
  old: CutoverStore<V>;
  /** The store being moved to (usually a Ferry repository's store). */
  new: CutoverStore<V>;
  /** The key of a value, for `save(value)` (`(user) => String(user.id)`). */
  key?: (value: V) => string;
  /** Where the stage, journal and mismatches live: a Ferry (connect()) or a DbHandle (openDatabase()). */
  db: CutoverDb;
  /** A comparator, or options for `valueComparator` (a Ferry table, fields to ignore). Default: structural. */
  compare?: Comparator<V> | ValueComparatorOptions;
  /** Fraction of reads that are shadow-read and compared in `shadow`/`live` (0..1, default 1). */
  sample?: number;
  /** A shadow read that takes longer is abandoned (counted, never compared). Default 1 s. */
  shadowTimeout?: Duration;
  /** Redis (URL or ioredis client): instances hear a stage change at once. Without it (or while it is down) they poll. */
  redis?: RedisInput;
  /** How often the instance re-reads the stage, heartbeats, flushes comparisons and drains the journal. Default 1 s. */
  poll?: Duration;
  /** After this long without a heartbeat the instance counts as gone. Default 5 × poll, at least 5 s. */
  instanceTtl?: Duration;
  /** The stage a cutover starts in the first time its name is seen. Default `off`. */
  initialStage?: Stage;
  /** Keep the newest this many mismatch records (default 1000); all are counted. */
  mismatchCap?: number;
  /** Keep the newest this many comparison outcomes for the gate's window (default 10,000). */
  comparisonsKept?: number;
  /**
   * Commit each journal intent with the server's synchronous_commit (a WAL
   * flush per dual write) instead of `off`. Default false: the one case it
   * covers is Postgres and the app crashing within the same ~600 ms (see
   * journal.ts).
   */
  syncJournal?: boolean;
  /** Called with failures that do not fail a request (a shadow read, a journal drain, a flush). */
  onError?: (err: unknown, context: string) => void;
}

export function validate<V>(o: CutoverOptions<V>): void {
  const fail = (message: string, option: string) => {
    throw new FerryError(E_CUTOVER_CONFIG, `defineCutover: ${message}`, { details: { option } });
  };
  if (!o || typeof o.name !== 'string' || !/^[\w.:-]{1,100}$/.test(o.name)) {
    fail('`name` must be 1-100 letters, digits, _ . : - (it names the cutover in ferry_cutover and the CLI).', 'name');
  }
  for (const side of ['old', 'new'] as const) {
    const store = o[side] as CutoverStore<V> | undefined;
    if (
      !store ||
      typeof store.get !== 'function' ||
      typeof store.put !== 'function' ||
      typeof store.delete !== 'function'
    ) {
      fail(`\`${side}\` of "${o.name}" must be a store with get/put/delete (see ferry/cutover's stores).`, side);
    }
  }
  if (!o.db || typeof (o.db as CutoverDb).db?.executeQuery !== 'function') {
    fail(`\`db\` of "${o.name}" must be a Ferry (connect()) or a DbHandle (openDatabase()).`, 'db');
  }
  if (o.key !== undefined && typeof o.key !== 'function')
    fail('`key` must be a function from a value to its key.', 'key');
  if (o.sample !== undefined && !(typeof o.sample === 'number' && o.sample >= 0 && o.sample <= 1)) {
    fail(
      `\`sample\` of "${o.name}" must be a number from 0 to 1 (the share of reads compared), got ${String(o.sample)}.`,
      'sample',
    );
  }
  if (o.initialStage !== undefined && !isStage(o.initialStage)) {
    fail(
      `\`initialStage\` of "${o.name}" must be a stage (off, dual-write, shadow, live, rampdown, complete).`,
      'initialStage',
    );
  }
}
