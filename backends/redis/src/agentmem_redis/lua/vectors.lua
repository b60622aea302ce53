-- the embedding codes of one collection in one bucket, for nearest().
-- KEYS[1] the collection's vec hash (id -> int8 codes).
-- ARGV: 1 base, 2 coll, 3 now_us, 4 dimensions, 5.. required tags
-- Returns {codes of every match joined, their ids joined by NUL (ids hold no control
-- characters)}: two bulk strings, however many records. Entries of another length
-- (another model, or damaged) and expired records are left out; read-only.
local now, dim = tonumber(ARGV[3]), tonumber(ARGV[4])
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', EXP, '-inf', num(now))) do expired[id] = true end
local codes, ids = {}, {}
local function take(id, v)
  if v and type(v) == 'string' and #v == dim and not expired[id] then
    codes[#codes + 1] = v
    ids[#ids + 1] = id
  end
end
if #ARGV >= 5 then
  local sets = {}
  for i = 5, #ARGV do sets[#sets + 1] = gkey(ARGV[i]) end
  local members = redis.call('SINTER', unpack(sets))
  for start = 1, #members, 1000 do
    local chunk = {}
    for j = start, math.min(start + 999, #members) do chunk[#chunk + 1] = members[j] end
    local values = redis.call('HMGET', VEC, unpack(chunk))
    for j, id in ipairs(chunk) do take(id, values[j]) end
  end
else
  local flat = redis.call('HGETALL', VEC)
  for i = 1, #flat, 2 do take(flat[i], flat[i + 1]) end
end
return {table.concat(codes), table.concat(ids, '\0')}
