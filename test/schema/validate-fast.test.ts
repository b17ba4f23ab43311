/**
 * validateValues checks a row without zod when every value is obviously
 * valid; it must accept and refuse exactly what the per-column path did,
 * with the same message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bigint,
  boolean,
  doublePrecision,
  identity,
  integer,
  jsonb,
  smallint,
  table,
  text,
  timestamptz,
  uuid,
  varchar,
} from '../../src/schema/index.js';
import type { Table } from '../../src/schema/table.js';
import { columnOf, type ValidationMode, validateValue, validateValues } from '../../src/schema/validate.js';

const t = table('things', {
  id: identity().primaryKey(),
  key: uuid().notNull(),
  name: varchar(5).notNull(),
  note: text(),
  n: integer(),
  small: smallint().notNull().default(0),
  big: bigint(),
  f: doublePrecision(),
  flag: boolean(),
  at: timestamptz().notNull().defaultNow(),
  body: jsonb(),
  tags: text().array(),
}) as unknown as Table;

/** validateValues before its fast path: the per-column loop, then the required columns. */
function referenceLoop(table: Table, values: Record<string, unknown>, mode: ValidationMode): void {
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined) validateValue(table, columnOf(table, name), value, mode);
  }
  if (mode === 'insert') {
    for (const column of Object.values(table.columns)) {
      const d = column.def;
      const needed = d.notNull && d.default === null && !d.serial && d.identity === null && d.generated === null;
      if (needed && (values[column.name] === undefined || values[column.name] === null)) {
        throw new Error(`${table.name}.${column.name} is required (NOT NULL with no default).`);
      }
    }
  }
}

const outcome = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as Error).message;
  }
};

const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
  fc.constantFrom('a\u0000', '12345', '123456', 'ß'.repeat(5), '00000000-0000-0000-0000-000000000000', 'x'),
  fc.integer({ min: -40000, max: 40000 }),
  fc.constantFrom(2 ** 31, 2 ** 53, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 10n),
  fc.boolean(),
  fc.date(),
  fc.constantFrom(new Date(Number.NaN), '2024-01-01T00:00:00Z'),
  fc.array(fc.oneof(fc.string({ maxLength: 3 }), fc.constant(null)), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
);
const names = fc.constantFrom(
  'id',
  'key',
  'name',
  'note',
  'n',
  'small',
  'big',
  'f',
  'flag',
  'at',
  'body',
  'tags',
  'nope',
);

describe('validateValues fast path', () => {
  it('accepts and refuses the rows the per-column path did, with its message', () => {
    fc.assert(
      fc.property(
        fc.dictionary(names, anyValue, { maxKeys: 8 }),
        fc.constantFrom<ValidationMode>('insert', 'update', 'filter', 'compare'),
        (row, mode) => {
          const fast = outcome(() => validateValues(t, row, mode));
          const slow = outcome(() => referenceLoop(t, row, mode));
          expect(fast).toBe(slow);
        },
      ),
      { numRuns: 5000 },
    );
  });
  it('takes the fast path for a plain valid insert, and words a bad one as before', () => {
    const row = { key: '00000000-0000-0000-0000-000000000000', name: 'abc', n: 3, at: new Date(0), body: { a: 1 } };
    expect(outcome(() => validateValues(t, row, 'insert'))).toBe('ok');
    expect(outcome(() => validateValues(t, { ...row, n: 2 ** 31 }, 'insert'))).toMatch(
      /^Invalid value for things\.n \(integer\): /,
    );
    expect(outcome(() => validateValues(t, { ...row, name: null }, 'insert'))).toMatch(/things\.name/);
    expect(outcome(() => validateValues(t, { key: row.key }, 'insert'))).toBe(
      'things.name is required (NOT NULL with no default).',
    );
  });
});
