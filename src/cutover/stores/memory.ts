/**
 * An in-memory Map as a cutover store: the "old store" of an app that kept
 * its state in a Map (seed 000), and the store tests use for the other side.
 *
 *   const users = new Map<string, User>();      // what the app had
 *   const old = memoryStore(users);              // the cutover writes through to it
 *
 * Values are stored as given (no copy): the app's own Map semantics.
 */
import type { CutoverStore, StoreEntry } from '../store.js';

export function memoryStore<V>(map: Map<string, V> = new Map(), options: { label?: string } = {}): CutoverStore<V> {
  return {
    label: options.label ?? 'memory',
    get: async (key) => map.get(key),
    put: async (key, value) => {
      map.set(key, value);
    },
    delete: async (key) => {
      map.delete(key);
    },
    async *list(): AsyncIterable<StoreEntry<V>> {
      // A snapshot of the keys: writes during the listing do not break the iteration.
      for (const key of [...map.keys()]) {
        if (map.has(key)) yield { key, value: map.get(key) as V };
      }
    },
  };
}
