-- ARGV: prefix, run id, token, records, clear, status, 'result' or 'error', value, now, ttl seconds (0: keep),
--       the hand-off's queue, token and lease deadline (see hand_off), then the events riding along
--       (from 14)
-- Returns 0 when the execution no longer owns the run, else {1, the next run...}.
ride(14)
local id = ARGV[2]
local rk = run_key(id)
if not owns(rk, ARGV[3]) then return 0 end
local err = put_records(id, rk, ARGV[4], ARGV[5])
if err then return err end
redis.call('HSET', rk, 'status', ARGV[6], ARGV[7], ARGV[8],
  'finished', ARGV[9], 'updated', ARGV[9])
move_status(id, 'running', ARGV[6], ARGV[9])
redis.call('HDEL', rk, 'owner', 'due', 'job', 'resolution', 'wait_index')
redis.call('ZREM', DUE, id)
redis.call('DEL', lookback_key(id), lookback_order_key(id))
local ttl = tonumber(ARGV[10])
if ttl > 0 then
  redis.call('EXPIRE', rk, ttl)
  redis.call('EXPIRE', steps_key(id), ttl)
  redis.call('EXPIRE', events_key(id), ttl)
end
return hand_off(11, ARGV[9], {1})
