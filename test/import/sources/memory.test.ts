import { describe, expect, it } from 'vitest';
import { E_SOURCE_NOT_FOUND } from '../../../src/import/sources/errors.js';
import { memory } from '../../../src/import/sources/index.js';
import { expectFerryError } from '../../support/expect-error.js';
import { collect, useTempDir } from './helpers.js';

describe('memory', () => {
  const t = useTempDir();

  it('yields Map entries and array items, exports in name order', async () => {
    const state = {
      sessions: new Map<string, { user: string }>([
        ['s2', { user: 'bo' }],
        ['s1', { user: 'ann' }],
      ]),
      queue: ['a', 'b'],
      version: 3, // not state: skipped
    };
    const source = memory(state);
    const records = await collect(source);
    expect(records).toEqual([
      { kind: 'record', value: { key: 0, value: 'a' }, loc: { source: 'memory(object)', table: 'queue', index: 0 } },
      { kind: 'record', value: { key: 1, value: 'b' }, loc: { source: 'memory(object)', table: 'queue', index: 1 } },
      {
        kind: 'record',
        value: { key: 's2', value: { user: 'bo' } },
        loc: { source: 'memory(object)', table: 'sessions', key: 's2', index: 0 },
      },
      {
        kind: 'record',
        value: { key: 's1', value: { user: 'ann' } },
        loc: { source: 'memory(object)', table: 'sessions', key: 's1', index: 1 },
      },
    ]);
    expect(await collect(source)).toEqual(records);
    expect(await source.estimate!()).toEqual({ records: 4 });
    expect(await source.files()).toEqual([]);
  });

  it('imports a module path relative to cwd, default export objects included', async () => {
    await t.write(
      'state.mjs',
      'export const users = new Map([[1, { name: "ann" }]]);\nexport default { carts: [{ id: "c1" }] };\nexport function helper() {}\n',
    );
    const records = await collect(memory('./state.mjs', { cwd: t.dir }));
    expect(records.map((r) => [r.loc.table, r.kind === 'record' && r.value])).toEqual([
      ['carts', { key: 0, value: { id: 'c1' } }],
      ['users', { key: 1, value: { name: 'ann' } }],
    ]);
    expect(records[0]!.loc.file).toBe(`${t.dir}/state.mjs`);
  });

  it('reports a listed export that is not a collection', async () => {
    const records = await collect(memory({ users: new Map(), config: { a: 1 } }, { exports: ['config', 'users'] }));
    expect(records).toEqual([
      {
        kind: 'error',
        reason: 'export "config" is an object, not a Map, Set or array',
        loc: { source: 'memory(object)', table: 'config' },
      },
    ]);
  });

  it('names a missing module', async () => {
    await expectFerryError(
      collect(memory('./nope.mjs', { cwd: t.dir })),
      E_SOURCE_NOT_FOUND,
      /nope\.mjs does not exist/,
    );
  });
});
