/**
 * The two stores of the `comps-searches` cutover, for `ferry cutover verify`:
 *
 *   DATABASE_URL=postgres://… REDIS_URL=redis://127.0.0.1:6379 \
 *     npx ferry cutover verify comps-searches --file examples/comps/verify-stores.ts
 *
 * The old app's Redis keys (prefix COMPS_LEGACY_PREFIX, default `kuya`) and
 * the service's tables, compared with the cutover's own comparator (the
 * listings' live counters ignored, see cutover.ts). Nothing is written.
 * With `COMPS_LEGACY_FILE=<path>` the old results are that JSON file's
 * (`jsonSearchStore`) instead of Redis keys.
 */
import { connect } from '../../src/index.js';
import { createRedisClient } from '../../src/redis/connection.js';
import { COMPS_CUTOVER, searchResultComparator } from './cutover.js';
import { compsSchema, jsonSearchStore, postgresSearchStore, redisSearchStore, type SearchResult } from './store.js';

export default async ({ url }: { url?: string }) => {
  const ferry = await connect({ schema: compsSchema, url });
  const file = process.env.COMPS_LEGACY_FILE?.trim();
  if (file) {
    return {
      name: COMPS_CUTOVER,
      old: jsonSearchStore(file),
      new: postgresSearchStore(ferry),
      compare: searchResultComparator as (a: SearchResult, b: SearchResult) => string[],
      close: () => ferry.close(),
    };
  }
  const redis = createRedisClient(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    mode: 'queue',
    what: 'comps cutover verify',
  });
  return {
    name: COMPS_CUTOVER,
    old: redisSearchStore(redis, { prefix: process.env.COMPS_LEGACY_PREFIX ?? 'kuya' }),
    new: postgresSearchStore(ferry),
    compare: searchResultComparator as (a: SearchResult, b: SearchResult) => string[],
    close: async () => {
      redis.disconnect();
      await ferry.close();
    },
  };
};
