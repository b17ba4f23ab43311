export type { DistributedByOptions } from './citus.js';
export * from './column.js';
export { createIndex, createStatements, renderCreateSql } from './ddl.js';
export { isPgEnum, type PgEnum, pgEnum } from './enum.js';
export { type Extension, type ExtensionOptions, extension, isExtension } from './extension.js';
export { type Fn, type FunctionArg, type FunctionOptions, fn, isFn } from './function.js';
export { quoteIdent } from './identifiers.js';
export type * from './infer.js';
export type * from './ir.js';
export {
  isPartition,
  MAXVALUE,
  MINVALUE,
  type Partition,
  type PartitionBounds,
  type PartitionValue,
  partition,
} from './partition.js';
export { isPolicy, type Policy, type PolicyOptions, policy } from './policy.js';
export { isRaw, type Raw, type RawOptions, raw } from './raw.js';
export { defineSchema, type Schema } from './schema.js';
export { isSequence, type Sequence, type SequenceOptions, sequence } from './sequence.js';
export { literal, SqlExpr, sql } from './sql.js';
export {
  asc,
  check,
  desc,
  foreignKey,
  index,
  isTable,
  primaryKey,
  type Table,
  table,
  unique,
  uniqueIndex,
} from './table.js';
export { timestamps } from './timestamps.js';
export {
  isTrigger,
  type Trigger,
  type TriggerOptions,
  type TsvectorTriggerOptions,
  trigger,
  tsvectorTrigger,
} from './trigger.js';
export {
  type CompilableQuery,
  isView,
  refreshMaterializedView,
  type View,
  type ViewOptions,
  type ViewQuery,
  view,
} from './view.js';
