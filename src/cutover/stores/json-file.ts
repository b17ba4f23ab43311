/**
 * A lowdb-style JSON file as a cutover store: the whole file is one JSON
 * document held in memory, and every write replaces the file atomically.
 *
 *   // {"42": {"id": 42, "name": "Ada"}, ...}              layout 'map' (the object's keys are the keys)
 *   jsonFileStore('data/users.json');
 *   // [{"id": 42, "name": "Ada"}, ...]                     layout 'array'
 *   jsonFileStore('data/users.json', { key: 'id' });
 *   // {"users": [{"id": 42, ...}], "posts": [...]}         layout 'collection' (lowdb)
 *   jsonFileStore('db.json', { collection: 'users', key: (u) => String(u.id) });
 *   // {"_default": {"1": {"username": "ada", ...}}}        layout 'tinydb' (TinyDB; key defaults to the document id)
 *   jsonFileStore('db.json', { layout: 'tinydb', key: 'username' });
 *
 * The layout is read from the file when it exists (an array, an object of
 * tables whose `collection` is an array or an object of documents, TinyDB's
 * `_default`, else a plain object of key → value) and can be forced with
 * `layout`; a file that does not exist yet is created on the first write.
 * Other tables of the file are kept as they are.
 *
 * Writes go through a queue (one at a time, never interleaved) and each
 * writes a temp file in the same folder, fsyncs it and renames it over the
 * file (file-io.ts), so a crash leaves the old file or the new one. The
 * in-memory copy is re-read when the file's inode, size or mtime changed
 * (another process wrote it). Two *processes* writing the same file can
 * still lose each other's writes (the last rename wins), as with lowdb:
 * give each file one writer.
 *
 * Values are stored as JSON: what `get` returns is what the file holds (a
 * Date comes back as its ISO string), a copy each time.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FerryError } from '../../errors.js';
import { parseJson } from '../../import/sources/json-error.js';
import { E_CUTOVER_CONFIG, E_CUTOVER_STORE } from '../errors.js';
import type { CutoverStore, StoreEntry } from '../store.js';
import { assertWritable, storeFailure, writeFileAtomic } from './file-io.js';

export type JsonFileLayout = 'map' | 'array' | 'collection' | 'tinydb';

export interface JsonFileStoreOptions<V> {
  /**
   * How a record's key is found: a field name or a function. Needed by the
   * `array` and `collection` layouts; in a TinyDB table it replaces the
   * document id as the key (new documents get the next id); unused by `map`.
   */
  key?: (keyof V & string) | ((value: V) => string);
  /** The table of a lowdb (`{"users": [...]}`) or TinyDB (`{"users": {"1": ...}}`) file; TinyDB's default is `_default`. */
  collection?: string;
  /** Force the layout instead of reading it from the file (for a file that does not exist yet). */
  layout?: JsonFileLayout;
  /** Indentation of the written JSON (default 2; 0 for one line). */
  indent?: number;
  label?: string;
}

interface State<V> {
  /** `${ino}:${size}:${mtimeMs}` of the file the state was read from; 'absent' when there was none. */
  stamp: string;
  layout: JsonFileLayout;
  /** The whole document, for the layouts that keep other tables beside ours. */
  root: Record<string, unknown> | null;
  entries: Map<string, V>;
  /** TinyDB: the document id of each key. */
  ids: Map<string, string>;
}

const DELETE = Symbol('delete');

export function jsonFileStore<V = unknown>(file: string, options: JsonFileStoreOptions<V> = {}): CutoverStore<V> {
  if (typeof file !== 'string' || file === '') {
    throw new FerryError(E_CUTOVER_CONFIG, 'jsonFileStore(file): pass the path of the JSON file.');
  }
  const abs = path.resolve(file);
  const label = options.label ?? `json-file(${file})`;
  const keyOf = keyFunction(options.key, label);
  if (options.layout !== undefined && !['map', 'array', 'collection', 'tinydb'].includes(options.layout)) {
    throw new FerryError(E_CUTOVER_CONFIG, `${label}: layout must be 'map', 'array', 'collection' or 'tinydb'.`);
  }
  if (options.layout === 'collection' && !options.collection) {
    throw new FerryError(E_CUTOVER_CONFIG, `${label}: layout 'collection' needs \`collection\` (the table's name).`);
  }
  const indent = options.indent ?? 2;
  let state: State<V> | undefined;
  let tail: Promise<unknown> = Promise.resolve();

  const fail = (operation: 'get' | 'put' | 'delete' | 'list', key: string | undefined, err: unknown) =>
    err instanceof FerryError ? err : storeFailure({ store: label, key, operation, file: abs }, err);

  /** The state, re-read when the file changed since (or was never read). */
  async function fresh(): Promise<State<V>> {
    const stamp = await stampOf(abs);
    if (state && state.stamp === stamp) return state;
    const text = stamp === 'absent' ? undefined : await readFile(abs, 'utf8');
    state = parse(text, stamp);
    return state;
  }

  function parse(text: string | undefined, stamp: string): State<V> {
    const empty = text === undefined || text.trim() === '';
    let doc: unknown;
    if (!empty) {
      const parsed = parseJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
      if (!parsed.ok) {
        throw new FerryError(
          E_CUTOVER_STORE,
          `${label}: ${abs} is not valid JSON (${parsed.reason}). Restore or repair the file.`,
          { details: { store: label, operation: 'get', file: abs } },
        );
      }
      doc = parsed.value;
    }
    const layout = options.layout ?? (empty ? (options.collection ? 'collection' : 'map') : detect(doc));
    const s: State<V> = { stamp, layout, root: null, entries: new Map(), ids: new Map() };
    const bad = (what: string) =>
      new FerryError(
        E_CUTOVER_STORE,
        `${label}: ${abs} ${what}. Fix the file or the store's layout/collection options.`,
        {
          details: { store: label, operation: 'get', file: abs },
        },
      );
    if (layout === 'map') {
      if (!empty && !isObject(doc)) throw bad('is not an object of key → value (layout map)');
      for (const [k, v] of Object.entries((doc ?? {}) as Record<string, V>)) s.entries.set(k, v);
      return s;
    }
    if (layout === 'array') {
      if (!empty && !Array.isArray(doc)) throw bad('is not an array of records (layout array)');
      for (const v of (doc ?? []) as V[]) s.entries.set(needKey(v), v);
      return s;
    }
    if (!empty && !isObject(doc)) throw bad(`is not an object of tables (layout ${layout})`);
    s.root = (doc ?? {}) as Record<string, unknown>;
    const table = tableName(layout);
    const rows = s.root[table];
    if (layout === 'collection') {
      if (rows !== undefined && !Array.isArray(rows)) throw bad(`has "${table}" but it is not an array`);
      for (const v of (rows ?? []) as V[]) s.entries.set(needKey(v), v);
    } else {
      if (rows !== undefined && !isObject(rows)) throw bad(`has "${table}" but it is not an object of documents by id`);
      for (const [id, v] of Object.entries((rows ?? {}) as Record<string, V>)) {
        const k = keyOf ? keyOf(v) : id;
        s.entries.set(k, v);
        s.ids.set(k, id);
      }
    }
    return s;
  }

  function detect(doc: unknown): JsonFileLayout {
    if (Array.isArray(doc)) return 'array';
    if (isObject(doc) && options.collection) {
      // A named table: TinyDB's object of documents, else lowdb's array (also when the table is not there yet).
      return isObject(doc[options.collection]) ? 'tinydb' : 'collection';
    }
    if (isObject(doc) && isObject(doc._default) && Object.values(doc._default).every(isObject)) return 'tinydb';
    return 'map';
  }

  function tableName(layout: JsonFileLayout): string {
    return options.collection ?? (layout === 'tinydb' ? '_default' : 'records');
  }

  function needKey(value: V): string {
    if (!keyOf) {
      throw new FerryError(
        E_CUTOVER_CONFIG,
        `${label}: the file holds a list of records: pass \`key\` (a field name or a function) to say which field is the key.`,
      );
    }
    return keyOf(value);
  }

  /** The file's text with `key` set to `value` (or deleted), and the TinyDB id it got. */
  function render(s: State<V>, key: string, value: V | typeof DELETE): { text: string; id?: string } {
    let id: string | undefined;
    const entries = (): [string, V][] => {
      const out: [string, V][] = [];
      let seen = false;
      for (const [k, v] of s.entries) {
        if (k !== key) out.push([k, v]);
        else if (value !== DELETE) {
          out.push([k, value]);
          seen = true;
        }
      }
      if (!seen && value !== DELETE) out.push([key, value]);
      return out;
    };
    let doc: unknown;
    if (s.layout === 'map') doc = Object.fromEntries(entries());
    else if (s.layout === 'array') doc = entries().map(([, v]) => v);
    else if (s.layout === 'collection') doc = { ...s.root, [tableName('collection')]: entries().map(([, v]) => v) };
    else {
      id = s.ids.get(key) ?? nextId(s.ids);
      const docs = entries().map(([k, v]) => [k === key ? (id as string) : (s.ids.get(k) as string), v]);
      doc = { ...s.root, [tableName('tinydb')]: Object.fromEntries(docs) };
    }
    return { text: `${JSON.stringify(doc, null, indent || undefined)}\n`, id };
  }

  /** Run `fn` after every write queued before it: one write at a time. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  }

  async function write(operation: 'put' | 'delete', key: string, value: V | typeof DELETE): Promise<void> {
    await serial(async () => {
      try {
        const s = await fresh();
        if (value === DELETE && !s.entries.has(key)) return;
        if (value !== DELETE && keyOf && s.layout !== 'map' && keyOf(value) !== key) {
          throw new FerryError(
            E_CUTOVER_STORE,
            `${label}: put of key "${key}" with a value whose key is "${keyOf(value)}": the file finds records by their key field, so they must agree.`,
            { details: { store: label, key, operation: 'put', file: abs } },
          );
        }
        await assertWritable(abs);
        const { text, id } = render(s, key, value);
        await writeFileAtomic(abs, text);
        // Applied only once the file holds it: a failed write leaves the copy as the file is.
        if (value === DELETE) {
          s.entries.delete(key);
          s.ids.delete(key);
        } else {
          s.entries.set(key, value);
          if (id !== undefined) s.ids.set(key, id);
        }
        s.stamp = await stampOf(abs);
      } catch (err) {
        throw fail(operation, key, err);
      }
    });
  }

  return {
    label,
    async get(key) {
      try {
        const v = (await fresh()).entries.get(key);
        return v === undefined ? undefined : structuredClone(v);
      } catch (err) {
        throw fail('get', key, err);
      }
    },
    // Queued at once (no await before write()): operations on the file run in call order.
    put: async (key, value) => write('put', key, toJson(value, label, key)),
    delete: (key) => write('delete', key, DELETE),
    async *list(opts): AsyncIterable<StoreEntry<V>> {
      let snapshot: [string, V][];
      try {
        snapshot = [...(await fresh()).entries];
      } catch (err) {
        throw fail('list', undefined, err);
      }
      for (const [key, value] of snapshot) {
        opts?.signal?.throwIfAborted();
        yield { key, value: structuredClone(value) };
      }
    },
    async close() {
      await tail;
    },
  };
}

function keyFunction<V>(key: JsonFileStoreOptions<V>['key'], label: string): ((value: V) => string) | undefined {
  if (key === undefined) return undefined;
  if (typeof key === 'function') return (v) => String(key(v));
  if (typeof key === 'string') {
    return (v) => {
      const k = isObject(v) ? v[key] : undefined;
      if (k === undefined || k === null) {
        throw new FerryError(E_CUTOVER_STORE, `${label}: a record has no "${key}" field, which is its key.`, {
          details: { store: label, operation: 'get' },
        });
      }
      return String(k);
    };
  }
  throw new FerryError(E_CUTOVER_CONFIG, `${label}: key must be a field name or a function (value) => string.`);
}

/** The value as the file will hold it (a JSON round trip), or E_CUTOVER_STORE when it is not JSON. */
function toJson<V>(value: V, label: string, key: string): V {
  const text = value === undefined ? undefined : JSON.stringify(value);
  if (text === undefined) {
    throw new FerryError(
      E_CUTOVER_STORE,
      `${label}: put of key "${key}": the value is not JSON (undefined or a function).`,
      {
        details: { store: label, key, operation: 'put' },
      },
    );
  }
  return JSON.parse(text) as V;
}

function nextId(ids: Map<string, string>): string {
  let max = 0;
  for (const id of ids.values()) max = Math.max(max, Number(id) || 0);
  return String(max + 1);
}

async function stampOf(file: string): Promise<string> {
  try {
    const s = await stat(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
