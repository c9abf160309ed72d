-- ARGV: prefix, event id, resolution json, run id ('' for every waiter), now, lease deadline,
--       '1' to keep the resolution for the run when it is not waiting yet, queue key, queues set key,
--       wake-up nonce stem (8 hex: each resolved run's nonce adds 4 hex of its own), principal ('' for
--       a plain notify: no decision policy), lookback bound (event ids kept per run, see keep_lookback)
-- Notify: every run waiting on the event id (or just the given run) takes the resolution and is due
-- to run again, its wake-up call queued, unless the decision policy refuses the principal (see
-- refusal): then nothing changes for that run. With a run id and no wait yet, the resolution is kept
-- for that run (lookback), unless a decision comes too late for it.
-- Returns {kept, run id, its waiting step's record, outcome ('' resolved, else a models.Refusal), ...}.
local event_id, resolution, only, now, principal = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[11]
local lookback_max = tonumber(ARGV[12])
local ids = only ~= '' and {only} or waiters_of(event_id)
local out = {0}
local woken = 0
for _, id in ipairs(ids) do
  local rk = run_key(id)
  local f = redis.call('HMGET', rk, 'status', 'wait_index')
  local on, record
  if f[1] == 'waiting' then on, record = waiting_on(id, f[2]) end
  if on == event_id then
    local refused = refusal(id, record, principal, now)
    if refused then
      table.insert(out, id)
      table.insert(out, record)
      table.insert(out, refused)
    else
      remove_waiter(event_id, id)
      redis.call('HSET', rk, 'status', 'running', 'resolution', resolution, 'due', 'lease', 'owner', '',
        'updated', now)
      move_status(id, 'waiting', 'running', now)
      redis.call('ZADD', DUE, ARGV[6], id)
      wake(ARGV[8], ARGV[9], ARGV[10] .. string.format('%04x', woken % 65536), id)
      woken = woken + 1
      table.insert(out, id)
      table.insert(out, record)
      table.insert(out, '')
    end
  elseif only == '' then
    remove_waiter(event_id, id)  -- not waiting on it any more: nothing to keep
  else
    local late = principal ~= '' and f[1] and too_late(id, f[1], event_id)
    if late then
      table.insert(out, id)
      table.insert(out, '')
      table.insert(out, late)
    elseif ARGV[7] == '1' and (f[1] == 'running' or f[1] == 'waiting') then
      keep_lookback(id, event_id, resolution, lookback_max)
      out[1] = 1
    end
  end
end
return out
