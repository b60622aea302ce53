-- ranked keyword search (BM25) over one bucket of one collection.
-- KEYS[1] the collection's ids key.
-- ARGV: 1 base, 2 coll, 3 now_us, 4 cleanup budget, 5 limit, 6 posting budget,
--       7 stats mode ("local": this bucket is the whole collection; "global": use 8-9
--       and the given document frequencies), 8 n_docs, 9 total_len, 10 number of tags,
--       then the tags, then the number of terms, then (term, df) pairs in query order.
-- Returns {postings examined, truncated (0/1), id, score, blob, ...} best first.
--
-- Postings are sorted sets scored by an impact h = tf / (tf + k1(1-b) + k1 b dl/aref)
-- (aref: a reference length fixed per collection and bucket), so each term's postings
-- can be read best first. A max-score walk reads the term whose next postings can add
-- the most, scores every newly seen record exactly (all query terms), and stops when no
-- unseen record can beat the current k-th hit: the top-k is exact, while common terms
-- are read only as far as they can matter.
local now = tonumber(ARGV[3])
cleanup(now, tonumber(ARGV[4]))
local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local mode = ARGV[7]
local aref = tonumber(redis.call('HGET', STATS, 'aref') or '0')
if aref == 0 then return {0, 0} end
local N, total = tonumber(ARGV[8]), tonumber(ARGV[9])
if mode == 'local' then
  N = tonumber(redis.call('HGET', STATS, 'n') or '0')
  total = tonumber(redis.call('HGET', STATS, 'len') or '0')
end
local pos = 10
local tags = {}
for i = 1, tonumber(ARGV[pos]) do tags[i] = gkey(ARGV[pos + i]) end
pos = pos + #tags + 1
local nt = tonumber(ARGV[pos])
local tk, idf, bound, offset, done = {}, {}, {}, {}, {}
local avg = (N > 0) and (total / N) or 0
-- Upper bound of a term's contribution from its impact h, valid for the current average
-- length: (k1 + 1) h max(1, avg/aref), inflated a hair against rounding.
local factor = math.max(1, (aref > 0 and avg > 0) and avg / aref or 1) * (1 + 1e-9)
for i = 1, nt do
  local term = ARGV[pos + 2 * i - 1]
  tk[i] = tkey(term)
  local df = tonumber(ARGV[pos + 2 * i])
  if mode == 'local' then df = redis.call('ZCARD', tk[i]) end
  idf[i] = math.log(1.0 + (N - df + 0.5) / (df + 0.5))
  offset[i] = 0
  local top = redis.call('ZREVRANGE', tk[i], 0, 0, 'WITHSCORES')
  if #top == 0 then
    done[i] = true
    bound[i] = 0
  else
    done[i] = false
    bound[i] = idf[i] * (K1 + 1) * tonumber(top[2]) * factor
  end
end

local c, er = K1 * (1 - BB), K1 * BB / aref
local check_expiry = #redis.call('ZRANGEBYSCORE', EXP, '-inf', num(now), 'LIMIT', 0, 1) > 0

local function score(id)
  local dls = redis.call('HGET', DL, id)
  if not dls then return nil end
  local dl = tonumber(dls)
  local norm = K1
  if avg > 0 then norm = K1 * (1.0 - BB + BB * dl / avg) end
  local s = 0.0
  for i = 1, nt do
    local hs = redis.call('ZSCORE', tk[i], id)
    if hs then
      local h = tonumber(hs)
      local tf = math.floor(h * (c + er * dl) / (1 - h) + 0.5)
      s = s + idf[i] * tf * (K1 + 1.0) / (tf + norm)
    end
  end
  return s
end

local function accept(id)
  if check_expiry then
    local e = redis.call('ZSCORE', EXP, id)
    if e and tonumber(e) <= now then return false end
  end
  for _, g in ipairs(tags) do
    if redis.call('SISMEMBER', g, id) == 0 then return false end
  end
  return true
end

-- a min-heap of the best `limit` hits; its root is the worst of them
-- (lower score, or equal score and larger id).
local heap = {}
-- ids compare bytewise (Lua's < uses the server's locale collation)
local function bytes_less(a, b)
  if a == b then return false end
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function worse(a, b)
  return a[2] < b[2] or (a[2] == b[2] and bytes_less(b[1], a[1]))
end
local function sift_up(i)
  while i > 1 do
    local p = math.floor(i / 2)
    if worse(heap[i], heap[p]) then heap[i], heap[p] = heap[p], heap[i]; i = p else break end
  end
end
local function sift_down(i)
  local n = #heap
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= n and worse(heap[l], heap[m]) then m = l end
    if r <= n and worse(heap[r], heap[m]) then m = r end
    if m == i then break end
    heap[i], heap[m] = heap[m], heap[i]
    i = m
  end
end
local function offer(hit)
  if #heap < limit then
    heap[#heap + 1] = hit
    sift_up(#heap)
  elseif worse(heap[1], hit) then
    heap[1] = hit
    sift_down(1)
  end
end

local seen, examined, truncated = {}, 0, 0
-- Read a few postings first (small limits rarely need more), then double up to 1024.
local chunk = {}
for i = 1, nt do chunk[i] = math.min(256, math.max(32, 4 * limit)) end
while true do
  local best, remaining = nil, 0.0
  for i = 1, nt do
    if not done[i] then
      remaining = remaining + bound[i]
      if best == nil or bound[i] > bound[best] then best = i end
    end
  end
  if best == nil then break end
  if #heap >= limit and remaining < heap[1][2] then break end
  if examined >= budget then truncated = 1; break end
  local size = chunk[best]
  chunk[best] = math.min(1024, size * 2)
  local got = redis.call('ZREVRANGE', tk[best], offset[best], offset[best] + size - 1,
                         'WITHSCORES')
  local n = #got / 2
  offset[best] = offset[best] + n
  examined = examined + n
  if n < size then
    done[best] = true
  else
    bound[best] = idf[best] * (K1 + 1) * tonumber(got[#got]) * factor
  end
  for j = 1, #got, 2 do
    local id = got[j]
    if not seen[id] then
      seen[id] = true
      if accept(id) then
        local s = score(id)
        if s then offer({id, s}) end
      end
    end
  end
end

table.sort(heap, function(a, b) return worse(b, a) end)
local out = {examined, truncated}
for _, hit in ipairs(heap) do
  local blob = get_blob(hit[1])
  if blob then
    out[#out + 1] = hit[1]
    out[#out + 1] = num(hit[2])
    out[#out + 1] = blob
  end
end
return out
