/**
 * The Lua scripts of the Redis session backend: each one checks and changes
 * one user's keys atomically (see redis-backend.ts for the key layout).
 * Every write only changes a session that exists, is unexpired and belongs to
 * the user's current generation; only create makes a session, never under a
 * revoked id (tombstone).
 */

const LUA_LIB = `
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function curgen(k) return tonumber(redis.call('GET', k) or '0') end
local function n2s(x) return string.format('%d', x) end
local function nowus()
  local t = redis.call('TIME')
  return t[1] .. string.format('%06d', tonumber(t[2]))
end
local function index_add(idx, jti, e, now, ttl)
  redis.call('ZADD', idx, e, jti)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
  if redis.call('PTTL', idx) < ttl then redis.call('PEXPIRE', idx, ttl) end
end
-- The session's fields when it is live; deletes an expired or old-generation one.
local function load(skey, g, now)
  local h = redis.call('HMGET', skey, 'd', 'c', 'a', 'e', 'g', 'v', 'p', 'o')
  if not h[1] then return nil, false end
  if tonumber(h[4]) <= now or tonumber(h[5]) ~= g then
    redis.call('DEL', skey)
    return nil, true
  end
  return h, false
end
`;

// KEYS: sess, tomb, gen, index. ARGV: data, ttlMs, jti, expectGen|''
const LUA_CREATE = `${LUA_LIB}
local now = nowms()
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return {'taken'} end
local g = curgen(KEYS[3])
if ARGV[4] ~= '' and tonumber(ARGV[4]) ~= g then return {'revoked'} end
local ttl = tonumber(ARGV[2])
local e = now + ttl
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'c', n2s(now), 'a', n2s(now), 'e', n2s(e), 'g', n2s(g), 'v', '1', 'p', n2s(now), 'o', nowus())
redis.call('PEXPIRE', KEYS[1], ttl)
index_add(KEYS[4], ARGV[3], e, now, ttl)
return {'ok', ARGV[1], n2s(now), n2s(now), n2s(e), '1'}
`;

// KEYS: sess, tomb, gen
const LUA_READ = `${LUA_LIB}
local now = nowms()
local g = curgen(KEYS[3])
local h, dead = load(KEYS[1], g, now)
if h then return {'hit', n2s(g), h[1], h[2], h[3], h[4], h[6]} end
if dead or redis.call('EXISTS', KEYS[2]) == 1 then return {'gone', n2s(g)} end
return {'miss', n2s(g)}
`;

// KEYS: sess, tomb, gen, index. ARGV: ttlMs, jti, persistEveryMs
const LUA_TOUCH = `${LUA_LIB}
local now = nowms()
local g = curgen(KEYS[3])
local h, dead = load(KEYS[1], g, now)
if not h then
  if dead or redis.call('EXISTS', KEYS[2]) == 1 then return {'gone'} end
  return {'miss'}
end
local ttl = tonumber(ARGV[1])
local e = now + ttl
local due = '0'
if now - tonumber(h[7] or '0') >= tonumber(ARGV[3]) then
  due = '1'
  redis.call('HSET', KEYS[1], 'p', n2s(now))
end
redis.call('HSET', KEYS[1], 'a', n2s(now), 'e', n2s(e))
redis.call('PEXPIRE', KEYS[1], ttl)
index_add(KEYS[4], ARGV[2], e, now, ttl)
return {'hit', h[1], h[2], n2s(now), n2s(e), h[6], due}
`;

// KEYS: sess, tomb, gen. ARGV: data, expectVersion|''
const LUA_WRITE = `${LUA_LIB}
local now = nowms()
local h, dead = load(KEYS[1], curgen(KEYS[3]), now)
if not h then
  if dead or redis.call('EXISTS', KEYS[2]) == 1 then return {'gone'} end
  return {'miss'}
end
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= tonumber(h[6]) then return {'conflict'} end
local v = tonumber(h[6]) + 1
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', n2s(v))
return {'hit', ARGV[1], h[2], h[3], h[4], n2s(v)}
`;

// KEYS: sess, tomb, index. ARGV: tombstoneMs, jti
const LUA_REVOKE = `
local existed = redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[2])
return existed
`;

// KEYS: gen, index. ARGV: the user's key prefix ('sess:{u}:')
const LUA_REVOKE_ALL = `
redis.call('INCR', KEYS[1])
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
local n = 0
for _, j in ipairs(ids) do n = n + redis.call('DEL', ARGV[1] .. j) end
redis.call('DEL', KEYS[2])
return n
`;

// KEYS: index, gen. ARGV: the user's key prefix
const LUA_LIST = `${LUA_LIB}
local now = nowms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local g = curgen(KEYS[2])
local out = {}
for _, j in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local h = load(ARGV[1] .. j, g, now)
  if h then
    table.insert(out, j)
    table.insert(out, h[1]); table.insert(out, h[2]); table.insert(out, h[3]); table.insert(out, h[4]); table.insert(out, h[6]); table.insert(out, h[8] or '')
  else
    redis.call('ZREM', KEYS[1], j)
  end
end
return out
`;

// KEYS: sess, tomb, gen, index. ARGV: data, c, a, e, expectGen, jti, v
const LUA_FILL = `${LUA_LIB}
local now = nowms()
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local g = curgen(KEYS[3])
if g ~= tonumber(ARGV[5]) then return 0 end
local e = tonumber(ARGV[4])
if e <= now then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'c', ARGV[2], 'a', ARGV[3], 'e', ARGV[4], 'g', n2s(g), 'v', ARGV[7], 'p', ARGV[3], 'o', ARGV[2] .. '000')
redis.call('PEXPIREAT', KEYS[1], e)
index_add(KEYS[4], ARGV[6], e, now, e - now)
return 1
`;

/** Script name -> [number of keys, source], as ioredis's defineCommand takes them. */
export const SCRIPTS = {
  ferrySessCreate: [4, LUA_CREATE],
  ferrySessRead: [3, LUA_READ],
  ferrySessTouch: [4, LUA_TOUCH],
  ferrySessWrite: [3, LUA_WRITE],
  ferrySessRevoke: [3, LUA_REVOKE],
  ferrySessRevokeAll: [2, LUA_REVOKE_ALL],
  ferrySessList: [2, LUA_LIST],
  ferrySessFill: [4, LUA_FILL],
} as const;
