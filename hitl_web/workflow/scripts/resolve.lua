-- ARGV: prefix, event id, resolution json, run id ('' for every waiter), now, lease deadline,
--       '1' to keep the resolution for the run when it is not waiting yet, queue key, queues set key,
--       wake-up nonce stem (8 hex: each resolved run's nonce adds 4 hex of its own)
-- Notify: every run waiting on the event id (or just the given run) takes the resolution and is due
-- to run again, its wake-up call queued. With a run id and no wait yet, the resolution is kept for that run (lookback).
-- Returns {kept, run id, its waiting step's record, run id, record, ...}.
local event_id, resolution, only, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local ids = only ~= '' and {only} or waiters_of(event_id)
local out = {0}
for _, id in ipairs(ids) do
  local rk = run_key(id)
  local f = redis.call('HMGET', rk, 'status', 'wait_index')
  local on, record
  if f[1] == 'waiting' then on, record = waiting_on(id, f[2]) end
  if on == event_id then
    remove_waiter(event_id, id)
    redis.call('HSET', rk, 'status', 'running', 'resolution', resolution, 'due', 'lease', 'owner', '',
      'updated', now)
    redis.call('ZADD', DUE, ARGV[6], id)
    wake(ARGV[8], ARGV[9], ARGV[10] .. string.format('%04x', (#out - 1) / 2 % 65536), id)
    table.insert(out, id)
    table.insert(out, record)
  elseif only == '' then
    remove_waiter(event_id, id)  -- not waiting on it any more: nothing to keep
  elseif ARGV[7] == '1' and (f[1] == 'running' or f[1] == 'waiting') then
    redis.call('HSET', lookback_key(id), event_id, resolution)
    out[1] = 1
  end
end
return out
