/** `ferry/import`: define an import, its sources, run it and verify it. */
export { casefold, parseLegacyTimestamp, stableUuid, unusablePassword } from './context.js';
export {
  type DefinedImport,
  defineImport,
  type ImportDefinition,
  type InsertsOf,
  isDefinedImport,
  type MapContext,
  type MappedRows,
  type OnConflict,
  type TableImportOptions,
} from './define.js';
export * from './errors.js';
export { type ImportOptions, type ImportProgress, type ImportReport, runImport } from './loader.js';
export type { Source, SourceLocation, SourceOptions, SourceRecord } from './source.js';
export * from './sources/index.js';
export type { RunStats, TableStats } from './state.js';
export { type TableVerification, type VerifyOptions, type VerifyReport, verifyImport } from './verify.js';
