-- ARGV: prefix, now, lease deadline, limit, timeout resolution json
-- Everything due: a passed wait deadline resolves the wait as a timeout; a sleep or retry that is
-- due, or a lease nobody renewed (a dead worker, a lost job), hands the run to a new job.
-- Returns {run id, why, wake-up nonce, ...} for the runs to enqueue; why 'queued' means the run's job may
-- still be waiting in the queue (the caller checks before enqueueing another).
local now = ARGV[2]
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', DUE, '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))) do
  local rk = run_key(id)
  local f = redis.call('HMGET', rk, 'status', 'wait_index', 'due', 'owner', 'job')
  if f[1] == 'waiting' then
    remove_waiter(waiting_on(id, f[2]), id)
    redis.call('HSET', rk, 'status', 'running', 'resolution', ARGV[5], 'due', 'lease', 'owner', '',
      'updated', now)
    redis.call('ZADD', DUE, ARGV[3], id)
    table.insert(out, id)
    table.insert(out, 'timeout')
    table.insert(out, '')
  elseif f[1] == 'running' then
    local why = f[3] or 'lease'
    if why == 'lease' and (not f[4] or f[4] == '') then why = 'queued' end
    redis.call('HSET', rk, 'due', 'lease', 'owner', '')
    redis.call('ZADD', DUE, ARGV[3], id)
    table.insert(out, id)
    table.insert(out, why)
    table.insert(out, f[5] or '')
  else
    redis.call('ZREM', DUE, id)
  end
end
return out
