-- The runs waiting on an event id now (scripts.WAITERS): {run id, its waiting step's record, ...}.
-- A run listed as a waiter whose waiting step is on another event id is not one (any more).
local waiters, many_waiters = KEYS[1], KEYS[2]
local prefix, event_id = ARGV[1], ARGV[2]
local out = {}
for _, id in ipairs(waiters_of(waiters, many_waiters, event_id)) do
  local this = run_keys(prefix, id)
  local f = fields(this, 'status', 'wait_index')
  if f[1] == 'waiting' then
    local on, record = waiting_on(this, f[2])
    if on == event_id then
      table.insert(out, id)
      table.insert(out, record)
    end
  end
end
return out
