import { CompiledQuery, type Expression, type ExpressionBuilder, type Kysely, type SqlBool, sql } from 'kysely';
import type { ObserverSlot } from '../db/observer.js';
import type { Duration } from '../duration.js';
import { E_BAD_ARGUMENT, FerryError } from '../errors.js';
import type { Column } from '../schema/column.js';
import type { Table } from '../schema/table.js';
import { columnOf, validateValue, validateValues } from '../schema/validate.js';
import { checkConflictTarget } from './conflict.js';
import { translateDbError } from './db-errors.js';
import { encodeValue } from './encode.js';
import { checkKeyValue, decodeCursor, encodeCursor, type KeysetKey, keysetPredicate, resolveOrder } from './keyset.js';
import type {
  ColumnName,
  FindManyOptions,
  InsertOf,
  OrderBy,
  Page,
  PatchOf,
  PrimaryKeyOf,
  RowOf,
  UpsertOptions,
  Where,
} from './types.js';

// Postgres allows 65535 bind parameters per statement.
const MAX_PARAMS = 65_535;

type AnyEB = ExpressionBuilder<any, any>;
type AnyRow = Record<string, unknown>;

/**
 * The seam between repositories and a cache: `repo.cached(options)` asks the
 * cache given to `connect({ cache })` for a read-through view of itself.
 * Defined here and implemented by `ferry/cache` (its `Cache` is a
 * `RepositoryCache`), so repositories never import the cache: the core does
 * not know its add-ons, and any cache with this method plugs in.
 */
export interface RepositoryCache {
  cachedRepository<T extends Table>(repo: Repository<T>, options: CachedRepositoryOptions<T>): CachedRepository<T>;
}

export interface CachedRepositoryOptions<T extends Table> {
  /** How long a row stays cached. */
  ttl: Duration;
  /** Look rows up by this column: the (single-column) primary key (default) or a unique column. */
  by?: keyof T['columns'] & string;
  /** Cache "no such row" for this long (default: not cached). */
  negativeTtl?: Duration;
  /** Grace period (see the cache's GetOrSetOptions.grace). */
  grace?: Duration;
}

/**
 * What a cached view writes through: a root or transaction scope (every
 * `Scope` is one). Structural, because scope.ts builds on this file.
 */
export interface WriteScope {
  repo<U extends Table>(table: U): Repository<U>;
  afterCommit(fn: () => unknown): Promise<void>;
}

export interface CachedRepository<T extends Table> {
  readonly table: T;
  readonly by: string;
  /** The row whose `by` column equals `value`, from the cache or the database. */
  get(value: unknown): Promise<RowOf<T> | undefined>;
  /** The cache key of a `by` value. */
  key(value: unknown): string;
  /** Insert in `scope`; cached "no such row" entries are dropped after commit. */
  insert(scope: WriteScope, row: InsertOf<T>): Promise<RowOf<T>>;
  /** Update by primary key in `scope`; the row's keys (old and new `by` value) are invalidated after commit. */
  update(scope: WriteScope, pk: PrimaryKeyOf<T>, patch: PatchOf<T>): Promise<RowOf<T> | undefined>;
  /** Delete by primary key in `scope`; invalidated after commit. */
  delete(scope: WriteScope, pk: PrimaryKeyOf<T>): Promise<number>;
  /** Invalidate these rows after `scope` commits (for writes made another way). */
  invalidate(scope: WriteScope, rows: readonly Partial<RowOf<T>>[]): Promise<void>;
}

/**
 * Table-level CRUD over Kysely. Every value is a bind parameter and every
 * identifier is quoted by Kysely; values are validated against the schema
 * first so mistakes name the table and column.
 */
export class Repository<T extends Table> {
  readonly table: T;
  readonly #db: Kysely<any>;
  readonly #pk: string[];
  readonly #getSql: string | null;
  readonly #getNode: CompiledQuery['query'] | null;

  readonly #cache: RepositoryCache | undefined;
  readonly #observers: ObserverSlot | undefined;

  /** `observers`: the handle's slot (see src/db/observer.ts); each call reports its operation, table and time there. */
  constructor(db: Kysely<any>, table: T, options: { cache?: RepositoryCache; observers?: ObserverSlot } = {}) {
    this.#db = db;
    this.#cache = options.cache;
    this.#observers = options.observers;
    this.table = table;
    this.#pk = table.primaryKey;
    // `get` is the hottest path in most apps: compile it once, not per call.
    const getQuery =
      this.#pk.length === 1 ? db.selectFrom(table.name).selectAll().where(this.#pk[0]!, '=', 0).compile() : null;
    this.#getSql = getQuery?.sql ?? null;
    // Its query node too: the driver sends selects (SelectQueryNode) to a read replica, raw SQL never.
    this.#getNode = getQuery?.query ?? null;
  }

  /**
   * A read-through cached view: `get` by the primary key or a unique column
   * (`by`), invalidated after commit by its writes. Uses the cache given to
   * `connect({ cache })` unless `options.cache` names another.
   */
  cached(options: CachedRepositoryOptions<T> & { cache?: RepositoryCache }): CachedRepository<T> {
    const cache = options.cache ?? this.#cache;
    if (!cache) {
      throw new FerryError(
        E_BAD_ARGUMENT,
        `${this.table.name}: repo.cached() needs a cache: pass connect({ cache: createCache(...) }) or cached({ cache, ttl }).`,
      );
    }
    return cache.cachedRepository(this, options);
  }

  /** The row with this primary key, or undefined. */
  async get(pk: PrimaryKeyOf<T>): Promise<RowOf<T> | undefined> {
    if (this.#getSql !== null) {
      const value = this.#scalarKey(pk);
      const result = await this.#run('get', () =>
        this.#db.executeQuery<RowOf<T>>({ ...CompiledQuery.raw(this.#getSql!, [value]), query: this.#getNode! }),
      );
      return result.rows[0];
    }
    return this.findOne(this.#pkFilter(pk) as Where<T>);
  }

  /** Rows for these keys, in the order given; missing keys are skipped. */
  async getMany(pks: readonly PrimaryKeyOf<T>[]): Promise<RowOf<T>[]> {
    if (!Array.isArray(pks)) {
      throw new FerryError(E_BAD_ARGUMENT, `${this.table.name}: getMany takes an array of keys, got ${typeof pks}.`);
    }
    if (pks.length === 0) return [];
    const keys = this.#requirePk();
    const wanted = pks.map((pk) => this.#pkFilter(pk));
    const rows = await this.#run('getMany', () =>
      this.#db
        .selectFrom(this.table.name)
        .selectAll()
        .where((eb) =>
          keys.length === 1
            ? eb(
                keys[0]!,
                'in',
                wanted.map((w) => w[keys[0]!]),
              )
            : eb.or(wanted.map((w) => eb.and(keys.map((k) => eb(k, '=', w[k]))))),
        )
        .execute(),
    );
    const byKey = new Map(rows.map((r) => [this.#keyString(r), r as RowOf<T>]));
    return wanted.map((w) => byKey.get(this.#keyString(w))).filter((r): r is RowOf<T> => r !== undefined);
  }

  async findOne(where: Where<T>): Promise<RowOf<T> | undefined> {
    const filter = this.#where(where);
    return this.#run('findOne', () =>
      this.#db.selectFrom(this.table.name).selectAll().where(filter).limit(1).executeTakeFirst(),
    ) as Promise<RowOf<T> | undefined>;
  }

  /**
   * Rows in a stable order: the primary key is appended to `orderBy`, so rows
   * that tie on the sort columns still page without gaps or repeats.
   */
  async findMany(options: FindManyOptions<T> = {}): Promise<RowOf<T>[]> {
    return (await this.#findPage(options, false)).rows;
  }

  /** Like `findMany`, plus an opaque cursor for the next page. */
  async page(options: FindManyOptions<T> & { limit: number }): Promise<Page<T>> {
    return this.#findPage(options, true);
  }

  async count(where?: Where<T>): Promise<number> {
    const filter = where === undefined ? undefined : this.#where(where);
    const row = await this.#run('count', () => {
      let q = this.#db.selectFrom(this.table.name).select((eb) => eb.fn.countAll().as('count'));
      if (filter) q = q.where(filter);
      return q.executeTakeFirstOrThrow();
    });
    return Number(row.count);
  }

  /** Insert one row (returns it) or many (returns them, in order). */
  insert(row: InsertOf<T>): Promise<RowOf<T>>;
  insert(rows: readonly InsertOf<T>[]): Promise<RowOf<T>[]>;
  async insert(input: InsertOf<T> | readonly InsertOf<T>[]): Promise<RowOf<T> | RowOf<T>[]> {
    const rows = Array.isArray(input) ? (input as readonly AnyRow[]) : [input as AnyRow];
    const encoded = this.#prepareRows(rows, 'insert');
    const out: RowOf<T>[] = [];
    for (const chunk of chunks(encoded, MAX_PARAMS)) {
      const inserted = await this.#run('insert', () =>
        this.#db.insertInto(this.table.name).values(chunk).returningAll().execute(),
      );
      out.push(...(inserted as RowOf<T>[]));
    }
    return Array.isArray(input) ? out : out[0]!;
  }

  /**
   * Insert, or update on conflict. Rows repeating a conflict key within one
   * call are collapsed to the last one, as if upserted one after another
   * (Postgres refuses to touch a row twice in one statement).
   */
  async upsert(input: InsertOf<T> | readonly InsertOf<T>[], options: UpsertOptions<T> = {}): Promise<RowOf<T>[]> {
    const rows = Array.isArray(input) ? (input as readonly AnyRow[]) : [input as AnyRow];
    if (rows.length === 0) return [];
    const conflict =
      options?.conflict === undefined ? this.#requirePk() : checkConflictTarget(this.table, options.conflict);
    const encoded = this.#prepareRows(rows, 'insert');
    for (const row of encoded) {
      for (const c of conflict) {
        if (row[c] === undefined) {
          throw new FerryError(
            E_BAD_ARGUMENT,
            `upsert into ${this.table.name}: every row needs the conflict column "${c}".`,
          );
        }
      }
    }
    const deduped = [...new Map(encoded.map((r) => [JSON.stringify(conflict.map((c) => keyPart(r[c]))), r])).values()];
    const written = new Set(deduped.flatMap((r) => Object.keys(r)));
    const update =
      options?.update === undefined
        ? [...written].filter((c) => !conflict.includes(c) && this.#writable(c))
        : this.#updateColumns(options.update);

    const out: RowOf<T>[] = [];
    for (const chunk of chunks(deduped, MAX_PARAMS)) {
      const result = await this.#run('upsert', () =>
        this.#db
          .insertInto(this.table.name)
          .values(chunk)
          .onConflict((oc) => {
            const target = oc.columns(conflict as any);
            if (update.length === 0) return target.doNothing();
            return target.doUpdateSet((eb: AnyEB) =>
              Object.fromEntries(update.map((c) => [c, eb.ref(`excluded.${c}`)])),
            );
          })
          .returningAll()
          .execute(),
      );
      out.push(...(result as RowOf<T>[]));
    }
    return out;
  }

  /** Update by primary key (returns the row or undefined) or by filter (returns the rows). */
  update(pk: PrimaryKeyOf<T>, patch: PatchOf<T>): Promise<RowOf<T> | undefined>;
  update(where: Where<T>, patch: PatchOf<T>): Promise<RowOf<T>[]>;
  async update(target: unknown, patch: PatchOf<T>): Promise<RowOf<T> | RowOf<T>[] | undefined> {
    const values = this.#prepareRows([patch as AnyRow], 'update')[0]!;
    if (Object.keys(values).length === 0) {
      throw new FerryError(E_BAD_ARGUMENT, `update of ${this.table.name} has an empty patch: nothing to set.`);
    }
    const { filter, byKey } = this.#target(target, 'update');
    const rows = await this.#run('update', () =>
      this.#db.updateTable(this.table.name).set(values).where(filter).returningAll().execute(),
    );
    return byKey ? (rows[0] as RowOf<T> | undefined) : (rows as RowOf<T>[]);
  }

  /** Delete by primary key or filter; returns how many rows went. */
  async delete(target: PrimaryKeyOf<T> | Where<T>): Promise<number> {
    const { filter } = this.#target(target, 'delete');
    const result = await this.#run('delete', () =>
      this.#db.deleteFrom(this.table.name).where(filter).executeTakeFirst(),
    );
    return Number(result.numDeletedRows);
  }

  // ------------------------------------------------------------ internals

  #updateColumns(update: unknown): string[] {
    if (!Array.isArray(update)) {
      throw new FerryError(
        E_BAD_ARGUMENT,
        `upsert into ${this.table.name}: update must be an array of column names ([] to keep existing rows), got ${update === null ? 'null' : typeof update}.`,
      );
    }
    for (const c of update) {
      columnOf(this.table, c);
      if (!this.#writable(c)) {
        throw new FerryError(
          E_BAD_ARGUMENT,
          `upsert into ${this.table.name}: update names ${c}, which the database generates and cannot be set.`,
        );
      }
    }
    return update as string[];
  }

  async #findPage(options: FindManyOptions<T>, withCursor: boolean): Promise<Page<T>> {
    const order = resolveOrder(this.table, (options.orderBy ?? []) as OrderBy<Table>, this.#requirePk());
    const filter = options.where === undefined ? undefined : this.#where(options.where);
    const after = options.after === undefined ? undefined : this.#afterValues(options.after, order);
    const limit = options.limit;
    // page() needs a last row to make the next cursor from, so at least 1.
    const least = withCursor ? 1 : 0;
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < least)) {
      throw new FerryError(
        E_BAD_ARGUMENT,
        `limit must be an integer ≥ ${least}${withCursor ? ' for page()' : ''}, got ${typeof limit === 'number' ? limit : typeof limit}.`,
      );
    }
    const rows = (await this.#run(withCursor ? 'page' : 'findMany', () => {
      let q = this.#db.selectFrom(this.table.name).selectAll();
      if (filter) q = q.where(filter);
      if (after) q = q.where((eb) => keysetPredicate(eb, order, after));
      for (const key of order) q = q.orderBy(key.column, key.direction);
      // One extra row tells whether another page exists.
      if (limit !== undefined) q = q.limit(withCursor ? limit + 1 : limit);
      return q.execute();
    })) as RowOf<T>[];
    if (!withCursor || limit === undefined || rows.length <= limit) return { rows, nextCursor: null };
    rows.length = limit;
    const last = rows[limit - 1] as AnyRow;
    return {
      rows,
      nextCursor: encodeCursor(
        order,
        order.map((k) => last[k.column]),
      ),
    };
  }

  #afterValues(after: Partial<RowOf<T>> | string, order: KeysetKey[]): unknown[] {
    let values: unknown[];
    if (typeof after === 'string') {
      values = decodeCursor(this.table, after, order);
    } else {
      if (typeof after !== 'object' || after === null || Array.isArray(after)) {
        throw new FerryError(
          E_BAD_ARGUMENT,
          `after: pass the last row of the previous page or a cursor string from page(), got ${after === null ? 'null' : Array.isArray(after) ? 'an array' : typeof after}.`,
        );
      }
      const row = after as AnyRow;
      values = order.map((k) => {
        if (!(k.column in row)) {
          throw new FerryError(
            E_BAD_ARGUMENT,
            `after: the row must include "${k.column}" (an order-by or key column of ${this.table.name}).`,
          );
        }
        checkKeyValue(this.table, k, row[k.column]);
        return row[k.column];
      });
    }
    return values.map((v, i) => (v == null ? v : encodeValue(this.table, this.table.columns[order[i]!.column]!, v)));
  }

  #where(where: Where<T>): (eb: AnyEB) => Expression<SqlBool> {
    if (typeof where === 'function') return where as unknown as (eb: AnyEB) => Expression<SqlBool>;
    validateValues(this.table, where as AnyRow, 'filter');
    const entries = Object.entries(where as AnyRow).filter(([, v]) => v !== undefined);
    for (const [name, value] of entries) {
      // json (unlike jsonb) has no equality operator; Postgres would refuse `=` and IN.
      if (value !== null && this.table.columns[name]!.def.type === 'json') {
        throw new FerryError(
          E_BAD_ARGUMENT,
          `${this.table.name}.${name} is json, which Postgres cannot compare for equality; filter on it with a Kysely expression (e.g. a ->> path) or make the column jsonb.`,
          { details: { table: this.table.name, column: name } },
        );
      }
    }
    return (eb) =>
      eb.and(
        entries.map(([name, value]) => {
          const column = this.table.columns[name] as Column;
          if (value === null) return eb(name, 'is', null);
          if (Array.isArray(value) && !column.def.isArray) {
            return value.length === 0
              ? sql<SqlBool>`false`
              : eb(
                  name,
                  'in',
                  value.map((v) => encodeValue(this.table, column, v)),
                );
          }
          return eb(name, '=', encodeValue(this.table, column, value));
        }),
      );
  }

  #target(target: unknown, what: string): { filter: (eb: AnyEB) => Expression<SqlBool>; byKey: boolean } {
    const isFilter =
      typeof target === 'function' || (typeof target === 'object' && target !== null && !(target instanceof Date));
    if (isFilter) {
      if (typeof target === 'object' && Object.values(target as AnyRow).every((v) => v === undefined)) {
        throw new FerryError(
          E_BAD_ARGUMENT,
          `${what} of ${this.table.name} with an empty filter would touch every row; use the Kysely query builder (db.${what === 'update' ? 'updateTable' : 'deleteFrom'}) for that.`,
        );
      }
      return { filter: this.#where(target as Where<T>), byKey: false };
    }
    const key = this.#pkFilter(target as PrimaryKeyOf<T>);
    return { filter: this.#where(key as Where<T>), byKey: true };
  }

  #requirePk(): string[] {
    if (this.#pk.length === 0) {
      throw new FerryError(E_BAD_ARGUMENT, `Table ${this.table.name} has no primary key; this operation needs one.`);
    }
    return this.#pk;
  }

  #scalarKey(pk: unknown): unknown {
    if (pk === null || pk === undefined || (typeof pk === 'object' && !(pk instanceof Date))) {
      throw new FerryError(
        E_BAD_ARGUMENT,
        `${this.table.name} key must be a ${this.#pk[0]} value, got ${pk === null ? 'null' : typeof pk}.`,
      );
    }
    validateValue(this.table, this.table.columns[this.#pk[0]!]!, pk, 'filter');
    return pk;
  }

  #pkFilter(pk: unknown): AnyRow {
    const keys = this.#requirePk();
    if (keys.length === 1) return { [keys[0]!]: this.#scalarKey(pk) };
    if (typeof pk !== 'object' || pk === null) {
      throw new FerryError(E_BAD_ARGUMENT, `${this.table.name} has a composite key; pass { ${keys.join(', ')} }.`);
    }
    const obj = pk as AnyRow;
    const missing = keys.filter((k) => obj[k] === undefined || obj[k] === null);
    if (missing.length > 0) {
      throw new FerryError(E_BAD_ARGUMENT, `${this.table.name} key is missing ${missing.join(', ')}.`);
    }
    // One value per key column: getMany compares them with `=`, where a list would not compile.
    for (const k of keys) validateValue(this.table, this.table.columns[k]!, obj[k], 'compare', ' (in a key)');
    return Object.fromEntries(keys.map((k) => [k, obj[k]]));
  }

  #keyString(row: AnyRow): string {
    return JSON.stringify(this.#pk.map((k) => keyPart(row[k])));
  }

  #writable(name: string): boolean {
    const def = this.table.columns[name]?.def;
    return !!def && def.identity !== 'always' && def.generated === null;
  }

  #prepareRows(rows: readonly AnyRow[], mode: 'insert' | 'update'): AnyRow[] {
    return rows.map((row, i) => {
      validateValues(this.table, row, mode, rows.length > 1 ? ` (row ${i})` : '');
      const out: AnyRow = {};
      for (const [name, value] of Object.entries(row)) {
        if (value !== undefined) out[name] = encodeValue(this.table, this.table.columns[name] as Column, value);
      }
      return out;
    });
  }

  /**
   * Run one statement: driver errors become FerryErrors naming the table, and
   * with an observer set (ferry/ops metrics) the call is timed and reported
   * as `operation` on this table. Unobserved it is the plain try/catch: one
   * property read more, which keeps `get` within noise of raw `pg`.
   */
  async #run<R>(operation: string, fn: () => Promise<R>): Promise<R> {
    const observer = this.#observers?.current;
    if (observer?.onQuery === undefined) {
      try {
        return await fn();
      } catch (err) {
        throw translateDbError(err, this.table);
      }
    }
    const start = performance.now();
    try {
      const result = await fn();
      observer.onQuery({ operation, table: this.table.name, ms: performance.now() - start });
      return result;
    } catch (err) {
      const error = translateDbError(err, this.table);
      observer.onQuery({ operation, table: this.table.name, ms: performance.now() - start, error });
      throw error;
    }
  }
}

function keyPart(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  return value;
}

function* chunks(rows: AnyRow[], maxParams: number): Generator<AnyRow[]> {
  if (rows.length === 0) return;
  const width = Math.max(1, new Set(rows.flatMap((r) => Object.keys(r))).size);
  const size = Math.max(1, Math.floor(maxParams / width));
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

export type { ColumnName };
