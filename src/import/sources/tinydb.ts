/**
 * `tinydb(file)`: a TinyDB JSON file, `{"_default": {"1": {...}}, "users": {"1": {...}}}`.
 * One record per document, in file order (TinyDB writes ids ascending).
 */
import type { Source, SourceOptions } from '../source.js';
import { assertFile, describe, resolveFile } from './common.js';
import { tableNames } from './json-collections.js';
import { skimTableFile, tableFileChunks } from './json-tables.js';

export interface TinyDbOptions extends SourceOptions {
  /** Read only these tables (the others are skipped unparsed). Default: all, in file order. */
  tables?: readonly string[];
}

export function tinydb(file: string, options: TinyDbOptions = {}): Source<Record<string, unknown>> {
  const f = resolveFile(file, options, 'tinydb');
  const label = `tinydb(${file})`;
  const names = tableNames(options.tables, 'tinydb', 'tables');
  const chunks = async function* (opts?: { signal?: AbortSignal }) {
    await assertFile(f, label);
    yield* tableFileChunks<Record<string, unknown>>({
      label,
      file: f,
      shape: 'object',
      names,
      signal: opts?.signal,
      check: (value, loc) =>
        typeof value === 'object' && value !== null && !Array.isArray(value)
          ? undefined
          : `document "${loc.key}" of table "${loc.table}" is ${describe(value)}, not an object`,
    });
  };
  return {
    label,
    async *records(opts) {
      for await (const chunk of chunks(opts)) yield* chunk;
    },
    chunks,
    async check(opts) {
      await assertFile(f, label);
      await skimTableFile({ label, file: f, shape: 'object', signal: opts?.signal });
    },
    async files() {
      return [f.abs];
    },
    async estimate() {
      return { bytes: await assertFile(f, label) };
    },
  };
}
