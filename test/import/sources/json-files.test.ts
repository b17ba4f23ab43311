import { beforeAll, describe, expect, it } from 'vitest';
import { E_SOURCE_NOT_FOUND, E_SOURCE_OPTIONS } from '../../../src/import/sources/errors.js';
import { json } from '../../../src/import/sources/index.js';
import { expectFerryError } from '../../support/expect-error.js';
import { collect, errors, readFirst, useTempDir, values } from './helpers.js';

describe('json.files', () => {
  const t = useTempDir();
  beforeAll(async () => {
    // The seed's layout: data/<user>/<conversation>.json
    await t.write('data/bob/c2.json', JSON.stringify({ id: 'c2', messages: [] }));
    await t.write('data/alice/c1.json', '\ufeff{"id": "c1", "messages": [{"text": "hi"}]}');
    await t.write('data/alice/c0.json', JSON.stringify({ id: 'c0' }));
    await t.write('data/alice/broken.json', '{\n  "id": "b",\n  "messages": [1,, 2]\n}');
    await t.write('data/carol/empty.json', '  \n');
    await t.write('data/carol/notes.txt', 'not json');
    await t.write('data/flat.json', '{"not": "matched by */*"}');
  });

  it('yields one record per file, sorted by path, with loc.file relative to cwd', async () => {
    const records = await collect(json.files('data/*/*.json', { cwd: t.dir }));
    expect(records.map((r) => r.loc.file)).toEqual([
      'data/alice/broken.json',
      'data/alice/c0.json',
      'data/alice/c1.json',
      'data/bob/c2.json',
      'data/carol/empty.json',
    ]);
    expect(values(records)).toEqual([
      { id: 'c0' },
      { id: 'c1', messages: [{ text: 'hi' }] },
      { id: 'c2', messages: [] },
    ]);
    expect(records[1]!.loc.source).toBe('json.files(data/*/*.json)');
  });

  it('turns malformed and empty files into error records with a precise location', async () => {
    const errs = errors(await collect(json.files('data/*/*.json', { cwd: t.dir })));
    expect(errs).toEqual([
      {
        kind: 'error',
        reason: "invalid JSON at line 3 column 18: unexpected ',': expected a value",
        loc: { source: 'json.files(data/*/*.json)', file: 'data/alice/broken.json', line: 3 },
      },
      {
        kind: 'error',
        reason: 'the file is empty (expected one JSON document)',
        loc: { source: 'json.files(data/*/*.json)', file: 'data/carol/empty.json' },
      },
    ]);
  });

  it('is deterministic and restartable', async () => {
    const source = json.files('data/**/*.json', { cwd: t.dir, ignore: ['**/broken.json'] });
    const first = await collect(source);
    expect(await collect(source)).toEqual(first);
    expect(await readFirst(source, 2)).toEqual(first.slice(0, 2));
    expect(first.map((r) => r.loc.file)).toContain('data/flat.json');
  });

  it('lists absolute paths and estimates files and bytes', async () => {
    const source = json.files('data/bob/*.json', { cwd: t.dir });
    expect(await source.files()).toEqual([`${t.dir}/data/bob/c2.json`]);
    expect(await source.estimate!()).toEqual({ records: 1, bytes: JSON.stringify({ id: 'c2', messages: [] }).length });
  });

  it('fails with E_SOURCE_NOT_FOUND when nothing matches (unless allowEmpty)', async () => {
    await expectFerryError(
      collect(json.files('nope/*.json', { cwd: t.dir })),
      E_SOURCE_NOT_FOUND,
      /no file matches under/,
    );
    expect(await collect(json.files('nope/*.json', { cwd: t.dir, allowEmpty: true }))).toEqual([]);
  });

  it('rejects a missing glob with E_SOURCE_OPTIONS', () => {
    expect(() => json.files('')).toThrow(expect.objectContaining({ code: E_SOURCE_OPTIONS }));
  });

  it('stops when the signal aborts', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(collect(json.files('data/*/*.json', { cwd: t.dir }), ac.signal)).rejects.toThrow();
  });
});
