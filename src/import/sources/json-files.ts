/** `json.files(glob)`: one JSON document per file, files in path order. */
import { readFile } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { glob } from 'tinyglobby';
import { FerryError } from '../../errors.js';
import type { Source, SourceOptions, SourceRecord } from '../source.js';
import { optionsError, readError, shownPath, sourceBaseDir, stripBom } from './common.js';
import { E_SOURCE_NOT_FOUND } from './errors.js';
import { parseJson } from './json-error.js';

export interface JsonFilesOptions extends SourceOptions {
  /** Globs to leave out, e.g. `['**\/_*.json']`. */
  ignore?: readonly string[];
  /** Yield no records (instead of failing) when the glob matches no file. Default false. */
  allowEmpty?: boolean;
  /**
   * The folder is still being written while it is read (a backfill beside a
   * cutover's dual writes, where the app's deletes reach the database through
   * the cutover): a file deleted between the listing and its read is skipped
   * instead of failing the run. A stopped run of a live folder cannot resume
   * by position (files come and go before it), so its rerun asks for
   * `--restart`, which an `if-newer` import makes safe. Default false.
   */
  live?: boolean;
}

/** Files read at once (and held in memory: two groups at most). */
const GROUP = 32;
/**
 * Files parsed at once, when the loader asks for them. Parsing a whole group
 * as it was read held two groups of text and parsed objects alive across the
 * young generation's collections: ~9 MB survived each of the 219 scavenges of
 * a council import of 200k messages (2.9 s of its 13 s of CPU). Read-ahead
 * bytes are Buffers, outside the heap, and a parsed file dies young.
 */
const PARSED = 4;

interface RawFile {
  abs: string;
  bytes: Buffer;
}

export function files(pattern: string | readonly string[], options: JsonFilesOptions = {}): Source {
  const patterns = typeof pattern === 'string' ? [pattern] : pattern;
  if (!Array.isArray(patterns) || patterns.length === 0 || patterns.some((p) => typeof p !== 'string' || p === '')) {
    throw optionsError(`json.files() needs a glob such as 'data/*/*.json', got ${JSON.stringify(pattern)}.`);
  }
  const cwd = sourceBaseDir(options);
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

  /**
   * One file's bytes (null: deleted meanwhile, live only); a read failure throws, naming the file.
   * Bytes, not text: read ahead, they wait outside the V8 heap (see PARSED).
   */
  const load = async (rel: string): Promise<RawFile | null> => {
    const abs = path.resolve(cwd, rel);
    try {
      return { abs, bytes: await readWholeFile(abs) };
    } catch (err) {
      // Deleted between the glob and the read: the app deleted it (live), else the data changed under us; say so.
      if (options.live && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw readError(label, abs, err);
    }
  };
  /** A file's record (or an error record), parsed only when the loader is about to map it. */
  const parse = (file: RawFile): SourceRecord => {
    const loc = { source: label, file: shownPath(file.abs, cwd) };
    const text = stripBom(file.bytes.toString('utf8'));
    if (text.trim() === '') return { kind: 'error', reason: 'the file is empty (expected one JSON document)', loc };
    const parsed = parseJson(text);
    if (parsed.ok) return { kind: 'record', value: parsed.value, loc };
    return { kind: 'error', reason: parsed.reason, loc: { ...loc, line: parsed.line } };
  };

  // Files are read GROUP at a time, the next group while the loader maps this
  // one: reading one file after another left the loader waiting on each read.
  const chunks = async function* (opts?: { signal?: AbortSignal }): AsyncGenerator<SourceRecord[]> {
    // Held relative to cwd for the whole run: ~50 fewer bytes a file (2.6 MB
    // of the heap over the 54k files of 1M council messages).
    const all = (await list()).map((abs) => path.relative(cwd, abs));
    const readGroup = (at: number) => {
      const group = Promise.all(all.slice(at, at + GROUP).map(load));
      group.catch(() => {}); // awaited below, in order; not an unhandled rejection meanwhile
      return group;
    };
    let next = all.length > 0 ? readGroup(0) : undefined;
    for (let at = 0; next; at += GROUP) {
      opts?.signal?.throwIfAborted();
      const current = next;
      next = at + GROUP < all.length ? readGroup(at + GROUP) : undefined;
      const group = (await current).filter((r): r is RawFile => r !== null);
      for (let i = 0; i < group.length; i += PARSED) yield group.slice(i, i + PARSED).map(parse);
    }
  };

  return {
    label,
    ...(options.live ? { live: true } : {}),
    async *records(opts) {
      for await (const chunk of chunks(opts)) yield* chunk;
    },
    chunks,
    files: list,
    async estimate() {
      const all = await list();
      let bytes = 0;
      for (const f of all) {
        const s = await stat(f).catch((err: NodeJS.ErrnoException) => {
          if (options.live && err.code === 'ENOENT') return null; // deleted since the listing
          throw err;
        });
        bytes += s?.size ?? 0;
      }
      return { records: all.length, bytes };
    },
  };
}

/**
 * A whole file's bytes, through the callback `fs.readFile`: it opens, sizes,
 * reads and closes in the thread pool, where `fs/promises` takes a promise
 * round trip on the main thread for each step (~20% more CPU per file over
 * 10,786 council files: 774-790 vs 944-1,419 ms).
 */
function readWholeFile(abs: string): Promise<Buffer> {
  return new Promise((resolve, reject) => readFile(abs, (err, bytes) => (err ? reject(err) : resolve(bytes))));
}
