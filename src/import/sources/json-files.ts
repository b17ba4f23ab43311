/** `json.files(glob)`: one JSON document per file, files in path order. */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { glob } from 'tinyglobby';
import { FerryError } from '../../errors.js';
import type { Source, SourceOptions } from '../source.js';
import { optionsError, readError, shownPath, stripBom } from './common.js';
import { E_SOURCE_NOT_FOUND } from './errors.js';
import { parseJson } from './json-error.js';

export interface JsonFilesOptions extends SourceOptions {
  /** Globs to leave out, e.g. `['**\/_*.json']`. */
  ignore?: readonly string[];
  /** Yield no records (instead of failing) when the glob matches no file. Default false. */
  allowEmpty?: boolean;
}

export function files(pattern: string | readonly string[], options: JsonFilesOptions = {}): Source {
  const patterns = typeof pattern === 'string' ? [pattern] : pattern;
  if (!Array.isArray(patterns) || patterns.length === 0 || patterns.some((p) => typeof p !== 'string' || p === '')) {
    throw optionsError(`json.files() needs a glob such as 'data/*/*.json', got ${JSON.stringify(pattern)}.`);
  }
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const label = `json.files(${patterns.join(', ')})`;

  const list = async (): Promise<string[]> => {
    const found = await glob([...patterns], {
      cwd,
      absolute: true,
      onlyFiles: true,
      dot: false,
      ignore: options.ignore ? [...options.ignore] : [],
      expandDirectories: false,
    });
    // Code-unit order, not locale order: the same on every machine.
    const sorted = found.map((p) => path.normalize(p)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (sorted.length === 0 && !options.allowEmpty) {
      throw new FerryError(
        E_SOURCE_NOT_FOUND,
        `${label}: no file matches under ${cwd}. Check the pattern and the \`cwd\` option, or pass { allowEmpty: true } if no files is fine.`,
        { details: { cwd, patterns } },
      );
    }
    return sorted;
  };

  return {
    label,
    async *records(opts) {
      for (const abs of await list()) {
        opts?.signal?.throwIfAborted();
        const loc = { source: label, file: shownPath(abs, cwd) };
        let text: string;
        try {
          text = stripBom(await readFile(abs, 'utf8'));
        } catch (err) {
          // Deleted between the glob and the read: the data changed under us; say so.
          throw readError(label, abs, err);
        }
        if (text.trim() === '') {
          yield { kind: 'error', reason: 'the file is empty (expected one JSON document)', loc };
          continue;
        }
        const parsed = parseJson(text);
        if (parsed.ok) yield { kind: 'record', value: parsed.value, loc };
        else yield { kind: 'error', reason: parsed.reason, loc: { ...loc, line: parsed.line } };
      }
    },
    files: list,
    async estimate() {
      const all = await list();
      let bytes = 0;
      for (const f of all) bytes += (await stat(f)).size;
      return { records: all.length, bytes };
    },
  };
}
