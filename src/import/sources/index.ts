/** The legacy-import sources: each factory returns a `Source` (see ../source.ts). */
import { collections } from './json-collections.js';
import { files } from './json-files.js';

export { type CsvOptions, type CsvRow, csv } from './csv.js';
export { E_SOURCE_MALFORMED, E_SOURCE_NOT_FOUND, E_SOURCE_OPTIONS, E_SOURCE_READ } from './errors.js';
export type { JsonCollectionsOptions } from './json-collections.js';
export type { JsonFilesOptions } from './json-files.js';
export { type MemoryOptions, type MemoryRecord, memory } from './memory.js';
export { ndjson } from './ndjson.js';
export { type RedisRecord, type RedisSourceOptions, type RedisValueType, redis } from './redis.js';
export { type SqliteOptions, sqlite } from './sqlite.js';
export { type TinyDbOptions, tinydb } from './tinydb.js';

/** `json.files(glob)`: one document per file; `json.collections(file)`: a lowdb file, one record per array element. */
export const json = Object.freeze({ files, collections });
