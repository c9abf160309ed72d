-- ARGV: prefix, now, lease deadline, limit, timeout resolution json, finished run ttl seconds (0: kept)
-- Everything due: a passed wait deadline (WAITING) resolves the wait as a timeout; a sleep or retry
-- that is due, or a lease nobody renewed (a dead worker, a lost job), hands the run to a new job
-- (DUE). Finished runs whose keys expired leave the indexes (trim_finished), and runs stored before
-- the status indexes existed enter them (backfill).
-- Returns {run id, why, wake-up nonce, ...} for the runs to enqueue; why 'queued' means the run's job may
-- still be waiting in the queue (the caller checks before enqueueing another).
local now, limit = ARGV[2], tonumber(ARGV[4])
local out = {}
local function time_out(id, rk, wait_index)
  remove_waiter(waiting_on(id, wait_index), id)
  redis.call('HSET', rk, 'status', 'running', 'resolution', ARGV[5], 'due', 'lease', 'owner', '',
    'updated', now)
  move_status(id, 'waiting', 'running', now)
  redis.call('ZADD', DUE, ARGV[3], id)
  table.insert(out, id)
  table.insert(out, 'timeout')
  table.insert(out, '')
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', WAITING, '-inf', now, 'LIMIT', 0, limit)) do
  local rk = run_key(id)
  local f = redis.call('HMGET', rk, 'status', 'wait_index')
  if f[1] == 'waiting' then time_out(id, rk, f[2]) else redis.call('ZREM', WAITING, id) end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', DUE, '-inf', now, 'LIMIT', 0, limit)) do
  local rk = run_key(id)
  local f = redis.call('HMGET', rk, 'status', 'wait_index', 'due', 'owner', 'job')
  if f[1] == 'waiting' then
    time_out(id, rk, f[2])  -- a wait registered before WAITING held deadlines
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
trim_finished(now, tonumber(ARGV[6]), limit)
backfill(limit)
return out
