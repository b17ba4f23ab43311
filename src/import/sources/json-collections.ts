/** `json.collections(file)`: a lowdb file, `{"users": [...], "posts": [...]}`, one record per array element. */
import type { Source, SourceOptions } from '../source.js';
import { assertFile, optionsError, resolveFile } from './common.js';
import { skimTableFile, tableFileChunks } from './json-tables.js';

export interface JsonCollectionsOptions extends SourceOptions {
  /** Read only these collections (the others are skipped unparsed). Default: all, in file order. */
  collections?: readonly string[];
}

export function collections(file: string, options: JsonCollectionsOptions = {}): Source {
  const f = resolveFile(file, options, 'json.collections');
  const label = `json.collections(${file})`;
  const names = tableNames(options.collections, 'json.collections', 'collections');
  const chunks = async function* (opts?: { signal?: AbortSignal }) {
    await assertFile(f, label);
    yield* tableFileChunks({ label, file: f, shape: 'array', names, signal: opts?.signal });
  };
  return {
    label,
    async *records(opts) {
      for await (const chunk of chunks(opts)) yield* chunk;
    },
    chunks,
    async check(opts) {
      await assertFile(f, label);
      await skimTableFile({ label, file: f, shape: 'array', signal: opts?.signal });
    },
    async files() {
      return [f.abs];
    },
    async estimate() {
      return { bytes: await assertFile(f, label) };
    },
  };
}

export function tableNames(names: readonly string[] | undefined, factory: string, option: string) {
  if (names !== undefined && (!Array.isArray(names) || names.some((n) => typeof n !== 'string'))) {
    throw optionsError(`${factory}(): \`${option}\` must be an array of names, e.g. ['users', 'posts'].`);
  }
  return names;
}
