-- mirror a collection's vec hash entries into its vector sets (Redis 8), for entries written
-- before the server had vector sets (run once per prefix, at open, in HSCAN-sized chunks).
-- KEYS[1] the vec hash. ARGV: 1 base, 2 coll, then (id, codes) pairs. An entry is mirrored
-- only while the hash still holds those codes; a write since then mirrored itself.
local n = 0
for i = 3, #ARGV, 2 do
  local id, codes = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', VEC, id) == codes then
    vs_add(id, codes)
    n = n + 1
  end
end
return n
