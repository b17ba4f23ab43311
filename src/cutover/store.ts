/**
 * The seam between a live cutover and the stores it moves between.
 *
 * A cutover reads and writes one logical collection (an app's `users`, its
 * price snapshots...) in two stores at once: the one being left (`old`: a
 * JSON file, a folder of JSON files, a Map, Redis keys, anything with
 * get/put/delete) and the one being moved to (`new`: usually a Ferry
 * repository). Both are seen through this one small interface, as the import
 * sees legacy storage through `Source` (src/import/source.ts).
 *
 * Keys are strings: the cutover's `key` option turns a value into its key
 * (`(user) => String(user.id)`), and a store that keys by something else (a
 * repository's bigint primary key) converts at its edge. Values are what the
 * app holds: a store that serialises (JSON, Redis) hands back what it parsed,
 * and the comparator (compare.ts) judges two values equal by the schema's
 * rules (timestamps by instant, numerics by value, JSON ignoring key order),
 * not by identity.
 *
 *   const old = jsonFileStore<User>('data/users.json', { key: (u) => String(u.id) });
 *   const store: CutoverStore<User> = repositoryStore(ferry.repo(users));
 *   await store.put('42', { id: 42, name: 'Ada', updated_at: new Date() });
 */

export interface CutoverStore<V = unknown> {
  /** Short label for messages, status and mismatch records, e.g. `json-file(data/users.json)`, `postgres(users)`. */
  readonly label: string;
  /** The value stored under `key`, or undefined when there is none. */
  get(key: string): Promise<V | undefined>;
  /**
   * Store `value` under `key`, replacing what is there. Must be atomic for
   * the one key (a reader sees the old value or the new, never half), and
   * durable when it resolves: the cutover journals the *other* store's write
   * only after this one resolved.
   */
  put(key: string, value: V): Promise<void>;
  /** Remove `key`. Idempotent: deleting a missing key resolves. */
  delete(key: string): Promise<void>;
  /**
   * Every entry, in any order, each once (for verify and backfill). Optional:
   * a store that cannot enumerate (a cache keyed by request) cannot be
   * verified, and says so. Must not load the whole store at once when the
   * store is big (page through it); `signal` aborts early.
   */
  list?(options?: { signal?: AbortSignal }): AsyncIterable<StoreEntry<V>>;
  /** Release connections, timers, file handles; idempotent. */
  close?(): Promise<void>;
}

export interface StoreEntry<V = unknown> {
  readonly key: string;
  readonly value: V;
}

/** A store was asked something it cannot do (`list` on a store without one), or failed: names the store and the key. */
export interface StoreFailure {
  readonly store: string;
  readonly key?: string;
  readonly operation: 'get' | 'put' | 'delete' | 'list';
}
