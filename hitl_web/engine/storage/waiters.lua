-- The runs waiting on an event id now (scripts.WAITERS): {run id, its waiting step's record, ...}
-- (an ask of several counts while it is open).
-- A run listed as a waiter whose waiting step is on another event id is not one (any more).
local waiters, many_waiters = KEYS[1], KEYS[2]
local prefix, event_id = ARGV[1], ARGV[2]
local out = {}
for _, id in ipairs(waiters_of(waiters, many_waiters, event_id)) do
  local this = run_keys(prefix, id)
  local f = fields(this, 'status', 'wait_index', 'wait_mode', 'resolution')
  local record
  if f[3] then
    local _, raw = open_ask(this, f[2], f[4], event_id)  -- one of several asks, open
    record = raw
  elseif f[1] == 'waiting' then
    local on, raw = waiting_on(this, f[2])
    if on == event_id then record = raw end
  end
  if record then
    table.insert(out, id)
    table.insert(out, record)
  end
end
return out
