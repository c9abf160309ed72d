-- ARGV: prefix, run id, now, ttl seconds (0: keep), then the run's last journal entry (runFinish,
--       cancelled: see append_journal), written only when the cancel is taken. Returns the status the run had.
local id, now = ARGV[2], ARGV[3]
local rk = run_key(id)
local f = redis.call('HMGET', rk, 'status', 'wait_index')
if not f[1] then return 'missing' end
if f[1] ~= 'running' and f[1] ~= 'waiting' then return f[1] end
if f[1] == 'waiting' then remove_waiter(waiting_on(id, f[2]), id) end
redis.call('HSET', rk, 'status', 'cancelled', 'finished', now, 'updated', now)
move_status(id, f[1], 'cancelled', now)
redis.call('HDEL', rk, 'owner', 'due', 'job', 'resolution', 'wait_index')
redis.call('ZREM', DUE, id)
redis.call('DEL', lookback_key(id), lookback_order_key(id))
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('EXPIRE', rk, ttl)
  redis.call('EXPIRE', steps_key(id), ttl)
  redis.call('EXPIRE', events_key(id), ttl)
end
append_journal(P, 5)
return f[1]
