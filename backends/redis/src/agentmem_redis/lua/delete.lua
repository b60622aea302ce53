-- delete one record.
-- KEYS[1] record key
-- ARGV: 1 base, 2 coll, 3 id, 4 now_us, 5 expected version (-1 = any), 6 cleanup budget,
--       7 kind, 8 namespace, 9 origin, 10 at_iso, 11 retention, 12 channel, 13 seq
-- Returns {1, removed_version (0 if absent)} or {0, current_version} on a conflict.
local key, id, now, expected = KEYS[1], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
cleanup(now, tonumber(ARGV[6]))
local cur_v, _, cur_m = live(id, key, now)
if expected >= 0 and cur_v ~= expected then return {0, cur_v} end
if cur_v == 0 then return {1, 0} end
remove_doc(id, cur_m)
redis.call('DEL', key)
emit('delete', ARGV[7], ARGV[8], id, cur_v, ARGV[9], ARGV[4], ARGV[10], ARGV[11], ARGV[12], ARGV[13])
return {1, cur_v}
