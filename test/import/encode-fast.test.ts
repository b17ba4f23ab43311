/**
 * The import's per-row fast paths against frozen copies of the code they
 * replaced: same result and, where a value is refused, the same message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasNul } from '../../src/import/encode.js';

/** encode.ts's hasNul before it was rewritten with indexed loops. */
function referenceHasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(referenceHasNul);
  for (const [k, v] of Object.entries(value)) if (k.includes('\u0000') || referenceHasNul(v)) return true;
  return false;
}

// Strings that are often NUL, a backslash-u0000 text (no NUL), or both.
const tricky = fc.oneof(
  fc.string(),
  fc.constantFrom('\u0000', 'a\u0000b', '\\u0000', '\\\\u0000', 'x\\u0000\u0000'),
  fc.string({ unit: fc.constantFrom('a', '\u0000', '\\', 'u', '0') }),
);
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    tricky,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value')),
    fc.sparseArray(tie('value')),
    fc.dictionary(tricky, tie('value')),
  ),
})).value;

describe('hasNul', () => {
  it('finds a NUL exactly where the Object.entries walk did, in values and keys', () => {
    fc.assert(
      fc.property(jsonish, (v) => {
        expect(hasNul(v)).toBe(referenceHasNul(v));
      }),
      { numRuns: 3000 },
    );
  });
  it('is not fooled by the text of an escape, nor blind to keys a JSON text would drop', () => {
    expect(hasNul({ a: '\\u0000' })).toBe(false);
    expect(hasNul({ 'k\u0000': undefined })).toBe(true);
    expect(hasNul([1, [2, { x: 'a\u0000' }]])).toBe(true);
    // toJSON hides the entries from JSON.stringify, not from the walk.
    expect(hasNul({ inner: { toJSON: () => 'clean', secret: '\u0000' } })).toBe(true);
    expect(hasNul(new Date(0))).toBe(false);
  });
});
