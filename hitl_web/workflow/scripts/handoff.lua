-- ARGV: prefix, token, now, lease deadline, RQ queue key, then the events riding along (from 6)
-- The end of an execution: store its last events, and take the next run from the head of the RQ
-- queue for the execution ``token`` without going back through RQ (one round trip, where a
-- dequeue, a claim and an event write take three). Stops at a job that is not a wake-up call
-- (RQ runs it), or an empty queue. Returns {run id, claim_run's reply...} or {}.
ride(6)
local queue = ARGV[5]
for _ = 1, 20 do
  local head = redis.call('LINDEX', queue, 0)
  local id = head and string.match(head, '^hitlrun_%x+_(.+)$')
  if not id then return {} end
  redis.call('LPOP', queue)
  local claim = claim_run(id, ARGV[2], ARGV[3], ARGV[4])
  if claim[1] == 'ok' then
    table.insert(claim, 1, id)
    return claim
  end
end
return {}
