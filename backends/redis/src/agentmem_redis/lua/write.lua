-- put or import a batch of records that all live in this bucket, in order; or write the
-- result of one increment ("incr": a put that also checks and notes its op id).
-- KEYS: the record key of each item.
-- ARGV: 1 base, 2 "" (collections come per item), 3 now_us, 4 mode ("put" | "import"),
--       5 cleanup budget, 6 origin, 7 at_iso, 8 retention, 9 channel,
--       then 9 values per item: collection, id, kind, namespace,
--       put: guessed current version / import: the given version,
--       guessed created_us, blob, meta (msgpack), change sequence number, embedding
--       codes ('' = none: the record's entry in the vec hash is removed).
-- put: every guess is checked first; if any is wrong nothing is written and the reply
-- is {0, item, version, created_us, ...} for the wrong ones; else {1, v1, v2, ...}.
-- import: {1, w1, w2, ...} with w = 1 for written, 0 for skipped (stored >= given).
-- incr: like put for its one item, which carries an 11th value: its op id ('' for none),
-- then the op-memory size and its TTL in ms; {2} when the op id was already applied to
-- the live record (nothing is written).
local now, mode, budget = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local origin, at_iso, retention, channel = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local FIRST, WIDTH = 10, 10
local op_id, op_memory, op_ttl
if mode == 'incr' then
  WIDTH = 11
  op_id, op_memory, op_ttl = ARGV[FIRST + 10], tonumber(ARGV[FIRST + 11]), ARGV[FIRST + 12]
end
local count = (mode == 'incr') and 1 or (#ARGV - FIRST + 1) / WIDTH
-- Applied op ids of the incremented record: a sorted set (score: time) in its bucket.
local function okey(id) return BASE .. ':o:' .. COLL .. ':' .. esc(id) end

local cleaned = {}
for i = 1, count do
  local coll = ARGV[FIRST + (i - 1) * WIDTH]
  if not cleaned[coll] then
    use(coll)
    cleanup(now, budget)
    cleaned[coll] = true
  end
end

if mode == 'incr' and op_id ~= '' then
  use(ARGV[FIRST])
  local v = live(ARGV[FIRST + 1], KEYS[1], now)
  if v > 0 and redis.call('ZSCORE', okey(ARGV[FIRST + 1]), op_id) then return {2} end
end

-- Decide every item against the state the batch itself has produced so far.
local state, write, wrong = {}, {}, {}
for i = 1, count do
  local a = FIRST + (i - 1) * WIDTH
  local coll, id = ARGV[a], ARGV[a + 1]
  local given, guess_c = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  use(coll)
  local k = coll .. '\0' .. id
  if not state[k] then
    local v, c = live(id, KEYS[i], now)
    state[k] = {v, c}
  end
  local cur = state[k]
  if mode ~= 'import' then
    if cur[1] ~= given or (cur[1] > 0 and cur[2] ~= guess_c) then
      wrong[#wrong + 1] = i
      wrong[#wrong + 1] = cur[1]
      wrong[#wrong + 1] = cur[2]
    end
    state[k] = {given + 1, guess_c}
    write[i] = true
  elseif cur[1] < given then
    state[k] = {given, guess_c}
    write[i] = true
  else
    write[i] = false
  end
end
if #wrong > 0 then
  table.insert(wrong, 1, 0)
  return wrong
end

local out = {1}
for i = 1, count do
  local a = FIRST + (i - 1) * WIDTH
  local coll, id = ARGV[a], ARGV[a + 1]
  if not write[i] then
    out[#out + 1] = 0
  else
    use(coll)
    local key = KEYS[i]
    local packed = ARGV[a + 7]
    local m = unpack_meta(id, packed)
    local version, expires, dl = m[1], m[4], m[5]
    local terms = m[7]
    -- An update that leaves a term's tf and the length alone leaves its posting alone.
    local keep = {}
    local old = redis.call('HGET', META, id)
    if old then
      local om = unpack_meta(id, old)
      if om[5] == dl then
        local before = {}
        for j = 1, #om[7], 2 do before[om[7][j]] = om[7][j + 1] end
        for j = 1, #terms, 2 do
          if before[terms[j]] == terms[j + 1] then keep[terms[j]] = true end
        end
      end
      remove_doc(id, om, keep)
    end
    redis.call('SET', key, ARGV[a + 6])
    if expires then
      -- expires_at is on the writer's clock; translate it to the server's clock.
      local t = redis.call('TIME')
      local server_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      redis.call('PEXPIREAT', key, num(math.ceil(server_ms + (expires - now) / 1000)))
      redis.call('ZADD', EXP, num(expires), id)
    end
    redis.call('HSET', META, id, packed)
    redis.call('HSET', DL, id, dl)
    if ARGV[a + 9] ~= '' then vec_set(id, ARGV[a + 9]) end
    redis.call('ZADD', IDS, 0, id)
    redis.call('HINCRBY', STATS, 'n', 1)
    redis.call('HINCRBY', STATS, 'len', dl)
    -- aref: a reference length fixed for the collection's life in this bucket. Twice the
    -- first record's length: over-estimating the average loosens the search bound far
    -- less than under-estimating it (see search.lua).
    redis.call('HSETNX', STATS, 'aref', math.max(2 * dl, 16))
    local aref = tonumber(redis.call('HGET', STATS, 'aref'))
    local c, er = K1 * (1 - BB), K1 * BB / aref
    for j = 1, #terms, 2 do
      if not keep[terms[j]] then
        local tf = terms[j + 1]
        redis.call('ZADD', tkey(terms[j]), num(tf / (tf + c + er * dl)), id)
      end
    end
    for _, tag in ipairs(m[6]) do redis.call('SADD', gkey(tag), id) end
    emit('put', ARGV[a + 2], ARGV[a + 3], id, version, origin, ARGV[3], at_iso, retention,
         channel, ARGV[a + 8])
    out[#out + 1] = (mode == 'import') and 1 or version
    if mode == 'incr' and op_id ~= '' then
      local ok = okey(id)
      redis.call('ZADD', ok, ARGV[3], op_id)
      redis.call('ZREMRANGEBYSCORE', ok, '-inf', num(now - op_ttl * 1000))
      redis.call('ZREMRANGEBYRANK', ok, 0, -1 - op_memory)
      redis.call('PEXPIRE', ok, op_ttl)
    end
  end
end
return out
