-- Asks opened before the inbox index existed enter it (scripts.INBOX_BACKFILL): ``count`` runs of
-- INDEX a call, the walk's cursor in ``inboxed``; each waiting run's open ask is filed under its
-- approvers (ZADD: an ask filed already keeps its place). Returns 1 once every run was visited.
local index, inboxed = KEYS[1], KEYS[2]
local prefix, count = ARGV[1], tonumber(ARGV[2])
return walk_index(inboxed, index, count, function(id)
  local this = run_keys(prefix, id)
  local f = fields(this, 'status', 'wait_index')
  if f[1] == 'waiting' then
    local _, _, step = waiting_on(this, f[2])
    if step then inbox(this, filed_under(step), f[2], filed_at(step)) end
  end
  return true  -- a run gone from under INDEX is sweep.lua's to take off it, not this walk's
end) and 1 or 0
