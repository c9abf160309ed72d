-- Extends the lease of the execution ``token`` (scripts.RENEW); 0 when it lost the run.
local run, due = KEYS[1], KEYS[2]
local run_id, token, lease = ARGV[1], ARGV[2], ARGV[3]
if owns(run, token) then
  redis.call('ZADD', due, 'XX', lease, run_id)
  return 1
end
return 0
