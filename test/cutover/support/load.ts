/**
 * A bounded load through a cutover, with the bookkeeping that tells a lost
 * write from a correct one: every key is owned by one worker, whose ops on it
 * are sequential, so the last acknowledged op of a key IS its expected final
 * state (no concurrent writer could legitimately win instead). Writes carry
 * an ever increasing `n` and `updated_at` (the backfill's if-newer guard
 * orders by it); reads check read-your-writes against the owner's last
 * acknowledged op, in whichever store the stage reads from.
 */
import type { Cutover } from '../../../src/cutover/cutover.js';

export interface Item {
  id: string;
  body: string;
  n: number;
  /** ISO string in the old stores, a Date from Postgres. */
  updated_at: string | Date;
}

export interface LoadOptions {
  workers?: number;
  keysPerWorker?: number;
  /** Share of ops that are writes / deletes; the rest are reads. */
  writeShare?: number;
  deleteShare?: number;
  /** Key of the i-th key (default `k<i>`). */
  keyOf?: (i: number) => string;
}

export interface Load {
  /** key → last acknowledged value, or null when its last acknowledged op was a delete. */
  readonly expected: Map<string, Item | null>;
  /** Requests that threw (must stay empty). */
  readonly failures: { op: string; key: string; error: string }[];
  /** Reads that did not return the owner's last acknowledged value. */
  readonly staleReads: { key: string; want: number | null; got: number | null; stage: string }[];
  readonly counts: { reads: number; writes: number; deletes: number };
  /** Ops finished so far (all kinds). */
  ops(): number;
  /** Resolves when at least `more` further ops finished. */
  progress(more: number): Promise<void>;
  /** Stop the workers and wait for their last op. */
  stop(): Promise<void>;
}

/** Seed values of `count` keys (versions in 2020, older than any write of the load). */
export function seedItems(count: number, keyOf: (i: number) => string = (i) => `k${i}`): Item[] {
  return Array.from({ length: count }, (_, i) => ({
    id: keyOf(i),
    body: `seed-${i}`,
    n: 0,
    updated_at: new Date(Date.UTC(2020, 0, 1) + i * 1000).toISOString(),
  }));
}

let clock = Date.now();
/** A strictly increasing instant (ms) across the process, after any seed's. */
export function nextInstant(): Date {
  clock = Math.max(clock + 1, Date.now());
  return new Date(clock);
}

export function startLoad(cutover: Cutover<Item>, seeds: readonly Item[], options: LoadOptions = {}): Load {
  const workers = options.workers ?? 4;
  const perWorker = options.keysPerWorker ?? 20;
  const writeShare = options.writeShare ?? 0.5;
  const deleteShare = options.deleteShare ?? 0.15;
  const keyOf = options.keyOf ?? ((i: number) => `k${i}`);
  const expected = new Map<string, Item | null>();
  for (const s of seeds) expected.set(s.id, s);
  const failures: Load['failures'] = [];
  const staleReads: Load['staleReads'] = [];
  const counts = { reads: 0, writes: 0, deletes: 0 };
  let done = 0;
  let running = true;
  let waiters: { at: number; resolve: () => void }[] = [];
  const tick = () => {
    done++;
    const due = waiters.filter((w) => done >= w.at);
    if (due.length === 0) return;
    waiters = waiters.filter((w) => done < w.at);
    for (const w of due) w.resolve();
  };
  let n = 0;
  const loops = Array.from({ length: workers }, async (_, w) => {
    const keys = Array.from({ length: perWorker }, (_, i) => keyOf(i * workers + w));
    while (running) {
      const key = keys[Math.floor(Math.random() * keys.length)]!;
      const r = Math.random();
      const op = r < writeShare ? 'write' : r < writeShare + deleteShare ? 'delete' : 'read';
      try {
        if (op === 'write') {
          const value: Item = { id: key, body: `w${w}-${++n}`, n, updated_at: nextInstant().toISOString() };
          await cutover.write(key, value);
          expected.set(key, value);
          counts.writes++;
        } else if (op === 'delete') {
          await cutover.delete(key);
          expected.set(key, null);
          counts.deletes++;
        } else {
          const stage = cutover.stage;
          const got = await cutover.read(key);
          const want = expected.get(key) ?? null;
          if ((got?.n ?? null) !== (want?.n ?? null) || (got === undefined) !== (want === null)) {
            staleReads.push({ key, want: want?.n ?? null, got: got?.n ?? null, stage });
          }
          counts.reads++;
        }
      } catch (err) {
        failures.push({ op, key, error: err instanceof Error ? err.message : String(err) });
      }
      tick();
      // Let the event loop breathe (timers: the stage poll, the driver) between ops of one worker.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  });
  return {
    expected,
    failures,
    staleReads,
    counts,
    ops: () => done,
    progress: (more) =>
      new Promise<void>((resolve) => {
        if (!running) return resolve();
        waiters.push({ at: done + more, resolve });
      }),
    stop: async () => {
      running = false;
      for (const w of waiters.splice(0)) w.resolve();
      await Promise.all(loops);
    },
  };
}

/** Rows as comparable plain values: updated_at as ISO text. */
export function normalise(item: Item | null | undefined): Omit<Item, 'updated_at'> & { updated_at: string } {
  if (!item) return item as never;
  const at = item.updated_at instanceof Date ? item.updated_at.toISOString() : new Date(item.updated_at).toISOString();
  return { id: item.id, body: item.body, n: Number(item.n), updated_at: at };
}

/** The expected final table: every key whose last acknowledged op was a write, normalised, sorted by key. */
export function expectedRows(load: Load): ReturnType<typeof normalise>[] {
  return [...load.expected.values()]
    .filter((v): v is Item => v !== null)
    .map(normalise)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
