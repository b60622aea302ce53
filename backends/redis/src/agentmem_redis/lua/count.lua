-- live records of one collection in one bucket.
-- KEYS[1] the collection's ids key. ARGV: 1 base, 2 coll, 3 now_us, 4 cleanup budget
local now = tonumber(ARGV[3])
cleanup(now, tonumber(ARGV[4]))
return redis.call('ZCARD', IDS) - redis.call('ZCOUNT', EXP, '-inf', num(now))
