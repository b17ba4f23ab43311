import { beforeAll, describe, expect, it } from 'vitest';
import { E_SOURCE_MALFORMED, E_SOURCE_NOT_FOUND } from '../../../src/import/sources/errors.js';
import { ndjson } from '../../../src/import/sources/index.js';
import { expectFerryError } from '../../support/expect-error.js';
import { collect, collectUntilThrow, readFirst, useTempDir } from './helpers.js';

describe('ndjson', () => {
  const t = useTempDir();
  beforeAll(async () => {
    await t.write('events.ndjson', '\ufeff{"n":1}\r\n\n   \n{"n":2}\n{"n": 3,, }\n"plain"\n{"n":4}');
  });

  it('yields one record per line, skips blank lines, reports a bad line and goes on', async () => {
    const records = await collect(ndjson('events.ndjson', { cwd: t.dir }));
    const src = { source: 'ndjson(events.ndjson)', file: 'events.ndjson' };
    expect(records).toEqual([
      { kind: 'record', value: { n: 1 }, loc: { ...src, line: 1 } },
      { kind: 'record', value: { n: 2 }, loc: { ...src, line: 4 } },
      {
        kind: 'error',
        reason: "invalid JSON at line 5 column 9: expected a double-quoted property name, found ','",
        loc: { ...src, line: 5 },
      },
      { kind: 'record', value: 'plain', loc: { ...src, line: 6 } },
      { kind: 'record', value: { n: 4 }, loc: { ...src, line: 7 } },
    ]);
  });

  it('is restartable after a partial read', async () => {
    const source = ndjson('events.ndjson', { cwd: t.dir });
    const all = await collect(source);
    expect(await readFirst(source, 2)).toEqual(all.slice(0, 2));
    expect(await collect(source)).toEqual(all);
  });

  it('fails on a last line cut short (no newline after it), in the check and in the stream', async () => {
    await t.write('cut.ndjson', '{"n":1}\n{"n":2}\n\n{"n":3,"na');
    const source = ndjson('cut.ndjson', { cwd: t.dir });
    const message = /^cut\.ndjson:4:8: invalid JSON: unterminated string; the last line has no newline after it/;
    await expectFerryError(source.check!(), E_SOURCE_MALFORMED, message);
    const { records, error } = await collectUntilThrow(source);
    expect(records.map((r) => r.kind === 'record' && r.value)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(error).toMatchObject({ code: E_SOURCE_MALFORMED, details: { file: 'cut.ndjson', line: 4, column: 8 } });
    expect((error as Error).message).toMatch(message);
    // A bad last line with its newline is one bad record; a good last line without one is fine.
    await t.write('bad-last.ndjson', '{"n":1}\n{bad\n');
    await t.write('no-newline.ndjson', '{"n":1}\n{"n":2}');
    for (const file of ['bad-last.ndjson', 'no-newline.ndjson', 'events.ndjson']) {
      await ndjson(file, { cwd: t.dir }).check!();
      expect((await collectUntilThrow(ndjson(file, { cwd: t.dir }))).error).toBeUndefined();
    }
  });

  it('names the missing file', async () => {
    const err = await expectFerryError(collect(ndjson('missing.ndjson', { cwd: t.dir })), E_SOURCE_NOT_FOUND);
    expect(err.message).toContain(`${t.dir}/missing.ndjson does not exist`);
  });
});
