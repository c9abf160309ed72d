-- Takes the run for one execution (claim_run, scripts.CLAIM); either way the wake-up call leaves RQ's
-- intermediate queue here, rather than in a round trip of its own (no job id: no call to clear).
local run, steps, journal, lookback, lookback_order, due, intermediate = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local prefix, run_id, token, now, lease, job_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if job_id ~= '' then redis.call('LREM', intermediate, 1, job_id) end
return claim_run(given(prefix, run_id, run, steps, journal, lookback, lookback_order), due, token, now, lease)
