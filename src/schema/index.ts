export * from './column.js';
export { createIndex, createStatements, renderCreateSql } from './ddl.js';
export { isPgEnum, type PgEnum, pgEnum } from './enum.js';
export { type Extension, type ExtensionOptions, extension, isExtension } from './extension.js';
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
