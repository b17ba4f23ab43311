/**
 * canonicalizer: the text verify hashes must agree with the comparator —
 * equal texts ⇒ equal to the comparator, always (else a checksum would hide a
 * difference); the converse wherever the comparator is an equivalence (typed
 * columns in any spelling, other values canonically spelled). Values are drawn
 * from small pools so that pairs collide often.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalizer, decimal, type ValueComparatorOptions, valueComparator } from '../../src/cutover/compare.js';
import { snapshots } from './support/tables.js';

const at = new Date('2024-05-01T10:00:00.000Z');
/** Leaves spelled as toISOString/decimal() write them: the comparator is an equivalence on these. */
const canonicalLeaf = fc.constantFrom<unknown>(
  '12.5',
  '1',
  '0',
  '2024-05-01T10:00:00.000Z',
  '1970-01-01T00:00:00.000Z',
  'a',
  '',
  'true',
  12.5,
  1,
  0,
  -0,
  1e21,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  1n,
  true,
  false,
  null,
  undefined,
  at,
  new Date(0),
  Buffer.from([1]),
  { type: 'Buffer', data: [1] },
);
/** Plus other spellings of the same values, where the comparator is lenient but not transitive. */
const anyLeaf = fc.oneof(
  canonicalLeaf,
  fc.constantFrom<unknown>('12.50', '1.0', ' 1', '2024-05-01T12:00:00+02:00', '2024-05-01', new Date(Number.NaN)),
);
const keys = fc.constantFrom('a', 'b', 'c', 'price', 'taken_at');

function tree(leaf: fc.Arbitrary<unknown>) {
  return fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(keys, tie('v'), { maxKeys: 3 }),
    ),
  })).v;
}

/**
 * The same value as another store might hand it back: keys reordered, a
 * missing field as null, a trailing null in arrays, a Date as its ISO string,
 * a number as its decimal text.
 */
function respell(v: unknown): unknown {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? v : v.toISOString();
  if (typeof v === 'number' && Number.isFinite(v)) return decimal(v);
  if (Array.isArray(v)) return [...v.map(respell), null];
  if (typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && !('type' in v)) {
    const entries = Object.entries(v).reverse();
    return Object.fromEntries([...entries.map(([k, x]) => [k, respell(x)]), ...('b' in v ? [] : [['b', null]])]);
  }
  return v;
}

/** A pair that often collides: b is a, a respelling of a, a JSON round trip of a, or another draw. */
function pairs(values: fc.Arbitrary<unknown>) {
  return fc.oneof(
    fc.tuple(values, values),
    values.map((a) => [a, respell(a)]),
    values.map((a) => [a, JSON.parse(JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) ?? 'null')]),
    values.map((a) => [a, a]),
  );
}

const setups: [string, ValueComparatorOptions][] = [
  ['structural', {}],
  ['with a table', { table: snapshots }],
  ['with ignores', { table: snapshots, ignore: ['card', 'a.b', 'meta.etag', 'c[1]'] }],
];

describe('canonicalizer agrees with the comparator', () => {
  for (const [label, options] of setups) {
    const compare = valueComparator(options);
    const canon = canonicalizer(options);
    it(`${label}: equal texts ⇒ no difference (any spelling)`, () => {
      fc.assert(
        fc.property(pairs(tree(anyLeaf)), ([a, b]) => {
          if (canon(a) === canon(b)) expect(compare(a, b)).toEqual([]);
        }),
        { numRuns: 2_000 },
      );
    });
    it(`${label}: equal texts ⇔ no difference (canonical spellings)`, () => {
      fc.assert(
        fc.property(pairs(tree(canonicalLeaf)), ([a, b]) => {
          expect(canon(a) === canon(b)).toBe(compare(a, b).length === 0);
        }),
        { numRuns: 2_000 },
      );
    });
  }

  it('typed columns: equal texts ⇔ no difference in any spelling', () => {
    const compare = valueComparator({ table: snapshots });
    const canon = canonicalizer({ table: snapshots });
    const row = fc.record(
      {
        id: fc.constantFrom<unknown>(42, '42', 42n, '042', 43, null),
        price: fc.constantFrom<unknown>(12.5, '12.50', '12.5', 12.51, '0.30000000000000001', '0.3', 'n/a', undefined),
        seen: fc.constantFrom<unknown>(3, '3', 3n, 4),
        taken_at: fc.constantFrom<unknown>(at, '2024-05-01T12:00:00+02:00', '2024-05-01T10:00:00Z', new Date(0), 'x'),
        meta: tree(canonicalLeaf),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(row, row, (a, b) => {
        expect(canon(a) === canon(b)).toBe(compare(a, b).length === 0);
      }),
      { numRuns: 3_000 },
    );
  });

  it('the spellings stores differ in hash the same', () => {
    const canon = canonicalizer({ table: snapshots });
    const fromPostgres = { id: 9007199254740993n, price: '12.50', taken_at: at, meta: { a: 1, b: [1, null] } };
    const fromJson = {
      meta: { b: [1], a: 1 },
      taken_at: '2024-05-01T12:00:00+02:00',
      price: 12.5,
      id: '9007199254740993',
    };
    expect(canon(fromPostgres)).toBe(canon(fromJson));
    expect(canon({ ...fromJson, price: 12.51 })).not.toBe(canon(fromPostgres));
    const structural = canonicalizer();
    expect(structural({ at, n: 12.5, x: null })).toBe(structural({ n: '12.5', at: '2024-05-01T10:00:00.000Z' }));
  });
});
