-- The end of an execution whose last write took no next run (scripts.HANDOFF): store its last
-- events, and take the next run (take_next) in the same round trip, where a dequeue, a claim and an
-- event write take three. Returns {run id, claim_run's reply...} or {}.
local queue, due = KEYS[1], KEYS[2]
local prefix, token, now, lease = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local riding = {keys = 3, args = 5}
append_journal(riding)
return take_next(prefix, due, queue, token, now, lease) or {}
