-- collection statistics of one bucket, for a search fanned out over buckets.
-- KEYS[1] the collection's ids key. ARGV: 1 base, 2 coll, 3 now_us, 4 cleanup budget,
-- 5.. query terms. Returns {n_docs, total_len, df(term1), df(term2), ...}.
cleanup(tonumber(ARGV[3]), tonumber(ARGV[4]))
local out = {tonumber(redis.call('HGET', STATS, 'n') or '0'),
             tonumber(redis.call('HGET', STATS, 'len') or '0')}
for i = 5, #ARGV do out[#out + 1] = redis.call('ZCARD', tkey(ARGV[i])) end
return out
