/**
 * A folder of JSON files, one per key, as a cutover store (seed 003: a
 * folder of conversation files, `conversations/<chat id>.json`).
 *
 *   const old = jsonFolderStore<Conversation>('data/conversations');
 *   await old.put('12345', conversation);        // data/conversations/12345.json
 *
 * Key → file name: letters, digits, `-` and `_` are kept and every other
 * character is written `%XX` (its UTF-8 bytes), so any key is one safe file
 * name (`../etc/passwd` is `%2E%2E%2Fetc%2Fpasswd.json`, never a path) and
 * `list()` decodes the name back. `fileName` maps keys another way (an
 * app's existing `chat-<id>.json` names); `list()` then takes each key from
 * the file's content with `key`.
 *
 * Each write replaces its file atomically (temp file, fsync, rename), so a
 * reader or a crash sees the old file or the new; writes to one key are
 * queued, never interleaved. Nothing is cached: every `get` reads the file.
 */
import { mkdir, opendir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../../errors.js';
import { parseJson } from '../../import/sources/json-error.js';
import { E_CUTOVER_CONFIG, E_CUTOVER_STORE } from '../errors.js';
import type { CutoverStore, StoreEntry } from '../store.js';
import { assertWritable, storeFailure, writeFileAtomic } from './file-io.js';

export interface JsonFolderStoreOptions<V> {
  /** The key of a value (a field name or a function): needed by `list()` when `fileName` is given. */
  key?: (keyof V & string) | ((value: V) => string);
  /** The file name (no folder) of a key. Default: the key encoded as above, plus `.json`. */
  fileName?: (key: string) => string;
  /** Indentation of the written JSON (default 2; 0 for one line). */
  indent?: number;
  label?: string;
}

/** Longest file name most file systems take (ext4, APFS, NTFS: 255 bytes). */
const MAX_NAME = 255;

export function jsonFolderStore<V = unknown>(dir: string, options: JsonFolderStoreOptions<V> = {}): CutoverStore<V> {
  if (typeof dir !== 'string' || dir === '') {
    throw new FerryError(E_CUTOVER_CONFIG, 'jsonFolderStore(dir): pass the path of the folder.');
  }
  const abs = path.resolve(dir);
  const label = options.label ?? `json-folder(${dir})`;
  if (options.fileName !== undefined && typeof options.fileName !== 'function') {
    throw new FerryError(E_CUTOVER_CONFIG, `${label}: fileName must be a function (key) => file name.`);
  }
  const key = options.key;
  const keyOf =
    typeof key === 'function'
      ? (v: V) => String(key(v))
      : typeof key === 'string'
        ? (v: V) => String((v as Record<string, unknown>)?.[key])
        : undefined;
  const indent = options.indent ?? 2;
  const queues = new Map<string, Promise<unknown>>();

  function fileOf(k: string, operation: 'get' | 'put' | 'delete'): string {
    const name = options.fileName ? options.fileName(k) : `${encodeKey(k)}.json`;
    if (
      typeof name !== 'string' ||
      name === '' ||
      name === '.' ||
      name === '..' ||
      name.includes('/') ||
      name.includes('\\') ||
      name.includes('\0') ||
      Buffer.byteLength(name) > MAX_NAME
    ) {
      throw new FerryError(
        E_CUTOVER_STORE,
        `${label}: key "${k}" maps to the file name ${JSON.stringify(name)}, which is not one plain file name of at most ${MAX_NAME} bytes. Use shorter keys or a fileName option that maps them inside the folder.`,
        { details: { store: label, key: k, operation, file: abs } },
      );
    }
    return path.join(abs, name);
  }

  const fail = (operation: 'get' | 'put' | 'delete' | 'list', k: string | undefined, file: string, err: unknown) =>
    err instanceof FerryError ? err : storeFailure({ store: label, key: k, operation, file }, err);

  async function read(file: string, k: string | undefined, operation: 'get' | 'list'): Promise<V | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fail(operation, k, file, err);
    }
    const parsed = parseJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    if (!parsed.ok) {
      throw new FerryError(
        E_CUTOVER_STORE,
        `${label}: ${file} is not valid JSON (${parsed.reason}). Restore or repair it.`,
        {
          details: { store: label, key: k, operation, file },
        },
      );
    }
    return parsed.value as V;
  }

  /** One write at a time per key, in call order. */
  function serial(k: string, fn: () => Promise<void>): Promise<void> {
    const run = (queues.get(k) ?? Promise.resolve()).then(fn, fn);
    const settled = run.catch(() => {});
    queues.set(k, settled);
    void settled.then(() => {
      if (queues.get(k) === settled) queues.delete(k);
    });
    return run;
  }

  return {
    label,
    get: async (k) => read(fileOf(k, 'get'), k, 'get'),
    async put(k, value) {
      const file = fileOf(k, 'put');
      const text = value === undefined ? undefined : JSON.stringify(value, null, indent || undefined);
      if (text === undefined) {
        return Promise.reject(
          new FerryError(
            E_CUTOVER_STORE,
            `${label}: put of key "${k}": the value is not JSON (undefined or a function).`,
            {
              details: { store: label, key: k, operation: 'put', file },
            },
          ),
        );
      }
      return serial(k, async () => {
        try {
          await assertWritable(file);
          await writeFileAtomic(file, `${text}\n`).catch(async (err: NodeJS.ErrnoException) => {
            // The folder is made on the first write (an app that had no conversation yet had none).
            if (err.code !== 'ENOENT') throw err;
            await mkdir(abs, { recursive: true });
            await writeFileAtomic(file, `${text}\n`);
          });
        } catch (err) {
          throw fail('put', k, file, err);
        }
      });
    },
    async delete(k) {
      const file = fileOf(k, 'delete');
      return serial(k, async () => {
        try {
          await assertWritable(file);
          await rm(file, { force: true });
        } catch (err) {
          throw fail('delete', k, file, err);
        }
      });
    },
    async *list(opts): AsyncIterable<StoreEntry<V>> {
      if (options.fileName && !keyOf) {
        throw new FerryError(
          E_CUTOVER_CONFIG,
          `${label}: list() cannot tell keys from file names made by fileName: pass \`key\` too (a field name or a function).`,
        );
      }
      let folder: Awaited<ReturnType<typeof opendir>>;
      try {
        folder = await opendir(abs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw fail('list', undefined, abs, err);
      }
      // Streamed from the directory: a folder of 100k files is never listed into memory at once.
      for await (const entry of folder) {
        opts?.signal?.throwIfAborted();
        if (!entry.isFile() || entry.name.startsWith('.') || !entry.name.endsWith('.json')) continue;
        const file = path.join(abs, entry.name);
        const fromName = keyOf ? undefined : decodeKey(entry.name.slice(0, -'.json'.length));
        if (!keyOf && fromName === undefined) continue; // not a name this store writes
        const value = await read(file, fromName, 'list');
        if (value === undefined) continue; // deleted since the folder was read
        yield { key: keyOf ? keyOf(value) : (fromName as string), value };
      }
    },
  };
}

/** Letters, digits, `-`, `_` as they are; every other UTF-8 byte as `%XX` (so `.` and `/` can never form a path). */
export function encodeKey(key: string): string {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // The empty key still needs a name that is not just the extension.
  return out === '' ? '%' : out;
}

/** The key `encodeKey` made `name` from, or undefined when `name` is not one of its names. */
export function decodeKey(name: string): string | undefined {
  if (name === '%') return '';
  if (!/^(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+$/.test(name)) return undefined;
  try {
    return decodeURIComponent(name);
  } catch {
    return undefined;
  }
}
