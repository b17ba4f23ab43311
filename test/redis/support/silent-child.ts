/**
 * Child of silent.test.ts: uses a cache, a rate limiter and a session store
 * on a healthy Redis with no logger, then exits. It must print nothing.
 *   node --import tsx silent-child.ts <redisUrl> <prefix>
 */
import { createCache } from '../../../src/cache/index.js';
import { createRateLimiter } from '../../../src/rate-limit/index.js';
import { createSessionStore } from '../../../src/sessions/index.js';

const [url, prefix] = process.argv.slice(2) as [string, string];
const cache = createCache({ namespace: `${prefix}:cache`, redis: url });
const limiter = createRateLimiter({ redis: url, points: 5, duration: '1s', keyPrefix: `${prefix}:rate` });
const sessions = createSessionStore({ redis: url, ttl: '1m', prefix: `${prefix}:sess` });
if (!(await cache.ready())) throw new Error('Redis not reachable');
await cache.set('a', { n: 1 });
await cache.get('a');
await cache.getOrSet('b', () => 2);
await cache.delete('a');
await cache.clear();
for (let i = 0; i < 7; i++) await limiter.consume({ user: 'u', ip: '::1' });
await limiter.reset({ user: 'u', ip: '::1' });
const s = await sessions.create('u1', { role: 'x' });
await sessions.touch(s.id);
await sessions.revoke(s.id);
await Promise.all([cache.close(), limiter.close(), sessions.close()]);
