/**
 * Any object with get/put/delete (and optionally list) as a cutover store:
 * an app's own data-access layer, a Keyv instance, a class around a file.
 *
 *   const old = objectStore({
 *     get: (key) => legacy.findUser(key),            // sync or async
 *     put: (key, user) => legacy.saveUser(user),
 *     delete: (key) => legacy.removeUser(key),
 *     list: () => legacy.allUsers().map((u) => ({ key: String(u.id), value: u })),
 *   }, { label: 'legacy-users' });
 *
 * Methods may return values or promises; `get` returning null counts as
 * missing. `list` may return an array, an iterable or an async iterable of
 * `{ key, value }` (or of `[key, value]` pairs). A method that throws fails
 * with E_CUTOVER_STORE naming the store, the key and the operation, the
 * original error as `cause`.
 */
import { FerryError } from '../../errors.js';
import { E_CUTOVER_CONFIG, E_CUTOVER_STORE } from '../errors.js';
import type { CutoverStore, StoreEntry } from '../store.js';

type MaybePromise<T> = T | Promise<T>;
type Listed<V> = StoreEntry<V> | readonly [string, V];

export interface ObjectStoreTarget<V> {
  get(key: string): MaybePromise<V | undefined | null>;
  put(key: string, value: V): MaybePromise<unknown>;
  delete(key: string): MaybePromise<unknown>;
  list?(): MaybePromise<Iterable<Listed<V>> | AsyncIterable<Listed<V>>>;
  close?(): MaybePromise<unknown>;
}

export function objectStore<V = unknown>(
  target: ObjectStoreTarget<V>,
  options: { label?: string } = {},
): CutoverStore<V> {
  for (const m of ['get', 'put', 'delete'] as const) {
    if (typeof target?.[m] !== 'function') {
      throw new FerryError(
        E_CUTOVER_CONFIG,
        `objectStore(target): target.${m} is not a function; pass an object with get(key), put(key, value) and delete(key) (list() optional).`,
      );
    }
  }
  if (target.list !== undefined && typeof target.list !== 'function') {
    throw new FerryError(E_CUTOVER_CONFIG, 'objectStore(target): target.list must be a function when given.');
  }
  const label = options.label ?? 'object';
  const call = async <T>(
    operation: 'get' | 'put' | 'delete' | 'list',
    key: string | undefined,
    fn: () => MaybePromise<T>,
  ) => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof FerryError && err.code === E_CUTOVER_STORE) throw err;
      const what = key === undefined ? operation : `${operation} of key "${key}"`;
      throw new FerryError(E_CUTOVER_STORE, `${label}: ${what} failed: ${(err as Error)?.message ?? String(err)}.`, {
        cause: err,
        details: { store: label, key, operation },
      });
    }
  };
  const store: CutoverStore<V> = {
    label,
    async get(key) {
      const v = await call('get', key, () => target.get(key));
      return v === null ? undefined : v;
    },
    async put(key, value) {
      await call('put', key, () => target.put(key, value));
    },
    async delete(key) {
      await call('delete', key, () => target.delete(key));
    },
    async close() {
      await target.close?.();
    },
  };
  if (target.list) {
    const list = target.list.bind(target);
    store.list = async function* (opts) {
      const entries = await call('list', undefined, () => list());
      const iterator =
        Symbol.asyncIterator in Object(entries)
          ? (entries as AsyncIterable<Listed<V>>)[Symbol.asyncIterator]()
          : (entries as Iterable<Listed<V>>)[Symbol.iterator]();
      for (;;) {
        opts?.signal?.throwIfAborted();
        const step = await call('list', undefined, () => iterator.next());
        if (step.done) return;
        const e = step.value;
        yield Array.isArray(e) ? { key: String(e[0]), value: e[1] } : (e as StoreEntry<V>);
      }
    };
  }
  return store;
}
