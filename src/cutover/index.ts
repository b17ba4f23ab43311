/**
 * `ferry/cutover`: move a running app from its old store to Postgres with
 * dual writes, shadow reads, a gradual switch and a one-call rollback, with
 * nothing lost. See `defineCutover` (the app's side) and `advance`/`rollback`/
 * `status` (the operator's side, also `ferry cutover ...`).
 */

export {
  type AdvanceOptions,
  advance,
  type CutoverStatus,
  type GateOptions,
  type HistoryEntry,
  type InstanceStatus,
  type MismatchRecord,
  type MoveOptions,
  type MoveResult,
  mismatches,
  recordVerify,
  rollback,
  setRamp,
  status,
  type VerifyRecord,
} from './advance.js';
export { afterBackfill, type BackfillMark, backfillMark } from './backfill.js';
export {
  type Comparator,
  canonicalizer,
  decimal,
  type ValueComparatorOptions,
  valueComparator,
} from './compare.js';
export { type ControlState, channelOf, readControl } from './control.js';
export { type Cutover, type CutoverOptions, type CutoverStats, defineCutover } from './cutover.js';
export * from './errors.js';
export { type DrainResult, journalDepth } from './journal.js';
export { bucketOf, keyHash } from './key-hash.js';
export {
  BEHAVIOUR,
  changesWriteSet,
  isStage,
  STAGES,
  type Stage,
  type StageBehaviour,
  type StoreSide,
  stageIndex,
} from './stages.js';
export type { CutoverStore, StoreEntry, StoreFailure } from './store.js';
export * from './stores/index.js';
export {
  COMPARISONS_TABLE,
  CONTROL_TABLE,
  type CutoverDb,
  ensureTables,
  INSTANCES_TABLE,
  JOURNAL_TABLE,
  MISMATCHES_TABLE,
} from './tables.js';
export {
  type DifferenceKind,
  type VerifyDifference,
  type VerifyOptions,
  type VerifyReport,
  verifyCutover,
} from './verify.js';
