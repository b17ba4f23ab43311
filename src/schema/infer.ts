import type { ColumnType } from 'kysely';
import type { Column, ColumnConfig } from './column.js';
import type { AnyColumns, Table } from './table.js';

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type ConfigOf<C> = C extends Column<infer Cfg> ? Cfg : never;

/** The value read from a column. */
export type SelectValue<Cfg extends ColumnConfig> = Cfg['notNull'] extends true ? Cfg['data'] : Cfg['data'] | null;
/** The value accepted on write. */
export type InputValue<Cfg extends ColumnConfig> = Cfg['notNull'] extends true ? Cfg['input'] : Cfg['input'] | null;

type GeneratedKeys<C extends AnyColumns> = {
  [K in keyof C]: ConfigOf<C[K]>['generated'] extends true ? K : never;
}[keyof C];
/** Insert may omit a column that is nullable or has a default. */
type OptionalInsertKeys<C extends AnyColumns> = {
  [K in keyof C]: ConfigOf<C[K]>['generated'] extends true
    ? never
    : ConfigOf<C[K]>['hasDefault'] extends true
      ? K
      : ConfigOf<C[K]>['notNull'] extends true
        ? never
        : K;
}[keyof C];
type RequiredInsertKeys<C extends AnyColumns> = Exclude<keyof C, OptionalInsertKeys<C> | GeneratedKeys<C>>;

export type InferSelect<C extends AnyColumns> = Simplify<{ [K in keyof C]: SelectValue<ConfigOf<C[K]>> }>;

export type InferInsert<C extends AnyColumns> = Simplify<
  { [K in RequiredInsertKeys<C>]: InputValue<ConfigOf<C[K]>> } & {
    [K in OptionalInsertKeys<C>]?: InputValue<ConfigOf<C[K]>>;
  }
>;

export type InferUpdate<C extends AnyColumns> = Simplify<{
  [K in Exclude<keyof C, GeneratedKeys<C>>]?: InputValue<ConfigOf<C[K]>>;
}>;

/** One column as Kysely sees it: select, insert and update types. */
export type KyselyColumn<Cfg extends ColumnConfig> = Cfg['generated'] extends true
  ? ColumnType<SelectValue<Cfg>, never, never>
  : Cfg['hasDefault'] extends true
    ? ColumnType<SelectValue<Cfg>, InputValue<Cfg> | undefined, InputValue<Cfg>>
    : ColumnType<SelectValue<Cfg>, InputValue<Cfg>, InputValue<Cfg>>;

export type KyselyTable<C extends AnyColumns> = { [K in keyof C]: KyselyColumn<ConfigOf<C[K]>> };

/**
 * The Kysely database type of a schema module: every exported table, keyed by
 * its SQL name. `Kysely<DatabaseOf<typeof schema>>`.
 */
export type DatabaseOf<S> = Simplify<{
  [K in keyof S as S[K] extends Table<infer N, any> ? N : never]: S[K] extends Table<any, infer C>
    ? KyselyTable<C>
    : never;
}>;

/** Row types by table name, for code that prefers `Row<typeof users>`. */
export type Row<T extends Table> = T['$inferSelect'];
export type NewRow<T extends Table> = T['$inferInsert'];
export type RowPatch<T extends Table> = T['$inferUpdate'];
