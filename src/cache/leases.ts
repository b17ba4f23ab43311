/**
 * The Lua scripts of the cache's L2: a read that takes a lease on a miss, a
 * fill that succeeds only under the lease taken before loading, and writes
 * that revoke leases and publish the invalidated keys.
 *
 * Key layout for namespace `ns` and user key `k`:
 *
 *   ns~v:k   the value: `<expiresAt>|<graceUntil>|<json>` (wall-clock ms), PX = until graceUntil
 *   ns~l:k   the lease: a token from ns~seq, PX = leaseTtl; deleted by every write of k
 *   ns~seq   a counter that issues lease tokens (never expires, never flushed: tokens are never reused)
 *   ns~bus   the pub/sub channel
 *
 * Namespaces cannot contain `~`, so no key of namespace `a` is a key of
 * namespace `a:b` (`clear()` of one never touches the other).
 *
 * On a Redis Cluster the namespace is a hash tag: `{ns}~v:k`, `{ns}~l:k`,
 * `{ns}~seq`, and the channel `<keyPrefix>{ns}~bus` is a sharded one
 * (SPUBLISH/SSUBSCRIBE, see shard-subscriber.ts). Every script touches keys
 * of one namespace, so all of them hash to one slot (checked at startup,
 * `checkScriptSlots`); the price is that one namespace lives on one shard.
 * (Namespaces cannot contain braces, so the tag is always the namespace.)
 */
import { createHash } from 'node:crypto';

export class Script {
  readonly sha: string;
  constructor(readonly src: string) {
    this.sha = createHash('sha1').update(src).digest('hex');
  }
}

/**
 * Read for a miss. KEYS: value, lease, seq. ARGV: leaseTtlMs, force.
 * A fresh value comes back as {1, value}. Otherwise a lease is taken (or the
 * current one shared): {0, token}, or {2, value, token} when `force` asks for
 * a lease despite a value (the client found it logically expired).
 */
export const READ = new Script(`
local v = redis.call('GET', KEYS[1])
if v and ARGV[2] ~= '1' then return {1, v} end
local t = redis.call('GET', KEYS[2])
if not t then
  t = tostring(redis.call('INCR', KEYS[3]))
  redis.call('SET', KEYS[2], t, 'PX', ARGV[1])
end
if v then return {2, v, t} end
return {0, t}
`);

/**
 * Fill after a miss, only while the lease taken before loading is still the
 * current one: any write of the key since (delete, set, flush) removed the
 * lease, and leases expire after leaseTtl, so a loader that read the
 * database before a commit cannot store what it read after the commit's
 * invalidation. KEYS: value, lease. ARGV: token, payload, pxMs.
 */
export const FILL = new Script(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`);

/** Delete values and leases of keys, then publish the keys. KEYS: v1, l1, v2, l2... ARGV: channel, message. */
export const DELETE = new Script(`
redis.call('DEL', unpack(KEYS))
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return 1
`);

/** Write a value, revoke outstanding leases, publish. KEYS: value, lease. ARGV: payload, pxMs, channel, message. */
export const SET = new Script(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1
`);

/**
 * The variant of a script for a Redis Cluster: sharded pub/sub, whose
 * messages reach the subscribers of the channel's shard (its master), so a
 * heartbeat answered by that master proves delivery as on a single Redis
 * (classic PUBLISH is relayed between nodes asynchronously, and proves nothing).
 */
export function sharded(script: Script): Script {
  return new Script(script.src.replaceAll("'PUBLISH'", "'SPUBLISH'"));
}

/** Publish only (a cleared namespace). KEYS: any key of the namespace (routes to its shard). ARGV: channel, message. */
export const PUBLISH = new Script(`
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
`);

export type ReadResult = { kind: 'hit'; raw: string } | { kind: 'miss'; lease: string; raw?: string };
