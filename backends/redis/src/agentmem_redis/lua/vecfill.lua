-- backfill the vec hash of one collection in one bucket from records written before
-- agentmem-redis kept vec hashes (run once per prefix, at open).
-- KEYS[1] the vec hash. ARGV: 1 base, 2 coll, then (id, version, codes) triples.
-- An entry is written only while the record's index metadata still says that version,
-- so a record rewritten meanwhile (whose write script kept the hash itself) is left alone.
local n = 0
for i = 3, #ARGV, 3 do
  local id, version, codes = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local packed = redis.call('HGET', META, id)
  if packed then
    local ok, m = pcall(cmsgpack.unpack, packed)
    if ok and type(m) == 'table' and m[1] == version then
      vec_set(id, codes)
      n = n + 1
    end
  end
end
return n
