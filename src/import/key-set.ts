/**
 * A set of 64-bit key fingerprints, so a run can remember every natural key
 * it has written (duplicate detection across batches) within a small memory
 * budget at millions of rows: about 10 bytes per key (8 of fingerprint, at
 * 72-90% load), against ~80 for a Set of strings. Linear probing at 90% load
 * walks ~50 slots to miss, all in one or a few cache lines: measured no
 * slower per key than 80% (the SHA-1 costs more), and 9.2-9.6 bytes a key
 * against 12-14 at 1M keys.
 *
 * 256 open-addressed tables (shards, by the fingerprint's top byte), each
 * growing by 1.25x on its own. One table growing by doubling would cost 16-32
 * bytes per key and, while it grows, hold the old and the new array at once:
 * 113 MB at 3.35M keys (the 1 GB chatcore source), where this peaks at ~33 MB
 * and a shard's growth adds 1/256 of it.
 *
 * Fingerprints are the first 8 bytes of a SHA-1; two distinct keys collide
 * with probability about n²/2⁶⁵ (3·10⁻⁸ at a million keys). The all-zero
 * fingerprint marks an empty slot, so a key hashing to it is stored as 0:1
 * (one more value in 2⁶⁴ that collides).
 */
import { hash } from 'node:crypto';

const SHARDS = 256;
const INITIAL_SLOTS = 16;
const MAX_LOAD = 0.9;
const GROWTH = 1.25;

export class KeySet {
  /** Per shard: [hi, lo] pairs, slot i at 2i and 2i+1; 0, 0 = empty. */
  #tables: Uint32Array[] = Array.from({ length: SHARDS }, () => new Uint32Array(INITIAL_SLOTS * 2));
  #counts = new Int32Array(SHARDS);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Bytes held by the tables (for tests and the bench). */
  get bytes(): number {
    return this.#tables.reduce((n, t) => n + t.byteLength, 0);
  }

  /** Add the key; false when it was already present. */
  add(key: string): boolean {
    return this.addDigest(KeySet.digest(key));
  }

  /** Whether the key was added (its fingerprint was: a false yes has the odds above). */
  has(key: string): boolean {
    return this.hasDigest(KeySet.digest(key));
  }

  /**
   * The key's digest, for `addDigest`/`hasDigest`: one hash for a key looked
   * up in several sets. One-shot hex digest: about 3x cheaper than
   * createHash().update().digest().
   */
  static digest(key: string): string {
    return hash('sha1', key, 'hex');
  }

  hasDigest(digest: string): boolean {
    const hi = hexWord(digest, 0);
    let lo = hexWord(digest, 8);
    if (hi === 0 && lo === 0) lo = 1;
    return find(this.#tables[hi >>> 24] as Uint32Array, hi, lo);
  }

  addDigest(digest: string): boolean {
    // Its first 16 hex digits read in place: the same numbers parseInt of two
    // slices gave, ~80 ns less a key. (The 'buffer' digest, read as two
    // uint32s, measured slower: a Buffer allocated per key.)
    const hi = hexWord(digest, 0);
    let lo = hexWord(digest, 8);
    if (hi === 0 && lo === 0) lo = 1;
    const shard = hi >>> 24;
    if (!insert(this.#tables[shard] as Uint32Array, hi, lo)) return false;
    const count = ++this.#counts[shard]!;
    this.#size++;
    const table = this.#tables[shard] as Uint32Array;
    if (count > (table.length / 2) * MAX_LOAD) this.#tables[shard] = grown(table);
    return true;
  }
}

/** Whether the fingerprint is in the table. */
function find(table: Uint32Array, hi: number, lo: number): boolean {
  const i = probe(table, hi, lo);
  return table[2 * i] !== 0 || table[2 * i + 1] !== 0;
}

/** Insert into a table with room; false when the fingerprint is already there. */
function insert(table: Uint32Array, hi: number, lo: number): boolean {
  const i = probe(table, hi, lo);
  if (table[2 * i] !== 0 || table[2 * i + 1] !== 0) return false;
  table[2 * i] = hi;
  table[2 * i + 1] = lo;
  return true;
}

/** The slot holding the fingerprint, else the empty slot where it would go (linear probing). */
function probe(table: Uint32Array, hi: number, lo: number): number {
  const slots = table.length / 2;
  // The low word picks the slot (the shard came from the high word's top byte).
  let i = Math.floor((lo / 4294967296) * slots);
  for (;;) {
    const h = table[2 * i] as number;
    const l = table[2 * i + 1] as number;
    if ((h === 0 && l === 0) || (h === hi && l === lo)) return i;
    i = i + 1 === slots ? 0 : i + 1;
  }
}

function grown(table: Uint32Array): Uint32Array {
  const slots = Math.ceil((table.length / 2) * GROWTH);
  const next = new Uint32Array(slots * 2);
  for (let i = 0; i < table.length; i += 2) {
    const hi = table[i] as number;
    const lo = table[i + 1] as number;
    if (hi !== 0 || lo !== 0) insert(next, hi, lo);
  }
  return next;
}

/** The 8 lowercase hex digits of `hex` from `at`, as an unsigned 32-bit number. */
export function hexWord(hex: string, at: number): number {
  let n = 0;
  for (let i = at; i < at + 8; i++) {
    const c = hex.charCodeAt(i);
    n = n * 16 + (c < 58 ? c - 48 : c - 87);
  }
  return n;
}
