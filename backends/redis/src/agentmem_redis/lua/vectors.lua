-- one page of the embedding codes of one collection in one bucket, for nearest().
-- KEYS[1] the collection's vec hash (id -> int8 codes).
-- ARGV: 1 base, 2 coll, 3 now_us, 4 dimensions, 5 HSCAN cursor ('0' to start),
--       6 HSCAN count, 7.. required tags
-- Returns {next cursor ('0' when done), codes of every match joined, their ids joined by
-- NUL (ids hold no control characters)}: a few strings however many records, and the
-- server is held for one page at a time. With tags, the intersection of the tag sets is
-- read in one call and the cursor is always '0'. Entries of another length (another
-- model, or damaged) and expired records are left out. Read-only.
local now, dim, cursor, count = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
local codes, ids = {}, {}
local function take(id, v)
  if type(v) == 'string' and #v == dim then
    local e = redis.call('ZSCORE', EXP, id)
    if not e or tonumber(e) > now then
      codes[#codes + 1] = v
      ids[#ids + 1] = id
    end
  end
end
local nextc = '0'
if #ARGV >= 7 then
  local sets = {}
  for i = 7, #ARGV do sets[#sets + 1] = gkey(ARGV[i]) end
  local members = redis.call('SINTER', unpack(sets))
  for start = 1, #members, 1000 do
    local chunk = {}
    for j = start, math.min(start + 999, #members) do chunk[#chunk + 1] = members[j] end
    local values = redis.call('HMGET', VEC, unpack(chunk))
    for j, id in ipairs(chunk) do take(id, values[j]) end
  end
else
  local page = redis.call('HSCAN', VEC, cursor, 'COUNT', count)
  nextc = page[1]
  local flat = page[2]
  for i = 1, #flat, 2 do take(flat[i], flat[i + 1]) end
end
return {nextc, table.concat(codes), table.concat(ids, '\0')}
