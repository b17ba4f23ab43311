/** Helpers shared by the sources: paths, labels, existence checks. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../../errors.js';
import type { SourceOptions } from '../source.js';
import { E_SOURCE_MALFORMED, E_SOURCE_NOT_FOUND, E_SOURCE_OPTIONS, E_SOURCE_READ } from './errors.js';

export interface ResolvedFile {
  /** As given to the factory. */
  given: string;
  /** Absolute path. */
  abs: string;
  /** Path shown in locations: relative to cwd when under it, else absolute. */
  shown: string;
}

/**
 * Set while `ferry import`/`verify` evaluates an import file: that file's
 * folder. Kept on globalThis under a registered symbol, not in a module
 * variable: the import file may load its own copy of this module (tsx loads
 * each `tsImport` in its own namespace; an app may resolve another install of
 * ferry), and that copy must see the value the CLI set.
 */
const IMPORT_FILE_DIR = Symbol.for('ferry.importFileDir');
const slot = globalThis as { [IMPORT_FILE_DIR]?: string };

/**
 * Evaluate an import file (`load`) so that the sources it builds resolve
 * relative paths against its folder: `tinydb('./legacy/db.json')` beside
 * `imports/chat.ts` means `imports/legacy/db.json` whatever the shell's
 * folder, as an ES import would. Sources read the base when they are
 * constructed, which is during the module's evaluation.
 */
export async function withImportFileDir<T>(dir: string, load: () => Promise<T>): Promise<T> {
  const previous = slot[IMPORT_FILE_DIR];
  slot[IMPORT_FILE_DIR] = path.resolve(dir);
  try {
    return await load();
  } finally {
    if (previous === undefined) delete slot[IMPORT_FILE_DIR];
    else slot[IMPORT_FILE_DIR] = previous;
  }
}

/** Base for a source's relative paths: its `cwd` option, else the import file's folder, else `process.cwd()`. */
export function sourceBaseDir(options: SourceOptions | undefined): string {
  return path.resolve(options?.cwd ?? slot[IMPORT_FILE_DIR] ?? process.cwd());
}

export function resolveFile(file: string, options: SourceOptions | undefined, factory: string): ResolvedFile {
  if (typeof file !== 'string' || file === '') {
    throw new FerryError(E_SOURCE_OPTIONS, `${factory}() needs a file path, got ${describe(file)}.`);
  }
  const cwd = sourceBaseDir(options);
  const abs = path.resolve(cwd, file);
  return { given: file, abs, shown: shownPath(abs, cwd) };
}

export function shownPath(abs: string, cwd: string): string {
  const rel = path.relative(cwd, abs);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : abs;
}

/** Fail early, with a message naming the file, when it is missing or not a regular file. */
export async function assertFile(file: ResolvedFile, label: string): Promise<number> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file.abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new FerryError(
        E_SOURCE_NOT_FOUND,
        `${label}: file ${file.abs} does not exist. Check the path ("${file.given}"; relative paths resolve against the \`cwd\` option, else the import file's directory).`,
        { cause: err, details: { file: file.abs } },
      );
    }
    throw readError(label, file.abs, err);
  }
  if (!info.isFile()) {
    throw new FerryError(
      E_SOURCE_NOT_FOUND,
      `${label}: ${file.abs} is not a regular file. Point the source at a file.`,
      {
        details: { file: file.abs },
      },
    );
  }
  return info.size;
}

export function readError(label: string, file: string, err: unknown): FerryError {
  const reason = (err as Error)?.message ?? String(err);
  return new FerryError(E_SOURCE_READ, `${label}: cannot read ${file}: ${reason}. Check its permissions.`, {
    cause: err,
    details: { file },
  });
}

/**
 * The source cannot be read past `line`:`column` of `file` (see
 * E_SOURCE_MALFORMED). Thrown by a source's `check()` before anything is
 * committed, and by its records stream after yielding what precedes the fault.
 */
export function malformed(
  label: string,
  file: string,
  at: { line: number; column?: number },
  problem: string,
): FerryError {
  const where = `${file}:${at.line}${at.column !== undefined ? `:${at.column}` : ''}`;
  return new FerryError(
    E_SOURCE_MALFORMED,
    `${where}: ${problem} (${label}). The file cannot be read to its end: restore or repair it, or pass --partial to import only what precedes this point.`,
    { details: { source: label, file, line: at.line, ...(at.column !== undefined ? { column: at.column } : {}) } },
  );
}

/** A UTF-8 text stream of the file, with a leading byte-order mark dropped (editors on Windows write one). */
export async function* readText(abs: string, highWaterMark = 1 << 16): AsyncGenerator<string> {
  const stream = createReadStream(abs, { encoding: 'utf8', highWaterMark });
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      if (first) {
        first = false;
        yield chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk;
      } else {
        yield chunk;
      }
    }
  } finally {
    stream.destroy();
  }
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value);
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

export function optionsError(message: string): FerryError {
  return new FerryError(E_SOURCE_OPTIONS, message);
}
