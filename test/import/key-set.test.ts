/**
 * KeySet (src/import/key-set.ts): the run's memory of natural keys. It must
 * answer exactly like a Set of the key strings, and stay near 12 bytes a key.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeySet } from '../../src/import/key-set.js';

describe('KeySet', () => {
  it('add() is true exactly for a key not added before, as a Set of strings', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 6 }), { maxLength: 400 }), (keys) => {
        const set = new KeySet();
        const reference = new Set<string>();
        for (const k of keys) {
          expect(set.add(k)).toBe(!reference.has(k));
          reference.add(k);
        }
        expect(set.size).toBe(reference.size);
      }),
    );
  });

  it('has() is true exactly for the keys added, as a Set of strings, before and after shards grow', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 6 }), { maxLength: 2000 }),
        fc.array(fc.string({ maxLength: 6 }), { maxLength: 200 }),
        (added, asked) => {
          const set = new KeySet();
          const reference = new Set<string>();
          for (const k of added) {
            set.add(k);
            reference.add(k);
          }
          for (const k of [...asked, ...added]) {
            expect(set.has(k)).toBe(reference.has(k));
            expect(set.hasDigest(KeySet.digest(k))).toBe(reference.has(k));
          }
        },
      ),
    );
  });

  it('keeps every key through many shard growths, at most 16 bytes a key at 1M keys', () => {
    const set = new KeySet();
    const n = 1_000_000;
    let wrong = 0;
    for (let i = 0; i < n; i++) if (!set.add(`"k${i}"`)) wrong++;
    for (let i = 0; i < n; i += 997) if (set.add(`"k${i}"`)) wrong++;
    expect(wrong).toBe(0);
    expect(set.size).toBe(n);
    // 8 bytes of fingerprint at 53-80% load: 10-15 bytes a key (doubling one table: 19 at 1M).
    expect(set.bytes / n).toBeLessThanOrEqual(16);
    expect(set.bytes / n).toBeGreaterThanOrEqual(8);
  });
});
