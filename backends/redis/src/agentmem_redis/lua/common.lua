-- agentmem-redis: helpers shared by every script (prepended to each one).
-- ARGV[1] is the bucket base "<prefix>:{<prefix>:<bucket>}", ARGV[2] the collection
-- "<kind>:<escaped namespace>" (a batch script switches collection with use()). Every
-- key built here starts with the base, so it carries the bucket's hash tag and lives in
-- the same slot as KEYS[1].
local K1, BB = 1.2, 0.75
local BASE = ARGV[1]
local COLL, IDS, EXP, META, DL, STATS, VEC, VECV, VECM

local function esc(s)
  return (string.gsub(s, '[%%:{}%*%?%[%]\\]', function(ch)
    return string.format('%%%02X', string.byte(ch))
  end))
end

-- Lua numbers become "%.14g" strings when passed to redis.call; keep every digit.
local function num(x) return string.format('%.17g', x) end

local function ckey(part) return BASE .. ':' .. part .. ':' .. COLL end
local function use(coll)
  COLL = coll
  IDS, EXP, META, DL, STATS = ckey('ids'), ckey('exp'), ckey('meta'), ckey('dl'), ckey('stats')
  VEC, VECV, VECM = ckey('vec'), ckey('vecv'), ckey('vecm')
end
use(ARGV[2])
local function rkey(id) return BASE .. ':r:' .. COLL .. ':' .. esc(id) end
local function tkey(term) return BASE .. ':t:' .. COLL .. ':' .. esc(term) end
local function gkey(tag) return BASE .. ':g:' .. COLL .. ':' .. esc(tag) end
local STREAM = BASE .. ':changes'

-- Every change to a vec hash is numbered: VECV holds n (changes so far), t (the server
-- time of the last one), floor (changes numbered <= floor may be missing from the log),
-- and g (the server time of the first change made by this server process, run). VECM
-- logs id -> n of its last change, trimmed to the latest VECLOG_KEEP ids. A client's copy
-- of the vectors (agentmem_redis.vector_cache) fetches only the ids changed since the n it
-- saw; a new g means a server that may have come back in the past (an RDB snapshot, a
-- promoted replica), whose numbers may repeat ones the client saw: it reloads.
local VECLOG_KEEP = 8192
local RUN
local function vec_changed(id)
  if not RUN then
    RUN = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') or ''
  end
  local t = redis.call('TIME')
  local now = t[1] .. '.' .. t[2]
  if redis.call('HGET', VECV, 'run') ~= RUN then
    redis.call('HSET', VECV, 'run', RUN, 'g', now)
  end
  local n = redis.call('HINCRBY', VECV, 'n', 1)
  redis.call('HSET', VECV, 't', now)
  redis.call('ZADD', VECM, n, id)
  if n % 1024 == 0 then
    local excess = redis.call('ZCARD', VECM) - VECLOG_KEEP
    if excess > 0 then
      local cut = redis.call('ZRANGE', VECM, excess - 1, excess - 1, 'WITHSCORES')
      redis.call('ZREMRANGEBYRANK', VECM, 0, excess - 1)
      redis.call('HSET', VECV, 'floor', cut[2])
    end
  end
end
-- Redis 8 vector sets, where a client turned them on for the prefix (vector_sets=true
-- sets BASE:vson in every bucket): every vec hash entry is mirrored, in the same script,
-- into the vector set VS:<dim> of its length, so nearest() can ask the server (VSIM)
-- instead of reading the codes. Entries go in unquantized (NOQUANT): the set scores
-- exactly the codes the hash holds.
local HAS_VSETS
local function vsets()
  if HAS_VSETS == nil then
    HAS_VSETS = redis.call('EXISTS', BASE .. ':vson') == 1
  end
  return HAS_VSETS
end
local function vskey(dim) return ckey('vs') .. ':' .. dim end
local function vs_add(id, codes)
  local args = {'VADD', vskey(#codes), 'VALUES', #codes}
  for i = 1, #codes do
    local b = string.byte(codes, i)
    args[#args + 1] = (b > 127) and (b - 256) or b
  end
  args[#args + 1] = id
  args[#args + 1] = 'NOQUANT'
  redis.call(unpack(args))
end

local function vec_set(id, codes)
  if vsets() then
    local before = redis.call('HGET', VEC, id)
    if before and #before ~= #codes then redis.call('VREM', vskey(#before), id) end
    vs_add(id, codes)
  end
  redis.call('HSET', VEC, id, codes)
  vec_changed(id)
end
local function vec_del(id)
  if vsets() then
    local before = redis.call('HGET', VEC, id)
    if not before then return end
    redis.call('VREM', vskey(#before), id)
  end
  if redis.call('HDEL', VEC, id) == 1 then vec_changed(id) end
end

-- A record's bytes for reads of many records. A key of the wrong type (someone else's
-- data under our key) answers '' instead of failing the whole script: the client cannot
-- decode it, so it skips and reports that one record (agentmem.corruption).
local function get_blob(id)
  local blob = redis.pcall('GET', rkey(id))
  if type(blob) == 'table' and blob.err then return '' end
  return blob
end

-- meta = msgpack [version, created_us, updated_us, expires_us (false = never), doc_len,
--                 [tags...], [term, tf, term, tf, ...]]
local function unpack_meta(id, packed)
  local ok, m = pcall(cmsgpack.unpack, packed)
  if not ok or type(m) ~= 'table' or type(m[1]) ~= 'number' or type(m[3]) ~= 'number' or type(m[5]) ~= 'number'
      or type(m[6]) ~= 'table' or type(m[7]) ~= 'table' then
    error({err = 'CORRUPT index metadata of id ' .. id .. ' in ' .. META})
  end
  return m
end

-- `keep` (optional): terms whose posting is about to be written again unchanged.
local function remove_doc(id, m, keep)
  local terms = m[7]
  for i = 1, #terms, 2 do
    if not (keep and keep[terms[i]]) then redis.call('ZREM', tkey(terms[i]), id) end
  end
  for _, tag in ipairs(m[6]) do redis.call('SREM', gkey(tag), id) end
  redis.call('HDEL', META, id)
  redis.call('HDEL', DL, id)
  vec_del(id)
  redis.call('ZREM', IDS, id)
  redis.call('ZREM', EXP, id)
  local n = redis.call('HINCRBY', STATS, 'n', -1)
  redis.call('HINCRBY', STATS, 'len', 0 - m[5])
  if n <= 0 and not keep then redis.call('DEL', STATS) end
end

-- Drop up to `max` records whose expiry (by the caller's clock) has passed, with all
-- their index entries: expiry emits no change.
local function cleanup(now, max)
  local expired = redis.call('ZRANGEBYSCORE', EXP, '-inf', num(now), 'LIMIT', 0, max)
  for _, id in ipairs(expired) do
    local packed = redis.call('HGET', META, id)
    if packed then
      remove_doc(id, unpack_meta(id, packed))
    else
      redis.call('ZREM', EXP, id)
      redis.call('ZREM', IDS, id)
      vec_del(id)
    end
    redis.call('DEL', rkey(id))
  end
  return #expired
end

-- The live version and created time of `id` (0, 0 when absent or expired); an expired
-- or orphaned entry is removed on the way.
local function live(id, key, now)
  local packed = redis.call('HGET', META, id)
  if not packed then return 0, 0, nil end
  local m = unpack_meta(id, packed)
  if (m[4] and m[4] <= now) or redis.call('EXISTS', key) == 0 then
    remove_doc(id, m)
    redis.call('DEL', key)
    return 0, 0, nil
  end
  return m[1], m[2], m
end

local function emit(op, kind, ns, id, version, origin, at_us, at_iso, retention, channel, seq)
  local cursor = redis.call('XADD', STREAM, 'MAXLEN', '~', retention, '*',
    'op', op, 'k', kind, 'n', ns, 'i', id, 'v', version, 'o', origin, 'at', at_us, 'q', seq)
  if channel ~= '' then
    redis.call('PUBLISH', channel, cjson.encode({
      op = op, kind = kind, namespace = ns, id = id, version = version,
      origin = origin, at = at_iso, cursor = cursor}))
  end
  return cursor
end
