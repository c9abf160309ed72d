-- ARGV: prefix, run id, workflow, payload json, now, lease deadline, triggered by ('' for unknown),
--       queue key, queues set key, wake-up nonce
local id, now = ARGV[2], ARGV[5]
local rk = run_key(id)
if redis.call('EXISTS', rk) == 1 then return 0 end
redis.call('HSET', rk, 'workflow', ARGV[3], 'status', 'running', 'payload', ARGV[4],
  'created', now, 'updated', now, 'due', 'lease', 'owner', '')
if ARGV[7] ~= '' then redis.call('HSET', rk, 'by', ARGV[7]) end
-- The id of a run that expired may be taken again: its old index entries go first.
if redis.call('ZSCORE', INDEX, id) then unindex(id) end
redis.call('ZADD', INDEX, now, id)
move_status(id, nil, 'running', now)
redis.call('ZADD', DUE, ARGV[6], id)
wake(ARGV[8], ARGV[9], ARGV[10], id)
return 1
