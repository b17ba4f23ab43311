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

import type { Duration } from '../duration.js';
import type { Repository } from '../repo/repository.js';
import type { Scope } from '../repo/scope.js';
import type { InsertOf, PatchOf, PrimaryKeyOf, RowOf, Where } from '../repo/types.js';
import type { Table, UniqueExtra } from '../schema/table.js';
import { columnOf } from '../schema/validate.js';
import type { Cache, GetOrSetOptions } from './cache.js';
import { cacheError, E_CACHE_CONFIG } from './errors.js';

export interface CachedRepositoryOptions<T extends Table> {
  /** How long a row stays cached. */
  ttl: Duration;
  /** Look rows up by this column: the (single-column) primary key (default) or a unique column. */
  by?: keyof T['columns'] & string;
  /** Cache "no such row" for this long (default: not cached). */
  negativeTtl?: Duration;
  /** Grace period (see GetOrSetOptions.grace). */
  grace?: Duration;
}

export interface CachedRepository<T extends Table> {
  readonly table: T;
  readonly by: string;
  /** The row whose `by` column equals `value`, from the cache or the database. */
  get(value: unknown): Promise<RowOf<T> | undefined>;
  /** The cache key of a `by` value. */
  key(value: unknown): string;
  /** Insert in `scope`; cached "no such row" entries are dropped after commit. */
  insert(scope: Scope<any>, row: InsertOf<T>): Promise<RowOf<T>>;
  /** Update by primary key in `scope`; the row's keys (old and new `by` value) are invalidated after commit. */
  update(scope: Scope<any>, pk: PrimaryKeyOf<T>, patch: PatchOf<T>): Promise<RowOf<T> | undefined>;
  /** Delete by primary key in `scope`; invalidated after commit. */
  delete(scope: Scope<any>, pk: PrimaryKeyOf<T>): Promise<number>;
  /** Invalidate these rows after `scope` commits (for writes made another way). */
  invalidate(scope: Scope<any>, rows: readonly Partial<RowOf<T>>[]): Promise<void>;
}

export function cachedRepository<T extends Table>(
  repo: Repository<T>,
  cache: Cache,
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
  const afterCommit = async (scope: Scope<any>, keys: string[]) => {
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
