/**
 * `verifyCutover` (`ferry cutover verify <name>`): are the old and the new
 * store the same collection? Run while the app serves, before `advance`
 * takes reads to the new store; its result is recorded for the shadow → live
 * gate (advance.ts).
 *
 * Two passes, memory bounded by O(chunks + one batch of rows), never the
 * whole collection:
 *
 *   1. Both stores are listed once, streaming. Each key falls in one of
 *      `chunks` chunks by a stable hash of the key; each chunk keeps a row
 *      count and an order-independent checksum (lane-wise sum of the SHA-256
 *      of key + canonical value) per side. Chunks by hash, not key ranges:
 *      `CutoverStore.list` yields in any order (a Map's insertion order, a
 *      Redis SCAN, a folder listing), so an ordered scan's ranges are not
 *      available in general, and a sum does not care about order.
 *      The canonical value (compare.ts's `canonicalizer`) hashes values the
 *      comparator calls equal alike (a Date and its ISO string, 12.5 and
 *      '12.5', keys in another order), so two stores that merely spell
 *      values differently agree.
 *   2. Only the chunks whose count or checksum differ are read again, a
 *      batch of chunks at a time (at most `batchRows` rows held, or one
 *      chunk when it alone is bigger): the old side's rows of the batch in a
 *      Map, the new side streamed past them and compared row by row with the
 *      comparator. Each difference is read again from both stores (`get`)
 *      before it is reported: the app keeps writing, and a row caught between
 *      its two writes (or whose secondary write waits in the journal) is not
 *      a difference once it settled.
 *
 * What it cannot promise: a verify of a collection under writes is not a
 * snapshot. A row written during the scan may be seen in one store's listing
 * and not the other's; the re-read settles most of those, and the report
 * gives the journal's depth (writes still to be replayed) so that a
 * difference there can be told from a real one. Run it again before
 * trusting a single difference on a busy key.
 */
import { createHash } from 'node:crypto';
import { FerryError } from '../errors.js';
import { mustRead, recordVerify } from './advance.js';
import { type Comparator, canonicalizer, type ValueComparatorOptions, valueComparator } from './compare.js';
import { E_CUTOVER_CONFIG, E_CUTOVER_STORE } from './errors.js';
import { journalDepth } from './journal.js';
import { keyHash } from './key-hash.js';
import type { CutoverStore } from './store.js';
import type { CutoverDb } from './tables.js';

export interface VerifyOptions<V> {
  /** The cutover's name: where the result is recorded (with `db`), and for messages. */
  name: string;
  old: CutoverStore<V>;
  new: CutoverStore<V>;
  /** The cutover's comparator, or options for `valueComparator` (pass the Ferry table: see `canonicalizer`). */
  compare?: Comparator<V> | ValueComparatorOptions;
  /**
   * The text hashed for a value in pass 1. Default: `canonicalizer(compare)`
   * when `compare` is options; for a comparator function, a strict form
   * (JSON with sorted keys and typed dates, bigints and bytes). Must never
   * give two values the comparator finds different the same text.
   */
  canonical?: (value: V) => string;
  /** Record the result (`recordVerify`, which the shadow → live gate reads) and report the journal's depth. */
  db?: CutoverDb;
  /** Chunks of the key space (default 64). More: a smaller second pass per difference; each costs ~100 bytes. */
  chunks?: number;
  /** Rows held at most in pass 2 (default 50,000), unless one chunk alone has more. */
  batchRows?: number;
  /** Differing keys listed in the report (default 100); all are counted. */
  limit?: number;
  /** Re-read each difference from both stores before reporting it (default true). */
  recheck?: boolean;
  signal?: AbortSignal;
}

export type DifferenceKind = 'missing-in-old' | 'missing-in-new' | 'different';

export interface VerifyDifference {
  key: string;
  kind: DifferenceKind;
  /** For `different`: the fields the comparator names. */
  fields?: string[];
}

export interface VerifyReport {
  name: string;
  /** No difference found. */
  clean: boolean;
  rows: { old: number; new: number };
  chunks: number;
  /** Chunks whose checksums differed and were compared row by row. */
  differingChunks: number;
  differences: { total: number; missingInOld: number; missingInNew: number; different: number };
  /** The first `limit` differences. */
  keys: VerifyDifference[];
  /** Differences seen in the listings that were gone when re-read (writes in flight). */
  settled: number;
  /** The journal of `name` when verified (with `db`): pending writes explain differences that will settle. */
  journal: { pending: number; inflight: number } | null;
  durationMs: number;
  at: string;
}

const DEFAULT_CHUNKS = 64;
const DEFAULT_BATCH_ROWS = 50_000;
const DEFAULT_LIMIT = 100;

/**
 * Compare the old and new store of a cutover (see the module comment), and
 * record the result when `db` is given.
 *
 *   const report = await verifyCutover({
 *     name: 'users', db: ferry,
 *     old: jsonFileStore('data/users.json'),
 *     new: repositoryStore(ferry.repo(schema.users)),
 *     compare: { table: schema.users, ignore: ['updated_at'] },
 *   });
 *   if (!report.clean) console.log(report.keys);   // [{ key: '42', kind: 'different', fields: ['email'] }, ...]
 */
export async function verifyCutover<V>(options: VerifyOptions<V>): Promise<VerifyReport> {
  const started = performance.now();
  const chunks = positive(options.chunks ?? DEFAULT_CHUNKS, 'chunks', options.name);
  const batchRows = positive(options.batchRows ?? DEFAULT_BATCH_ROWS, 'batchRows', options.name);
  const limit = options.limit ?? DEFAULT_LIMIT;
  const compare = typeof options.compare === 'function' ? options.compare : valueComparator<V>(options.compare ?? {});
  const canonical =
    options.canonical ??
    (typeof options.compare === 'function' ? strictCanonical : canonicalizer<V>(options.compare ?? {}));
  const stores = { old: options.old, new: options.new };
  for (const store of Object.values(stores)) {
    if (typeof store.list !== 'function') {
      throw new FerryError(
        E_CUTOVER_STORE,
        `cutover "${options.name}": the store ${store.label} cannot list its entries, so it cannot be verified (verify needs list() on both stores).`,
        { details: { store: store.label, operation: 'list' } },
      );
    }
  }
  // A result to record needs its cutover: say so before the listing, not after (a fresh database has no tables).
  if (options.db) await mustRead(options.db, options.name);
  const chunkOf = (key: string) => keyHash(key) % chunks;

  // Pass 1: count and checksum per chunk, both stores at once.
  const [oldSums, newSums] = await Promise.all([
    checksums(stores.old, chunks, chunkOf, canonical, options.signal),
    checksums(stores.new, chunks, chunkOf, canonical, options.signal),
  ]);
  const differing: number[] = [];
  for (let c = 0; c < chunks; c++) {
    if (oldSums.count[c] !== newSums.count[c] || !lanesEqual(oldSums.lanes, newSums.lanes, c)) differing.push(c);
  }

  // Pass 2: row by row inside the differing chunks, a batch at a time.
  const found = { total: 0, missingInOld: 0, missingInNew: 0, different: 0 };
  const keys: VerifyDifference[] = [];
  let settled = 0;
  const report = async (key: string, oldValue: V | undefined, newValue: V | undefined) => {
    let difference = classify(key, oldValue, newValue, compare);
    if (difference && options.recheck !== false) {
      const [o, n] = await Promise.all([stores.old.get(key), stores.new.get(key)]);
      difference = classify(key, o, n, compare);
      if (!difference) settled++;
    }
    if (!difference) return;
    found.total++;
    if (difference.kind === 'missing-in-old') found.missingInOld++;
    else if (difference.kind === 'missing-in-new') found.missingInNew++;
    else found.different++;
    if (keys.length < limit) keys.push(difference);
  };
  for (const batch of batches(differing, (c) => Math.max(oldSums.count[c]!, newSums.count[c]!), batchRows)) {
    const inBatch = new Set(batch);
    const held = new Map<string, V>();
    for await (const { key, value } of list(stores.old, options.signal)) {
      if (inBatch.has(chunkOf(key))) held.set(key, value);
    }
    for await (const { key, value } of list(stores.new, options.signal)) {
      if (!inBatch.has(chunkOf(key))) continue;
      const had = held.has(key);
      const oldValue = held.get(key);
      held.delete(key);
      await report(key, had ? oldValue : undefined, value);
    }
    for (const [key, value] of held) await report(key, value, undefined);
  }

  const result: VerifyReport = {
    name: options.name,
    clean: found.total === 0,
    rows: { old: sum(oldSums.count), new: sum(newSums.count) },
    chunks,
    differingChunks: differing.length,
    differences: found,
    keys,
    settled,
    journal: options.db ? await journalDepth(options.db, options.name) : null,
    durationMs: Math.round(performance.now() - started),
    at: new Date().toISOString(),
  };
  if (options.db) {
    await recordVerify(options.db, options.name, {
      clean: result.clean,
      differences: found.total,
      at: result.at,
      rows: result.rows,
      differingChunks: result.differingChunks,
      keys: keys.slice(0, 10),
    });
  }
  return result;
}

interface ChunkSums {
  count: Float64Array;
  /** Four 32-bit lanes per chunk, each the sum (mod 2^32) of that lane of every row's digest. */
  lanes: Uint32Array;
}

async function checksums<V>(
  store: CutoverStore<V>,
  chunks: number,
  chunkOf: (key: string) => number,
  canonical: (value: V) => string,
  signal: AbortSignal | undefined,
): Promise<ChunkSums> {
  const sums: ChunkSums = { count: new Float64Array(chunks), lanes: new Uint32Array(chunks * 4) };
  for await (const { key, value } of list(store, signal)) {
    const c = chunkOf(key);
    // The key is hashed with the value, length-prefixed: a row moved to another key is a difference.
    const digest = createHash('sha256').update(`${key.length}:${key}`).update(canonical(value)).digest();
    sums.count[c]!++;
    for (let lane = 0; lane < 4; lane++) {
      sums.lanes[c * 4 + lane] = (sums.lanes[c * 4 + lane]! + digest.readUInt32LE(lane * 4)) >>> 0;
    }
  }
  return sums;
}

function list<V>(store: CutoverStore<V>, signal: AbortSignal | undefined) {
  return (store.list as NonNullable<CutoverStore<V>['list']>)({ signal });
}

function lanesEqual(a: Uint32Array, b: Uint32Array, chunk: number): boolean {
  for (let lane = 0; lane < 4; lane++) if (a[chunk * 4 + lane] !== b[chunk * 4 + lane]) return false;
  return true;
}

/** Chunks grouped so that each group's rows stay under `budget` (a bigger chunk goes alone). */
function* batches(chunks: number[], rowsOf: (c: number) => number, budget: number): Generator<number[]> {
  let batch: number[] = [];
  let rows = 0;
  for (const c of chunks) {
    if (batch.length > 0 && rows + rowsOf(c) > budget) {
      yield batch;
      batch = [];
      rows = 0;
    }
    batch.push(c);
    rows += rowsOf(c);
  }
  if (batch.length > 0) yield batch;
}

function classify<V>(
  key: string,
  oldValue: V | undefined,
  newValue: V | undefined,
  compare: Comparator<V>,
): VerifyDifference | null {
  if (oldValue === undefined && newValue === undefined) return null;
  if (oldValue === undefined) return { key, kind: 'missing-in-old' };
  if (newValue === undefined) return { key, kind: 'missing-in-new' };
  const fields = compare(oldValue, newValue);
  return fields.length === 0 ? null : { key, kind: 'different', fields };
}

/**
 * For a comparator function verify cannot see into: JSON with sorted keys,
 * Dates, bigints and bytes tagged (so that '1' and 1n, or a Date and its ISO
 * string, never share a text). Assumes only that the comparator finds two
 * values with the same such JSON equal.
 */
function strictCanonical(value: unknown): string {
  return JSON.stringify(tagged(value)) ?? 'undefined';
}

function tagged(v: unknown): unknown {
  if (v instanceof Date) return { $date: Number.isNaN(v.getTime()) ? 'invalid' : v.toISOString() };
  if (typeof v === 'bigint') return { $bigint: v.toString() };
  if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('hex') };
  if (Array.isArray(v)) return v.map(tagged);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) out[key] = tagged((v as Record<string, unknown>)[key]);
    return out;
  }
  return v;
}

function sum(a: Float64Array): number {
  let n = 0;
  for (const x of a) n += x;
  return n;
}

function positive(n: number, option: string, name: string): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new FerryError(
      E_CUTOVER_CONFIG,
      `verifyCutover "${name}": ${option} must be a positive whole number, got ${String(n)}.`,
      { details: { option } },
    );
  }
  return n;
}
