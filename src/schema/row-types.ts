/**
 * Row types of a set of columns: what a select returns, what an insert and an
 * update accept, and the Kysely column types. They need only the columns, so
 * table.ts can type `$inferSelect` from here without a circle (schema-level
 * types that need `Table` live in infer.ts).
 */
import type { ColumnType } from 'kysely';
import type { Column, ColumnConfig } from './column.js';

/** The columns of a table. */
export type AnyColumns = Record<string, Column<any>>;

export type Simplify<T> = { [K in keyof T]: T[K] } & {};

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
