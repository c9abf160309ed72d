-- An execution's step records (scripts.WRITE_STEP). Returns 0 when it no longer owns the run, else 1.
local run, steps = KEYS[1], KEYS[2]
local token, records, clear, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local riding = {keys = 3, args = 5}
append_journal(riding)
local halt = own_and_record({run = run, steps = steps}, token, records, clear, 0)
if halt then return halt end
redis.call('HSET', run, 'updated', now)
return 1
