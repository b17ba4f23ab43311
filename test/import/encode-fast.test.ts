/**
 * The import's per-row fast paths against frozen copies of the code they
 * replaced: same result and, where a value is refused, the same message.
 */

import { hash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toArrayLiteral } from '../../src/db/types.js';
import { daysInMonth } from '../../src/import/context.js';
import { CopyLines } from '../../src/import/copy-lines.js';
import { defineImport } from '../../src/import/define.js';
import {
  CSV_QUOTE,
  checkRow,
  csvField,
  csvLineFields,
  fieldEncoders,
  jsonTextHasNul,
} from '../../src/import/encode.js';
import { hexWord, KeySet } from '../../src/import/key-set.js';
import { prepareBatches } from '../../src/import/prepare.js';
import { namedSources } from '../../src/import/records.js';
import type { Source } from '../../src/import/source.js';
import { planTargets, type Target } from '../../src/import/targets.js';
import {
  bigint,
  boolean,
  bytea,
  defineSchema,
  integer,
  jsonb,
  table,
  text,
  timestamptz,
  uuid,
} from '../../src/schema/index.js';

/** A NUL in any string or own enumerable key of a value (encode.ts's check before it read the JSON text). */
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

describe('jsonTextHasNul', () => {
  it('finds a NUL in a JSON text exactly where a walk of the value it encodes does', () => {
    fc.assert(
      fc.property(jsonish, (v) => {
        const text = JSON.stringify(v);
        if (text === undefined) return;
        // What the text encodes: undefined-valued keys gone, dates as their strings.
        expect(jsonTextHasNul(text)).toBe(referenceHasNul(JSON.parse(text)));
      }),
      { numRuns: 3000 },
    );
  });
  it('is not fooled by the text of an escape; checks what COPY sends (toJSON in, undefined keys out)', () => {
    expect(jsonTextHasNul(JSON.stringify({ a: '\\u0000' }))).toBe(false);
    expect(jsonTextHasNul(JSON.stringify({ a: '\\\u0000' }))).toBe(true);
    expect(jsonTextHasNul(JSON.stringify([1, [2, { x: 'a\u0000' }]]))).toBe(true);
    expect(jsonTextHasNul(JSON.stringify({ 'k\u0000': 1 }))).toBe(true);
    expect(jsonTextHasNul(JSON.stringify({ 'k\u0000': undefined }))).toBe(false);
    expect(jsonTextHasNul(JSON.stringify({ inner: { toJSON: () => 'clean', secret: '\u0000' } }))).toBe(false);
    expect(jsonTextHasNul(JSON.stringify({ inner: { toJSON: () => 'dirty\u0000' } }))).toBe(true);
  });
  it('checkRow refuses a NUL in a json column, and the encoder sends the text it checked', () => {
    const docs = table('docs', { id: text().primaryKey(), body: jsonb() });
    const [target] = planTargets(defineSchema({ docs }), { docs: { key: ['id'] } });
    const t = target as Target;
    expect(checkRow(t, { id: 'a', body: { x: 'bad\u0000' } })?.reason).toContain('contains a NUL');
    expect(checkRow(t, { id: 'a', body: { 'k\u0000': undefined, x: 'fine' } })).toBeNull();
    const body = { x: 'fine', n: [1, 2] };
    expect(checkRow(t, { id: 'b', body })).toBeNull();
    const [encode] = fieldEncoders(t, ['body']);
    expect(encode?.(body)).toBe(`${CSV_QUOTE}${JSON.stringify(body)}${CSV_QUOTE}`);
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
    const set = new KeySet();
    for (let i = 0; i < 1000; i++) expect(set.add(`k${i}`)).toBe(true);
    for (let i = 0; i < 1000; i++) expect(set.add(`k${i}`)).toBe(false);
    expect(set.size).toBe(1000);
  });
});

/** encode.ts's csvField before the per-column encoders. */
function referenceCsvField(target: Target, column: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  const def = target.table.columns[column]?.def;
  let text: string;
  if (def?.kind === 'json' && !def.isArray) text = JSON.stringify(value);
  else if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  else if (typeof value === 'boolean') return value ? 't' : 'f';
  else if (value instanceof Date) return value.toISOString();
  else if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  else if (Array.isArray(value)) text = toArrayLiteral(value);
  else text = JSON.stringify(value);
  return `${CSV_QUOTE}${text.includes(CSV_QUOTE) ? text.replaceAll(CSV_QUOTE, CSV_QUOTE + CSV_QUOTE) : text}${CSV_QUOTE}`;
}

const encodeTable = table('enc', {
  id: uuid().primaryKey(),
  name: text(),
  n: integer(),
  big: bigint(),
  ok: boolean(),
  at: timestamptz(),
  body: jsonb(),
  list: jsonb().array(),
  tags: text().array(),
  raw: bytea(),
});
const encodeTarget = { name: 'enc', table: encodeTable } as unknown as Target;
const fieldValue = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.string({ unit: fc.constantFrom('a', ',', '\n', '"', '\u0001', '\\', '\u0000', 'é') }),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.boolean(),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 4 }),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.string(), fc.integer())),
);

describe('field encoders', () => {
  it('write what csvField wrote, for every column kind and value', () => {
    const columns = [...Object.keys(encodeTable.columns), 'unknown_column'];
    const encoders = fieldEncoders(encodeTarget, columns);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: columns.length - 1 }), fieldValue, (i, value) => {
        const column = columns[i] as string;
        const expected = outcome(() => referenceCsvField(encodeTarget, column, value));
        expect(outcome(() => (encoders[i] as (v: unknown) => string)(value))).toBe(expected);
        expect(outcome(() => csvField(encodeTarget, column, value))).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });
});

/** The value, or the message of what was thrown (JSON.stringify of a bigint throws, as before). */
function outcome(fn: () => string): string {
  try {
    return `ok:${fn()}`;
  } catch (err) {
    return `threw:${(err as Error).message}`;
  }
}

describe('prepareBatches groups', () => {
  it('groups rows by their defined columns in map() order, whatever order rows come in', async () => {
    const schema = defineSchema({ things: table('things', { id: uuid().primaryKey(), a: text(), b: integer() }) });
    const targets = planTargets(schema, { things: { key: ['id'] } });
    const id = (i: number) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`;
    // Same keys in another order, an undefined value, then back: each row must land in its own signature's group.
    const rows: Record<string, unknown>[] = [
      { id: id(1), a: 'x', b: 1 },
      { id: id(2), b: 2, a: 'y' },
      { id: id(3), a: undefined, b: 3 },
      { id: id(4), a: 'z', b: 4 },
      { id: id(5), a: 'w', b: undefined },
      { id: id(6), a: 'v', b: 6 },
      // More column sets than the groups remembered per table, cycling: each row still finds its own.
      ...[7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18].map((i) => {
        const k = i % 6;
        if (k === 0) return { id: id(i), a: 'p', b: i };
        if (k === 1) return { id: id(i), b: i, a: 'q' };
        if (k === 2) return { id: id(i), b: i };
        if (k === 3) return { id: id(i), a: 'r' };
        if (k === 4) return { a: 's', id: id(i) };
        return { b: i, id: id(i) };
      }),
    ];
    const source: Source = {
      label: 'rows',
      async *records() {
        for (const [index, value] of rows.entries()) yield { kind: 'record', value, loc: { source: 'rows', index } };
      },
      files: async () => [],
      estimate: async () => ({ records: rows.length }),
    };
    const definition = defineImport({
      schema,
      source,
      tables: { things: { key: ['id'] } },
      map: (row) => ({ things: row }),
    });
    const keySets = new Map(targets.map((t) => [t.name, new KeySet()]));
    const groups: Record<string, string[]> = {};
    for await (const batch of prepareBatches(
      { definition: definition as never, sources: namedSources(source) },
      targets,
      keySets,
      0,
      100,
    )) {
      for (const byColumns of batch.groups.values()) {
        for (const [signature, group] of byColumns) {
          expect(group.columns.join(',')).toBe(signature);
          groups[signature] = [
            ...(groups[signature] ?? []),
            ...Array.from({ length: group.meta.length }, (_, i) => String(group.meta.ordinal(i))),
          ];
        }
      }
    }
    expect(groups).toEqual({
      'id,a,b': ['0', '3', '5', '11', '17'],
      'id,b,a': ['1', '6', '12'],
      'id,b': ['2', '7', '13'],
      'id,a': ['4', '8', '14'],
      'a,id': ['9', '15'],
      'b,id': ['10', '16'],
    });
  });
});

describe('daysInMonth', () => {
  it('counts the days Date.UTC does, for every month of years 100-9999', () => {
    for (let year = 100; year <= 9999; year++) {
      for (let month = 1; month <= 12; month++) {
        if (daysInMonth(year, month) !== new Date(Date.UTC(year, month, 0)).getUTCDate()) {
          expect.fail(`${year}-${month}: ${daysInMonth(year, month)}`);
        }
      }
    }
  });
});

/** staging.ts's pieces before they were encoded line by line: one string per piece. */
function* referencePieces(lines: readonly string[], lo: number, hi: number, first?: number): Generator<string> {
  let piece = '';
  for (let i = lo; i <= hi; i++) {
    piece += first === undefined ? `${lines[i]}\n` : `${lines[i]},${first + i}\n`;
    if (piece.length >= 256 * 1024) {
      yield piece;
      piece = '';
    }
  }
  if (piece) yield piece;
}

describe('CopyLines', () => {
  const line = fc.oneof(
    { weight: 5, arbitrary: fc.string({ unit: 'binary' }) },
    // Lone surrogates: both ways write U+FFFD.
    fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) }),
    fc.constantFrom('x'.repeat(300_000), 'é'.repeat(100_000), '😀'.repeat(70_000), ''),
  );
  it('sends the bytes Buffer.from gave for the joined pieces, each piece whole lines', () => {
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 40 }),
        fc.option(fc.nat(1_000_000), { nil: undefined }),
        fc.nat(),
        (lines, first, cut) => {
          const lo = lines.length === 0 ? 0 : cut % lines.length;
          const hi = lines.length - 1;
          const pieces = [...CopyLines.of(lines).pieces(lo, hi, first)];
          const expected = Buffer.from([...referencePieces(lines, lo, hi, first)].join(''));
          expect(Buffer.concat(pieces).equals(expected)).toBe(true);
          for (const piece of pieces) expect(piece.at(-1)).toBe(0x0a);
        },
      ),
      { numRuns: 300 },
    );
  });
  it('has room for a line of 3-byte characters that starts near the end of a piece', () => {
    // ~250 KB of short lines, then 30k '€' (90 KB as UTF-8, 30k UTF-16 units).
    const lines = [...Array.from({ length: 2400 }, () => 'a'.repeat(104)), '€'.repeat(30_000), 'z'];
    for (const first of [undefined, 5]) {
      const expected = Buffer.from([...referencePieces(lines, 0, lines.length - 1, first)].join(''));
      expect(Buffer.concat([...CopyLines.of(lines).pieces(0, lines.length - 1, first)]).equals(expected)).toBe(true);
    }
  });
  it('keeps pieces near their size: many short lines fill pieces of 256 KB', () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'y'.repeat(100)}`);
    const sizes = [...CopyLines.of(lines).pieces(0, lines.length - 1, 0)].map((p) => p.length);
    expect(sizes.slice(0, -1).every((n) => n >= 256 * 1024 && n < 257 * 1024)).toBe(true);
    // Plain, the pieces are views of whole lines, each at most 256 KB.
    const plain = [...CopyLines.of(lines).pieces(0, lines.length - 1)].map((p) => p.length);
    expect(plain.slice(0, -1).every((n) => n <= 256 * 1024 && n > 255 * 1024)).toBe(true);
  });
  it('gives back each line, its first fields, and the lines a filter keeps', () => {
    const field = fc.oneof(
      fc.constant(null),
      fc.string({ unit: 'binary' }),
      fc.constantFrom('a,b', '\u0001', 'x\u0001\u0001y', '', '€,😀'),
    );
    fc.assert(
      fc.property(fc.array(fc.array(field, { minLength: 1, maxLength: 6 }), { maxLength: 30 }), fc.nat(), (rows, k) => {
        const text = rows.map((r) =>
          r.map((v) => (v === null ? '' : `\u0001${v.replaceAll('\u0001', '\u0001\u0001')}\u0001`)).join(','),
        );
        const lines = CopyLines.of(text);
        expect(lines.length).toBe(rows.length);
        rows.forEach((r, i) => {
          const decoded = Buffer.from(text[i] as string).toString();
          expect(lines.line(i)).toBe(decoded);
          const last = k % r.length;
          expect(lines.fields(i, last)).toEqual(csvLineFields(decoded).slice(0, last + 1));
        });
        const kept = lines.filter((i) => i % 3 !== 1);
        const expected = text.filter((_, i) => i % 3 !== 1);
        expect(
          Buffer.concat([...kept.pieces(0, kept.length - 1)]).equals(
            Buffer.from(expected.map((l) => `${l}\n`).join('')),
          ),
        ).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
