/**
 * Type tests for error codes: checked by `npm run typecheck` (tsc), nothing
 * here runs. `FerryErrorCode` is a list of strings in src/errors.ts (a leaf:
 * it cannot import the parts that own the constants), so these checks keep
 * the list and the exported `E_*` constants the same set. A part that adds a
 * module of codes imports it here and adds it to `Modules` (test/errors.test.ts
 * checks that every module of src/ declaring an `E_*` constant is imported).
 */
import { expectTypeOf } from 'vitest';
import type * as cache from '../../src/cache/errors.js';
import { cacheError } from '../../src/cache/errors.js';
import type * as cutover from '../../src/cutover/errors.js';
import type * as duration from '../../src/duration.js';
import { toMs } from '../../src/duration.js';
import type * as root from '../../src/errors.js';
import { FerryError, type FerryErrorCode, isFerryError } from '../../src/errors.js';
import type * as importer from '../../src/import/errors.js';
import type * as sources from '../../src/import/sources/errors.js';
import type * as migrate from '../../src/migrate/errors.js';
import type * as ops from '../../src/ops/errors.js';
import type * as exporter from '../../src/ops/export-errors.js';
import type * as rateLimit from '../../src/rate-limit/errors.js';
import type * as redis from '../../src/redis/errors.js';
import type * as sessions from '../../src/sessions/errors.js';
import type * as studio from '../../src/studio/errors.js';

/** The values of a module's `E_*` exports (`string` if one is not a literal). */
type CodesOf<M> = { [K in keyof M]: K extends `E_${string}` ? M[K] : never }[keyof M];
/** The names of a module's `E_*` exports whose value is not their own name. */
type Misnamed<M> = { [K in keyof M]: K extends `E_${string}` ? ([M[K]] extends [K] ? never : K) : never }[keyof M];

type Modules =
  | typeof root
  | typeof duration
  | typeof redis
  | typeof cache
  | typeof sessions
  | typeof rateLimit
  | typeof migrate
  | typeof importer
  | typeof ops
  | typeof sources
  | typeof cutover
  | typeof exporter
  | typeof studio;
type Exported = Modules extends infer M ? (M extends unknown ? CodesOf<M> : never) : never;

// Every exported constant is a member, every member is exported: same set, both ways.
expectTypeOf<Exported>().toEqualTypeOf<FerryErrorCode>();
// Each constant is a literal named after its value ('E_X' = 'E_X'), not a `string`.
expectTypeOf<Modules extends infer M ? (M extends unknown ? Misnamed<M> : never) : never>().toEqualTypeOf<never>();
expectTypeOf<typeof root.E_CONSTRAINT>().toEqualTypeOf<'E_CONSTRAINT'>();

// The probes below are never called: only their types matter.
export function throwSites(): void {
  // @ts-expect-error a misspelled code does not compile
  new FerryError('E_CONSTRIANT', 'x');
  // @ts-expect-error nor through the cache's helper
  cacheError('E_CACHE_KEYS', 'x');
  // @ts-expect-error nor as the code of a duration option
  toMs('1s', 'ttl', 'E_DURATON');
  // @ts-expect-error a code with a details shape refuses details that lack a required fact (sqlstate)
  new FerryError('E_CONSTRAINT', 'x', { details: { table: 't' } });
  // @ts-expect-error ...or name a fact it does not have
  new FerryError('E_BAD_CURSOR', 'x', { details: { table: 't', tabel: 't' } });
  // A code without a shape takes any details; details stay optional.
  new FerryError('E_QUERY', 'x', { details: { statement: 'select 1', index: 0 } });
  new FerryError('E_CONSTRAINT', 'x', { details: { sqlstate: '23505', table: 't' } });
  new FerryError('E_CONSTRAINT', 'x');
}

export function narrowing(err: unknown): void {
  if (isFerryError(err, 'E_CONSTRAINT')) {
    expectTypeOf(err.code).toEqualTypeOf<'E_CONSTRAINT'>();
    expectTypeOf(err.details.sqlstate).toEqualTypeOf<string>();
    expectTypeOf(err.details.constraint).toEqualTypeOf<string | undefined>();
    // @ts-expect-error details are read-only
    err.details.table = 'other';
  }
  if (isFerryError(err, 'E_SOURCE_MALFORMED')) {
    expectTypeOf(err.details.line).toEqualTypeOf<number>();
  }
  if (isFerryError(err)) {
    expectTypeOf(err.code).toEqualTypeOf<FerryErrorCode>();
    // An error of unknown code: every key reads as unknown (as before codes were typed).
    expectTypeOf(err.details.table).toEqualTypeOf<unknown>();
    if (err.code === 'E_UNKNOWN_COLUMN') expectTypeOf(err.code).toEqualTypeOf<'E_UNKNOWN_COLUMN'>();
    // @ts-expect-error comparing with a code that does not exist is a type error
    if (err.code === 'E_UNKNOWN_COLUMNS') return;
  }
  if (err instanceof FerryError) expectTypeOf(err).toEqualTypeOf<FerryError>();
  // A FerryError of any code is a FerryError.
  expectTypeOf<FerryError<'E_CONSTRAINT'>>().toMatchTypeOf<FerryError>();
}

// Callers get exhaustiveness checking: a switch over the codes that forgets one does not compile.
export function status(code: FerryErrorCode): number {
  switch (code) {
    case 'E_BAD_ARGUMENT':
    case 'E_BAD_CURSOR':
    case 'E_INVALID_VALUE':
    case 'E_UNKNOWN_COLUMN':
      return 400;
    case 'E_CONSTRAINT':
      return 409;
    default: {
      // @ts-expect-error the other 50 codes are not handled
      const unhandled: never = code;
      return unhandled;
    }
  }
}
