/**
 * Child process of the rate-limit tests: consume `count` points on one key
 * (concurrently) and print how many were allowed, as JSON on stdout.
 *   node --import tsx child.ts <redisUrl> <keyPrefix> <points> <durationSeconds> <key> <count>
 */
import { Cluster, Redis } from 'ioredis';
import { createRateLimiter } from '../../../src/rate-limit/index.js';
import { isClusterUrl, parseClusterUrl } from '../../../src/redis/cluster.js';

const [url, keyPrefix, points, duration, key, count] = process.argv.slice(2);
// The child's own client (the "ioredis client" form: a Cluster for a redis+cluster:// URL), connected before it reports ready.
const client = isClusterUrl(url!) ? new Cluster(parseClusterUrl(url!).nodes) : new Redis(url!);
await client.ping();
const limiter = createRateLimiter({
  redis: client,
  keyPrefix,
  points: Number(points),
  duration: `${Number(duration)}s` as const,
});
// Start when told on stdin, so both children race.
process.stdin.once('data', async () => {
  const results = await Promise.all(Array.from({ length: Number(count) }, () => limiter.consume(key!)));
  const allowed = results.filter((r) => r.allowed).length;
  await limiter.close();
  await client.quit();
  process.stdout.write(JSON.stringify({ allowed, denied: results.length - allowed }) + '\n');
  process.exit(0);
});
process.stdout.write('ready\n');
