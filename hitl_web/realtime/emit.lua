-- KEYS: the run's event list, the all-runs stream
-- ARGV: run id, event name, event json, list bound, stream bound, ttl seconds ('' to keep the expiry)
-- The event gets the next id of the all-runs stream (which wakes every web process's hub) and is
-- kept, under that id, in its run's bounded list: a few hundred bytes, where a stream per run would
-- take kilobytes.
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'r', ARGV[1], 'e', ARGV[2])
redis.call('RPUSH', KEYS[1], id .. ' ' .. ARGV[3])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[4]), -1)
if ARGV[6] ~= '' then redis.call('EXPIRE', KEYS[1], ARGV[6]) end
return id
