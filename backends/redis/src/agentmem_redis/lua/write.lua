-- put / import one record.
-- KEYS[1] record key
-- ARGV: 1 base, 2 coll, 3 id, 4 now_us, 5 mode ("put" | "import"),
--       6 put: guessed current version / import: the given version,
--       7 guessed created_us, 8 blob, 9 meta (msgpack), 10 cleanup budget,
--       11 kind, 12 namespace, 13 origin, 14 at_iso, 15 retention, 16 channel
-- Returns {1, version} when written, {0, current_version, current_created_us} when not.
local key, id, now = KEYS[1], ARGV[3], tonumber(ARGV[4])
local mode, given, guess_c = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
cleanup(now, tonumber(ARGV[10]))
local cur_v, cur_c, cur_m = live(id, key, now)
if mode == 'put' then
  if cur_v ~= given or (cur_v > 0 and cur_c ~= guess_c) then return {0, cur_v, cur_c} end
elseif cur_v >= given then
  return {0, cur_v, cur_c}
end
if cur_m then remove_doc(id, cur_m) end

local packed = ARGV[9]
local m = unpack_meta(id, packed)
local version, expires, dl = m[1], m[4], m[5]
redis.call('SET', key, ARGV[8])
if expires then
  -- expires_at is on the writer's clock; translate it to the server's clock.
  local t = redis.call('TIME')
  local server_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('PEXPIREAT', key, num(math.ceil(server_ms + (expires - now) / 1000)))
  redis.call('ZADD', EXP, num(expires), id)
end
redis.call('HSET', META, id, packed)
redis.call('HSET', DL, id, dl)
redis.call('ZADD', IDS, 0, id)
redis.call('HINCRBY', STATS, 'n', 1)
redis.call('HINCRBY', STATS, 'len', dl)
redis.call('HSETNX', STATS, 'aref', math.max(dl, 8))
local aref = tonumber(redis.call('HGET', STATS, 'aref'))
local c, er = K1 * (1 - BB), K1 * BB / aref
local terms = m[7]
for i = 1, #terms, 2 do
  local tf = terms[i + 1]
  redis.call('ZADD', tkey(terms[i]), num(tf / (tf + c + er * dl)), id)
end
for _, tag in ipairs(m[6]) do redis.call('SADD', gkey(tag), id) end
emit('put', ARGV[11], ARGV[12], id, version, ARGV[13], ARGV[4], ARGV[14], ARGV[15], ARGV[16])
return {1, version}
