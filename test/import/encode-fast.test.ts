/**
 * The import's per-row fast paths against frozen copies of the code they
 * replaced: same result and, where a value is refused, the same message.
 */

import { hash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hasNul } from '../../src/import/encode.js';
import { hexWord, KeySet } from '../../src/import/key-set.js';

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

describe('KeySet fingerprint words', () => {
  it('reads hex digits as parseInt does', () => {
    fc.assert(
      fc.property(fc.string(), (key) => {
        const digest = hash('sha1', key, 'hex');
        expect(hexWord(digest, 0)).toBe(Number.parseInt(digest.slice(0, 8), 16));
        expect(hexWord(digest, 8)).toBe(Number.parseInt(digest.slice(8, 16), 16));
      }),
      { numRuns: 2000 },
    );
    expect(hexWord('ffffffff00000000', 0)).toBe(0xffffffff);
    expect(hexWord('ffffffff0a1b2c3d', 8)).toBe(0x0a1b2c3d);
  });
  it('still tells new keys from seen ones', () => {
    const set = new KeySet(4);
    for (let i = 0; i < 1000; i++) expect(set.add(`k${i}`)).toBe(true);
    for (let i = 0; i < 1000; i++) expect(set.add(`k${i}`)).toBe(false);
    expect(set.size).toBe(1000);
  });
});
