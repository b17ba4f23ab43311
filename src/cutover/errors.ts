/** Stable error codes of `ferry/cutover` (see src/errors.ts for the convention). */

/** `defineCutover` options or a store's options are wrong (a missing key function, a bad sample rate...). */
export const E_CUTOVER_CONFIG = 'E_CUTOVER_CONFIG';
/** No cutover of that name is recorded in the database (`ferry cutover status/advance/rollback/verify <name>`). */
export const E_CUTOVER_UNKNOWN = 'E_CUTOVER_UNKNOWN';
/** A stage change that is not allowed (skipping stages without --to, rolling back from `complete`, an unknown stage name). */
export const E_CUTOVER_STAGE = 'E_CUTOVER_STAGE';
/** `advance` refused by a gate (shadow comparisons over the mismatch threshold, verify not clean); `--force` overrides. */
export const E_CUTOVER_GATE = 'E_CUTOVER_GATE';
/** The primary store of the current stage failed a read or write: the request fails (the secondary's failures are journaled instead). */
export const E_CUTOVER_STORE = 'E_CUTOVER_STORE';
/** Not every instance followed a stage change that alters which stores are written, within the wait. Nothing was changed. */
export const E_CUTOVER_INSTANCES = 'E_CUTOVER_INSTANCES';
/** `cutover verify` found differences (the details list the keys). */
export const E_CUTOVER_VERIFY = 'E_CUTOVER_VERIFY';
/** The cutover was closed (`cutover.close()`, `ferry.shutdown()`). */
export const E_CUTOVER_CLOSED = 'E_CUTOVER_CLOSED';
