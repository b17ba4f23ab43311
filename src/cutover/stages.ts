/**
 * The stages of a live cutover and what each does with reads and writes.
 * One table, read by the cutover at every call, so the behaviour of a stage
 * is written down in exactly one place:
 *
 *   | stage        | writes           | reads                                         |
 *   |--------------|------------------|-----------------------------------------------|
 *   | `off`        | old              | old                                           |
 *   | `dual-write` | old, then new    | old                                           |
 *   | `shadow`     | old, then new    | old, and new concurrently on a sample; compared |
 *   | `live`       | new, then old    | new, and old concurrently on a sample; compared |
 *   | `rampdown`   | new, then old    | new                                           |
 *   | `complete`   | new              | new                                           |
 *
 * The first store written is the *primary*: its failure fails the request.
 * The second is the *secondary*: its failure is journaled and replayed
 * (journal.ts), never lost and never shown to the user. Between adjacent
 * stages from `dual-write` to `rampdown` both stores are written, so two
 * instances one stage apart never leave a write in only one store; the two
 * transitions that change which stores are written (`off` ↔ `dual-write`,
 * `rampdown` ↔ `complete`) wait until every instance has switched (control.ts).
 */

export const STAGES = ['off', 'dual-write', 'shadow', 'live', 'rampdown', 'complete'] as const;

export type Stage = (typeof STAGES)[number];

export type StoreSide = 'old' | 'new';

export interface StageBehaviour {
  /** Stores written, in order: the first is the primary. */
  readonly writes: readonly StoreSide[];
  /** The store whose answer the app gets. */
  readonly reads: StoreSide;
  /** The store read beside it on a sample and compared (concurrently, never delaying the answer), if any. */
  readonly shadow: StoreSide | null;
}

export const BEHAVIOUR: Readonly<Record<Stage, StageBehaviour>> = {
  off: { writes: ['old'], reads: 'old', shadow: null },
  'dual-write': { writes: ['old', 'new'], reads: 'old', shadow: null },
  shadow: { writes: ['old', 'new'], reads: 'old', shadow: 'new' },
  live: { writes: ['new', 'old'], reads: 'new', shadow: 'old' },
  rampdown: { writes: ['new', 'old'], reads: 'new', shadow: null },
  complete: { writes: ['new'], reads: 'new', shadow: null },
};

export function isStage(value: unknown): value is Stage {
  return typeof value === 'string' && (STAGES as readonly string[]).includes(value);
}

/** Position of a stage in the order above (0 = off). */
export function stageIndex(stage: Stage): number {
  return STAGES.indexOf(stage);
}

/**
 * Whether moving between two stages changes the set of stores written: such
 * a move must wait until every instance follows (an instance still in `off`
 * would write only the old store while backfill believes dual writes run).
 */
export function changesWriteSet(from: Stage, to: Stage): boolean {
  const a = new Set(BEHAVIOUR[from].writes);
  const b = new Set(BEHAVIOUR[to].writes);
  return a.size !== b.size || [...a].some((s) => !b.has(s));
}
