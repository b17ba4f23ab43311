/**
 * A batch posted from the import's worker thread: the COPY bytes and row
 * origins moved (transferred), targets by name; on the other side the same
 * lines, pieces, origins and filters as the batch had.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { batchFromWire, batchToWire } from '../../src/import/batch-wire.js';
import { CopyLines } from '../../src/import/copy-lines.js';
import { newBatch } from '../../src/import/prepare.js';
import { RowOrigins } from '../../src/import/row-origins.js';
import { planTargets, resolveSchema } from '../../src/import/targets.js';
import { integer, table, text } from '../../src/schema/index.js';

const things = table('things', { id: integer().primaryKey(), note: text() });
const targets = planTargets(resolveSchema({ things }), { things: { key: ['id'] } } as never);
const target = targets[0] as (typeof targets)[number];

const line = fc
  .array(fc.oneof(fc.string(), fc.constantFrom(',', '\u0001', 'é', '😀', '\n')), { maxLength: 6 })
  .map((p) => p.join(''));

it('moves a batch to another thread and back with the same lines, pieces and origins', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(line, fc.nat(3)), { minLength: 1, maxLength: 60 }), fc.nat(), (rows, seed) => {
      const batch = newBatch(0);
      const lines = new CopyLines(64);
      const meta = new RowOrigins();
      let loc: Record<string, unknown> = {};
      rows.forEach(([text, rowIndex], i) => {
        if (rowIndex === 0) loc = { source: 'memory', table: 'things', index: i, key: `k${i}` };
        lines.push(text);
        meta.push(i, rowIndex, loc);
      });
      batch.groups.set(target, new Map([['id,note', { columns: ['id', 'note'], lines, meta }]]));
      batch.position = rows.length;
      batch.rejects.push({
        ordinal: 0,
        rowIndex: null,
        location: { source: 'memory' },
        table: null,
        column: null,
        reason: 'r',
        sqlstate: null,
        record: null,
      });
      batch.duplicates.set('things', 2);
      const expected = {
        lines: Array.from({ length: lines.length }, (_, i) => lines.line(i)),
        pieces: Buffer.concat([...lines.pieces(0, lines.length - 1, 7)]).toString('utf8'),
        origins: Array.from({ length: meta.length }, (_, i) => meta.at(i)),
      };
      const keep = (i: number) => (i + seed) % 3 !== 0;

      const { wire, transfer } = batchToWire(batch);
      const moved = structuredClone(wire, { transfer });
      const back = batchFromWire(moved, new Map([['things', target]]));

      const group = back.groups.get(target)?.get('id,note');
      if (!group) throw new Error('group lost');
      expect(Array.from({ length: group.lines.length }, (_, i) => group.lines.line(i))).toEqual(expected.lines);
      expect(Buffer.concat([...group.lines.pieces(0, group.lines.length - 1, 7)]).toString('utf8')).toBe(
        expected.pieces,
      );
      expect(Array.from({ length: group.meta.length }, (_, i) => group.meta.at(i))).toEqual(expected.origins);
      const kept = group.meta.filter(keep);
      expect(Array.from({ length: kept.length }, (_, i) => kept.at(i))).toEqual(
        expected.origins.filter((_, i) => keep(i)),
      );
      expect(back.rejects).toEqual(batch.rejects);
      expect(back.duplicates.get('things')).toBe(2);
      expect(back.position).toBe(rows.length);
    }),
    { numRuns: 200 },
  );
});

it('refuses a batch for a table this side does not have', () => {
  const batch = newBatch(0);
  batch.groups.set(target, new Map([['id', { columns: ['id'], lines: CopyLines.of(['1']), meta: new RowOrigins() }]]));
  const { wire } = batchToWire(batch);
  expect(() => batchFromWire(wire, new Map())).toThrow(/table "things"/);
});
