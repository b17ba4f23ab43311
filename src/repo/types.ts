import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { Column, ColumnConfig } from '../schema/column.js';
import type { KyselyTable } from '../schema/infer.js';
import type { Table } from '../schema/table.js';

type ConfigOf<C> = C extends Column<infer Cfg> ? Cfg : never;

export type ColumnName<T extends Table> = keyof T['columns'] & string;
export type RowOf<T extends Table> = T['$inferSelect'];
export type InsertOf<T extends Table> = T['$inferInsert'];
export type PatchOf<T extends Table> = T['$inferUpdate'];

/** The Kysely database type containing just this table. */
export type TableDB<T extends Table> = { [K in T['name']]: KyselyTable<T['columns']> };

type PkColumns<T extends Table> = {
  [K in ColumnName<T>]: ConfigOf<T['columns'][K]>['primaryKey'] extends true ? K : never;
}[ColumnName<T>];

/**
 * A primary-key value: the scalar for a `.primaryKey()` column, or an object
 * of the key columns for a composite key declared with `primaryKey(a, b)`.
 */
export type PrimaryKeyOf<T extends Table> = [PkColumns<T>] extends [never]
  ? Partial<RowOf<T>>
  : NonNullable<RowOf<T>[PkColumns<T>]>;

type FilterValue<Cfg extends ColumnConfig> = Cfg['input'] | readonly Cfg['input'][] | null;

/**
 * Equality filters (`{ is_active: true }`), `IN` lists (`{ id: [1, 2] }`) and
 * `IS NULL` (`{ deleted_at: null }`), or any Kysely expression for the rest.
 */
export type Where<T extends Table> =
  | { [K in ColumnName<T>]?: FilterValue<ConfigOf<T['columns'][K]>> }
  | ((eb: ExpressionBuilder<TableDB<T>, T['name']>) => Expression<SqlBool>);

export type Direction = 'asc' | 'desc';

/** `{ created_at: 'desc' }` or `[['created_at', 'desc'], 'id']`. The primary key is always appended as tie-breaker. */
export type OrderBy<T extends Table> =
  | { [K in ColumnName<T>]?: Direction }
  | ReadonlyArray<ColumnName<T> | readonly [ColumnName<T>, Direction]>;

export interface FindManyOptions<T extends Table> {
  where?: Where<T>;
  orderBy?: OrderBy<T>;
  limit?: number;
  /**
   * Keyset pagination: the last row of the previous page (any object with
   * the order-by and key columns) or a cursor string from `page()`.
   */
  after?: Partial<RowOf<T>> | string;
}

export interface Page<T extends Table> {
  rows: RowOf<T>[];
  /** Pass as `after` for the next page; null when this was the last page. */
  nextCursor: string | null;
}

export interface UpsertOptions<T extends Table> {
  /** Columns of the unique constraint to conflict on. Default: the primary key. */
  conflict?: readonly ColumnName<T>[];
  /**
   * Columns to overwrite on conflict. Default: every written column outside
   * the conflict key. `[]` keeps the existing row (DO NOTHING; such rows are
   * not returned).
   */
  update?: readonly ColumnName<T>[];
}
