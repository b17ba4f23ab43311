/**
 * `cachedRepository(repo, cache, { ttl, by })`: a read-through view of a
 * repository, by primary key or a unique column (`telegram_id`), with writes
 * that invalidate **after commit** — through the scope's `afterCommit`, so a
 * rolled-back transaction invalidates nothing and no other request can cache
 * an uncommitted row.
 *
 *   const users = cachedRepository(ferry.repo(usersTable), cache, { ttl: '1h', by: 'telegram_id' });
 *   const u = await users.get(42);
 *   await ferry.transaction(async (tx) => {
 *     await users.update(tx, u.id, { tier: 'pro' }); // invalidated once committed
 *   });
 *
 * Reads always go through the repository it was made from (outside any
 * transaction): inside a transaction read with `tx.repo(table)` to see your
 * own uncommitted writes. The stale-fill race (a read that started before a
 * commit storing what it read after the commit's invalidation) is handled by
 * the cache's leases.
 */

import type { CachedRepository, CachedRepositoryOptions, Repository, WriteScope } from '../repo/repository.js';
import type { PrimaryKeyOf, RowOf, Where } from '../repo/types.js';
import type { Table, UniqueExtra } from '../schema/table.js';
import { columnOf } from '../schema/validate.js';
import { cacheError, E_CACHE_CONFIG } from './errors.js';
import type { GetOrSetOptions } from './options.js';

export type { CachedRepository, CachedRepositoryOptions } from '../repo/repository.js';

/** What a cached view needs of a cache (ferry/cache's `Cache` has it); structural, so cache.ts can build on this file. */
export interface ReadThroughCache {
  getOrSet<V>(key: string, loader: () => V | Promise<V>, options?: GetOrSetOptions): Promise<V>;
  delete(key: string | readonly string[]): Promise<void>;
}

export function cachedRepository<T extends Table>(
  repo: Repository<T>,
  cache: ReadThroughCache,
  options: CachedRepositoryOptions<T>,
): CachedRepository<T> {
  const table = repo.table;
  const pk = table.primaryKey;
  if (pk.length !== 1) {
    throw cacheError(E_CACHE_CONFIG, `cachedRepository(${table.name}): needs a single-column primary key.`);
  }
  const pkCol = pk[0]!;
  const by = options.by ?? pkCol;
  const column = columnOf(table, by);
  const singleUnique = table.extras.some(
    (e) =>
      (e as UniqueExtra).kind === 'unique' &&
      (e as UniqueExtra).columns.length === 1 &&
      (e as UniqueExtra).columns[0] === column,
  );
  if (by !== pkCol && !column.def.unique && !singleUnique) {
    throw cacheError(
      E_CACHE_CONFIG,
      `cachedRepository(${table.name}): "${by}" is neither the primary key nor a unique column, so it cannot identify one row.`,
    );
  }
  const readOptions: GetOrSetOptions = {
    ttl: options.ttl,
    ...(options.grace !== undefined ? { grace: options.grace } : {}),
    ...(options.negativeTtl !== undefined ? { negative: options.negativeTtl } : {}),
  };
  const key = (value: unknown) => `${table.name}:${by}:${String(value)}`;
  const keysOf = (rows: readonly (Partial<RowOf<T>> | undefined)[]) => {
    const keys = new Set<string>();
    for (const row of rows) {
      const v = row?.[by as keyof typeof row];
      if (v !== undefined && v !== null) keys.add(key(v));
    }
    return [...keys];
  };
  const afterCommit = async (scope: WriteScope, keys: string[]) => {
    if (keys.length > 0) await scope.afterCommit(() => cache.delete(keys));
  };

  return {
    table,
    by,
    key,
    async get(value) {
      if (value === undefined || value === null) return undefined;
      const row = await cache.getOrSet(
        key(value),
        () => (by === pkCol ? repo.get(value as PrimaryKeyOf<T>) : repo.findOne({ [by]: value } as Where<T>)),
        readOptions,
      );
      return row as RowOf<T> | undefined;
    },
    async insert(scope, row) {
      const inserted = await scope.repo(table).insert(row);
      await afterCommit(scope, keysOf([inserted]));
      return inserted;
    },
    async update(scope, id, patch) {
      const r = scope.repo(table);
      // The old `by` value, when it may change.
      const before = by === pkCol ? ({ [pkCol]: id } as Partial<RowOf<T>>) : await r.get(id);
      const after = await r.update(id, patch);
      await afterCommit(scope, keysOf([before, after]));
      return after;
    },
    async delete(scope, id) {
      const r = scope.repo(table);
      const before = by === pkCol ? ({ [pkCol]: id } as Partial<RowOf<T>>) : await r.get(id);
      const n = await r.delete(id);
      await afterCommit(scope, keysOf([before]));
      return n;
    },
    async invalidate(scope, rows) {
      await afterCommit(scope, keysOf(rows));
    },
  };
}
