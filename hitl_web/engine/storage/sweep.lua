-- Everything due (scripts.SWEEP): a passed wait deadline (WAITING) resolves the wait as a timeout;
-- a sleep or retry that is due, or a lease nobody renewed (a dead worker, a lost job), hands the run
-- to a new job (DUE). Finished runs whose keys expired leave the indexes (trim_finished), and runs
-- stored before the status indexes existed enter them (reindex, the walk's cursor in ``indexed``).
-- Returns {run id, why, wake-up nonce, ...} for the runs to enqueue; why 'queued' means the run's job may
-- still be waiting in the queue (the caller checks before enqueueing another).
local due, index, running, waiting, completed, failed, cancelled = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local waiters, indexed = KEYS[8], KEYS[9]
local prefix, now, lease, limit, timeout, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local statuses = {running = running, waiting = waiting, completed = completed, failed = failed, cancelled = cancelled}
local out = {}
-- A passed deadline: the run's wait resumes it as a timeout; of several asks, those past their
-- deadline time out, and the run resumes if that settles them (else WAITING scores its next one).
local function time_out(this, wait_index, mode)
  local resolution = timeout
  if mode then
    local soonest = time_out_asks(this, waiters, wait_index, timeout, now)
    resolution = settle(this, waiters, wait_index, mode, now)
    if not resolution then
      redis.call('ZADD', waiting, soonest or '+inf', this.id)
      return
    end
  else
    local _, _, step = waiting_on(this, wait_index)
    resolution = timeout_of(step, timeout, now)
    leave_wait(waiters, this, wait_index)
  end
  resume(this, due, waiting, running, resolution, now, lease)
  table.insert(out, this.id)
  table.insert(out, 'timeout')
  table.insert(out, '')
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', waiting, '-inf', now, 'LIMIT', 0, limit)) do
  local this = run_keys(prefix, id)
  local f = fields(this, 'status', 'wait_index', 'wait_mode')
  if f[1] == 'waiting' then time_out(this, f[2], f[3]) else redis.call('ZREM', waiting, id) end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)) do
  local this = run_keys(prefix, id)
  local f = fields(this, 'status', 'wait_index', 'due', 'owner', 'job', 'wait_mode')
  if f[1] == 'waiting' then
    time_out(this, f[2], f[6])  -- a wait registered before WAITING held deadlines
  elseif f[1] == 'running' then
    local why = f[3] or 'lease'
    if why == 'lease' and (not f[4] or f[4] == '') then why = 'queued' end
    redis.call('HSET', this.run, 'due', 'lease', 'owner', '')
    redis.call('ZADD', due, lease, id)
    table.insert(out, id)
    table.insert(out, why)
    table.insert(out, f[5] or '')
  else
    redis.call('ZREM', due, id)
  end
end
trim_finished(index, statuses, now, ttl, limit)
walk_index(indexed, index, limit, function(id) return reindex(run_keys(prefix, id), statuses, due) end)
return out
