-- The rungs of open asks' ladders that are due (scripts.RUNGS): reminders ('r<n>', the n-th), the
-- escalation ('e') and a reassignment's announcement ('a', due at once; reassign.lua), each a member "<run id>:<index>:<rung>" of RUNGS scored by when it is due, put
-- there when its ask opened (schedule_rungs). A due rung leaves RUNGS here, once, whichever worker's
-- sweep meets it first; a reminder puts the next one in its place, until the ask's 'rn' are sent.
-- A rung of an ask no longer open just goes. Returns {run id, index, rung, the ask's record, its
-- run's workflow, ...}.
local rungs = KEYS[1]
local prefix, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
for _, member in ipairs(redis.call('ZRANGEBYSCORE', rungs, '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', rungs, member)
  local id, index, rung = string.match(member, '^(.+):(%d+):(%w+)$')
  local this = id and run_keys(prefix, id)
  local f = this and fields(this, 'status', 'wait_index', 'wait_mode', 'resolution', 'workflow') or {}
  local record, step
  if f[3] then
    local _, raw, decoded = open_ask_at(this, f[2], f[4], index)
    record, step = raw, decoded
  elseif f[1] == 'waiting' and f[2] == index then
    local _, raw, decoded = waiting_on(this, index)
    record, step = raw, decoded
  end
  if step then
    local n = tonumber(string.match(rung, '^r(%d+)$') or '')
    if n and step['re'] and n < tonumber(step['rn'] or 1) then
      redis.call('ZADD', rungs, tonumber(now) + tonumber(step['re']), id .. ':' .. index .. ':r' .. (n + 1))
    end
    for _, value in ipairs({id, index, rung, record, f[5]}) do table.insert(out, value) end
  end
end
return out
