-- ARGV: prefix, run id, token, now, lease deadline, RQ's intermediate queue and the wake-up call's
--       job id ('' and '': no wake-up call to clear)
-- Takes the run for one execution; returns {'ok', workflow, payload, started, resolution, wait index,
-- attempts, step...} or {reason} when this execution must not run it. Either way the wake-up call
-- leaves RQ's intermediate queue here, rather than in a round trip of its own.
local id, token, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
if ARGV[6] ~= '' then redis.call('LREM', ARGV[6], 1, ARGV[7]) end
local rk = run_key(id)
local f = redis.call('HMGET', rk, 'status', 'owner', 'due', 'workflow', 'payload', 'started',
  'resolution', 'wait_index', 'attempts')
if not f[1] then return {'missing'} end
if f[1] ~= 'running' then return {f[1]} end
local score = redis.call('ZSCORE', DUE, id)
if score and tonumber(score) > now then
  if f[2] and f[2] ~= '' and f[2] ~= token then return {'busy'} end
  if f[3] == 'wake' then return {'early'} end
end
redis.call('HSET', rk, 'owner', token, 'due', 'lease', 'started', '1', 'updated', ARGV[4])
redis.call('ZADD', DUE, ARGV[5], id)
local out = {'ok', f[4], f[5], f[6] or '0', f[7] or '', f[8] or '', f[9] or '0'}
for _, s in ipairs(redis.call('LRANGE', steps_key(id), 0, -1)) do table.insert(out, s) end
return out
