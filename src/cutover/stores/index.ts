/** The stores a live cutover moves between (see ../store.ts for the interface they implement). */
export { type JsonFileLayout, type JsonFileStoreOptions, jsonFileStore } from './json-file.js';
export { type JsonFolderStoreOptions, jsonFolderStore } from './json-folder.js';
export { memoryStore } from './memory.js';
export { type ObjectStoreTarget, objectStore } from './object.js';
export { type RedisStoreOptions, redisStore } from './redis.js';
export { type RepositoryStoreOptions, repositoryStore } from './repository.js';
