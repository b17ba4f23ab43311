import { beforeAll, describe, expect, it } from 'vitest';
import { E_SOURCE_MALFORMED, E_SOURCE_OPTIONS } from '../../../src/import/sources/errors.js';
import { csv } from '../../../src/import/sources/index.js';
import { expectFerryError } from '../../support/expect-error.js';
import { collect, collectUntilThrow, useTempDir } from './helpers.js';

describe('csv', () => {
  const t = useTempDir();
  beforeAll(async () => {
    await t.write('users.csv', '\ufeffname,email,age\nann,a@x,30\n"bo, jr","multi\nline",41\n\ncy,c@x\ndee,d@x,22\n');
    await t.write('semi.csv', 'ann;30\nbob;41\n');
    await t.write('quotes.csv', 'a,b\n1,2\n3,"x"y\n5,6\n');
    await t.write('dups.csv', 'a,a\n1,2\n');
  });
  const loc = (file: string, line: number) => ({ source: `csv(${file})`, file, line });

  it('yields header-keyed objects with the line each row starts on; ragged rows are errors', async () => {
    expect(await collect(csv('users.csv', { cwd: t.dir }))).toEqual([
      { kind: 'record', value: { name: 'ann', email: 'a@x', age: '30' }, loc: loc('users.csv', 2) },
      { kind: 'record', value: { name: 'bo, jr', email: 'multi\nline', age: '41' }, loc: loc('users.csv', 3) },
      { kind: 'error', reason: 'row has 2 fields, expected 3 (from the header)', loc: loc('users.csv', 6) },
      { kind: 'record', value: { name: 'dee', email: 'd@x', age: '22' }, loc: loc('users.csv', 7) },
    ]);
  });

  it('reads headerless files with a delimiter, as arrays or named by `columns`', async () => {
    const arrays = await collect(csv('semi.csv', { cwd: t.dir, delimiter: ';', header: false }));
    expect(arrays.map((r) => r.kind === 'record' && r.value)).toEqual([
      ['ann', '30'],
      ['bob', '41'],
    ]);
    const named = await collect(
      csv('semi.csv', { cwd: t.dir, delimiter: ';', header: false, columns: ['name', 'age'] }),
    );
    expect(named[1]).toEqual({ kind: 'record', value: { name: 'bob', age: '41' }, loc: loc('semi.csv', 2) });
  });

  it('renames header columns with `columns`', async () => {
    const rows = await collect(csv('users.csv', { cwd: t.dir, columns: ['n', 'e', 'a'] }));
    expect(rows[0]).toMatchObject({ value: { n: 'ann', e: 'a@x', a: '30' } });
  });

  it('fails the source at a quoting error, after the rows before it', async () => {
    const { records, error } = await collectUntilThrow(csv('quotes.csv', { cwd: t.dir }));
    expect(records).toEqual([{ kind: 'record', value: { a: '1', b: '2' }, loc: loc('quotes.csv', 2) }]);
    expect(error).toMatchObject({ code: E_SOURCE_MALFORMED, details: { file: 'quotes.csv', line: 3 } });
    expect((error as Error).message).toMatch(/^quotes\.csv:3: invalid CSV: invalid closing quote: got "y"/);
  });

  it('fails on duplicate header names instead of losing a column', async () => {
    const { records, error } = await collectUntilThrow(csv('dups.csv', { cwd: t.dir }));
    expect(records).toEqual([]);
    expect(error).toMatchObject({ code: E_SOURCE_MALFORMED });
    expect((error as Error).message).toMatch(/^dups\.csv:1: column "a" appears twice in the header/);
  });

  it('fails on a file cut inside a quoted field, up front in the check and in the stream', async () => {
    await t.write('cut.csv', 'a,b\n1,"one"\n2,"two ""quoted"""\n3,"three\nand more');
    const source = csv('cut.csv', { cwd: t.dir });
    await expectFerryError(
      source.check!(),
      E_SOURCE_MALFORMED,
      /^cut\.csv:4: invalid CSV: the quoted field opened on this line is never closed/,
    );
    const { records, error } = await collectUntilThrow(source);
    expect(records.map((r) => r.kind === 'record' && r.value)).toEqual([
      { a: '1', b: 'one' },
      { a: '2', b: 'two "quoted"' },
    ]);
    expect(error).toMatchObject({ code: E_SOURCE_MALFORMED });
    // A sound file (quotes balanced, doubled quotes, quoted newlines) passes.
    await csv('users.csv', { cwd: t.dir }).check!();
  });

  it('checks its options', () => {
    expect(() => csv('x.csv', { delimiter: '' })).toThrow(expect.objectContaining({ code: E_SOURCE_OPTIONS }));
    expect(() => csv('x.csv', { columns: ['a', 'a'] })).toThrow(/appears twice/);
  });
});
