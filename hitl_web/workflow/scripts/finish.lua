-- ARGV: prefix, run id, token, status, 'result' or 'error', value, now, ttl seconds (0: keep)
local id = ARGV[2]
local rk = run_key(id)
if not owns(rk, ARGV[3]) then return 0 end
redis.call('HSET', rk, 'status', ARGV[4], ARGV[5], ARGV[6], 'owner', '', 'due', '',
  'finished', ARGV[7], 'updated', ARGV[7])
redis.call('HDEL', rk, 'resolution', 'wait_index', 'wait_event')
redis.call('ZREM', DUE, id)
redis.call('DEL', lookback_key(id))
local ttl = tonumber(ARGV[8])
if ttl > 0 then
  redis.call('EXPIRE', rk, ttl)
  redis.call('EXPIRE', steps_key(id), ttl)
end
return 1
