import type { KyselyTable, Simplify } from './row-types.js';
import type { Table } from './table.js';

export type {
  InferInsert,
  InferSelect,
  InferUpdate,
  InputValue,
  KyselyColumn,
  KyselyTable,
  SelectValue,
} from './row-types.js';

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
