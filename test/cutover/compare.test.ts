import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decimal, valueComparator } from '../../src/cutover/compare.js';
import { snapshots } from './support/tables.js';

describe('valueComparator with a table', () => {
  const compare = valueComparator({ table: snapshots });

  it('equal across what a JSON store and Postgres hand back', () => {
    const fromPostgres = {
      id: 9007199254740993n,
      card: 'Pikachu',
      price: '12.50',
      seen: 3,
      taken_at: new Date('2024-05-01T10:00:00.000Z'),
      meta: { a: 1, b: [1, 2] },
    };
    const fromJson = {
      id: '9007199254740993',
      card: 'Pikachu',
      price: 12.5,
      seen: 3,
      taken_at: '2024-05-01T12:00:00+02:00',
      meta: { b: [1, 2], a: 1 },
    };
    expect(compare(fromPostgres, fromJson)).toEqual([]);
  });

  it('names the fields that differ, down into json', () => {
    const a = { id: 1, card: 'x', price: '12.50', taken_at: '2024-05-01T10:00:00Z', meta: { a: { b: 1 } } };
    const b = { id: 1, card: 'y', price: '12.51', taken_at: '2024-05-01T10:00:01Z', meta: { a: { b: 2 } } };
    expect(compare(a, b).sort()).toEqual(['card', 'meta.a.b', 'price', 'taken_at']);
  });

  it('numerics are exact: no float squeeze', () => {
    expect(compare({ price: '0.30000000000000001' }, { price: '0.3' })).toEqual(['price']);
    expect(compare({ id: 9007199254740993n }, { id: '9007199254740992' })).toEqual(['id']);
  });

  it('ignores listed fields; null, undefined and missing are the same', () => {
    const c = valueComparator({ table: snapshots, ignore: ['card', 'meta.etag'] });
    expect(c({ card: 'a', meta: { etag: 1, x: null } }, { card: 'b', meta: { etag: 2 } })).toEqual([]);
  });
});

describe('valueComparator without a table', () => {
  const compare = valueComparator();
  it('Date vs ISO string by instant, number vs numeric string by value, strings stay strict', () => {
    expect(compare({ at: new Date(0), n: 12.5 }, { at: '1970-01-01T00:00:00.000Z', n: '12.50' })).toEqual([]);
    expect(compare({ v: '1.0' }, { v: '1' })).toEqual(['v']);
    expect(compare({ list: [1, 2] }, { list: [1, 2, 3] })).toEqual(['list[2]']);
    expect(compare('a', 'b')).toEqual(['']);
  });
});

describe('decimal', () => {
  it('canonical text', () => {
    expect(decimal('12.50')).toBe('12.5');
    expect(decimal('-0.000')).toBe('0');
    expect(decimal(1e21)).toBe('1000000000000000000000');
    expect(decimal('00012')).toBe('12');
    expect(decimal(1.5e-7)).toBe('0.00000015');
    expect(decimal('abc')).toBeNull();
  });
});

// Values as an app holds them: no bigint (JSON cannot carry it), finite numbers, valid dates.
const leaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.date({ min: new Date(-8.64e14), max: new Date(8.64e14), noInvalidDate: true }),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 }),
  ),
})).v;
const row = fc.record({
  id: fc.integer(),
  card: fc.string(),
  price: fc.oneof(fc.integer().map(String), fc.double({ noNaN: true, noDefaultInfinity: true })),
  taken_at: fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }),
  meta: value,
  extra: value,
});

describe('comparator properties', () => {
  for (const [label, compare] of [
    ['structural', valueComparator()],
    ['with a table', valueComparator({ table: snapshots })],
  ] as const) {
    it(`${label}: equal after a JSON round trip`, () => {
      fc.assert(
        fc.property(row, (r) => {
          expect(compare(r, JSON.parse(JSON.stringify(r)))).toEqual([]);
        }),
        { numRuns: 300 },
      );
    });
    it(`${label}: symmetric`, () => {
      fc.assert(
        fc.property(row, row, (a, b) => {
          expect(compare(a, b).sort()).toEqual(compare(b, a).sort());
        }),
        { numRuns: 300 },
      );
    });
  }
});
