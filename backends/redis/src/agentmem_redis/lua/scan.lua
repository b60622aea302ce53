-- one stretch of a scan in id order.
-- KEYS[1] the collection's ids key.
-- ARGV: 1 base, 2 coll, 3 now_us, 4 cleanup budget, 5 after ("" = from the start),
--       6 wanted matches, 7 max ids examined, 8 since_us ("" = none), 9 until_us ("" = none),
--       10.. required tags
-- Returns {exhausted (0/1), last id examined, id, blob, id, blob, ...}.
local now = tonumber(ARGV[3])
cleanup(now, tonumber(ARGV[4]))
local after, want, max_examine = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local since, until_ = tonumber(ARGV[8]), tonumber(ARGV[9])
local tags = {}
for i = 10, #ARGV do tags[#tags + 1] = gkey(ARGV[i]) end
local out = {0, after}
local found, examined = 0, 0
local lo = (after == '') and '-' or ('(' .. after)
while true do
  local chunk = math.min(math.max(want - found, 16) * 2, 512)
  local ids = redis.call('ZRANGE', IDS, lo, '+', 'BYLEX', 'LIMIT', 0, chunk)
  for _, id in ipairs(ids) do
    examined = examined + 1
    out[2] = id
    local ok = true
    local e = redis.call('ZSCORE', EXP, id)
    if e and tonumber(e) <= now then ok = false end
    if ok then
      for _, g in ipairs(tags) do
        if redis.call('SISMEMBER', g, id) == 0 then ok = false; break end
      end
    end
    if ok and (since or until_) then
      local packed = redis.call('HGET', META, id)
      if not packed then
        ok = false
      else
        local u = unpack_meta(id, packed)[3]
        if (since and u < since) or (until_ and u >= until_) then ok = false end
      end
    end
    if ok then
      local blob = get_blob(id)
      if blob then
        out[#out + 1] = id
        out[#out + 1] = blob
        found = found + 1
        if found >= want then return out end
      end
    end
    if examined >= max_examine then return out end
  end
  if #ids < chunk then
    out[1] = 1
    return out
  end
  lo = '(' .. ids[#ids]
end
