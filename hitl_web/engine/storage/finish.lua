-- The run completed (``field`` 'result') or failed ('error') (scripts.FINISH). Returns 0 when the
-- execution no longer owns the run, else {1, the next run}.
local run, steps, journal, lookback, lookback_order = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local due, running, finished, waiters, queue = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local prefix, run_id, token, records, clear, status = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local field, value, now, ttl, next_token, next_lease = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local riding = {keys = 11, args = 13}
append_journal(riding)
local this = given(prefix, run_id, run, steps, journal, lookback, lookback_order)
local halt = own_and_record(this, token, records, clear, 0)
if halt then return halt end
-- A step beside open asks failed the run (context.parallel): they close with it.
local open = redis.call('HGET', run, 'wait_index')
if open then close_asks(waiters, this, open) end
end_run(this, due, running, finished, status, now, ttl, field, value)
return hand_off(prefix, due, queue, next_token, now, next_lease, {1})
