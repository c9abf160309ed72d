-- A sleep or a retry backoff (scripts.PARK): the run holds no worker until ``wake_at``. Returns 0
-- when the execution no longer owns the run, else {1, the next run}.
local run, steps, due, queue = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, run_id, token, records, clear, wake_at, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local attempts, next_token, next_lease = ARGV[8], ARGV[9], ARGV[10]
local riding = {keys = 5, args = 11}
append_journal(riding)
local halt = own_and_record({run = run, steps = steps}, token, records, clear, 0)
if halt then return halt end
redis.call('HSET', run, 'owner', '', 'due', 'wake', 'updated', now)
if attempts ~= '' then redis.call('HSET', run, 'attempts', attempts) end
redis.call('ZADD', due, wake_at, run_id)
return hand_off(prefix, due, queue, next_token, now, next_lease, {1})
