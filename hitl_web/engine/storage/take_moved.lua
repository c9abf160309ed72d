-- Sent right behind a worker's BLMOVE on the same connection (scripts.TAKE_MOVED), so Redis runs it
-- the moment the BLMOVE is served, with no round trip in between: if the call BLMOVE just moved (the
-- newest in the intermediate queue) wakes a run, claim the run for the execution ``token``, and
-- write the worker's ``busy`` state ('' writes none) so `rq info` shows it at no cost. Another
-- worker's BLMOVE may have been served in between: then the newest call is its, and whichever
-- worker claims a run runs it (the other's claim is refused). Any other kind of RQ job is left for RQ.
-- Returns {run id, job id, claim_run's reply...} or {}.
local intermediate, due, worker = KEYS[1], KEYS[2], KEYS[3]
local prefix, token, lease_seconds, busy = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local head = redis.call('LINDEX', intermediate, -1)
local id = run_of_call(head)
if not id then return {} end
redis.call('RPOP', intermediate)
-- The time now, not when the command was sent: the BLMOVE before it may have waited for minutes.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local claim = claim_run(run_keys(prefix, id), due, token, string.format('%.3f', now),
  string.format('%.6f', now + tonumber(lease_seconds)))
if claim[1] == 'ok' and busy ~= '' then redis.call('HSET', worker, 'state', busy) end
table.insert(claim, 1, head)
table.insert(claim, 1, id)
return claim
