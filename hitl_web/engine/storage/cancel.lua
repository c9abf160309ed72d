-- Cancels a running or waiting run (scripts.CANCEL), writing its last journal entry (runFinish,
-- cancelled) only when the cancel is taken. Returns the status the run had ('missing': none).
local run, steps, journal, lookback, lookback_order = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local waiters, due, running, waiting, cancelled = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local prefix, run_id, now, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local riding = {keys = 11, args = 5}
local this = given(prefix, run_id, run, steps, journal, lookback, lookback_order)
local f = fields(this, 'status', 'wait_index')
if not f[1] then return 'missing' end
if f[1] ~= 'running' and f[1] ~= 'waiting' then return f[1] end
if f[2] then close_asks(waiters, this, f[2]) end  -- a waiting run's, or the asks beside a running step
end_run(this, due, f[1] == 'waiting' and waiting or running, cancelled, 'cancelled', now, ttl)
append_journal(riding)
return f[1]
