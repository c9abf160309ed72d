-- A new run (scripts.TRIGGER): stored running, indexed, due for its lease, its wake-up call queued.
-- A child run (context.invoke) names its ``parent`` run and its ``depth`` among invocations ('' for
-- none). Returns 0 when the id is taken.
local run, steps, journal, lookback, lookback_order = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local index, running, waiting, completed, failed, cancelled = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local due, queue, queues = KEYS[12], KEYS[13], KEYS[14]
local prefix, run_id, workflow, payload, now, lease, by, nonce = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local parent, depth, min_replicas = ARGV[9], ARGV[10], ARGV[11]
local missing = replicas_missing(min_replicas)
if missing then return missing end
local this = given(prefix, run_id, run, steps, journal, lookback, lookback_order)
if redis.call('EXISTS', run) == 1 then return 0 end
-- The id of a run that expired may be taken again: its old index entries go first. A run of the
-- old key layout is still there (adopt).
if redis.call('ZSCORE', index, run_id) then
  if adopt(this) then return 0 end
  unindex(index, {running = running, waiting = waiting, completed = completed, failed = failed, cancelled = cancelled}, run_id)
end
redis.call('HSET', run, 'workflow', workflow, 'status', 'running', 'payload', payload,
  'created', now, 'updated', now, 'due', 'lease', 'owner', '')
if by ~= '' then redis.call('HSET', run, 'by', by) end
if parent ~= '' then redis.call('HSET', run, 'parent', parent, 'depth', depth) end
redis.call('ZADD', index, now, run_id)
move_status(run_id, nil, running, now)
redis.call('ZADD', due, lease, run_id)
wake(queue, queues, nonce, this)
return 1
