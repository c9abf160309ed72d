-- ARGV: prefix, run id, token, now, lease deadline, RQ's intermediate queue and the wake-up call's
--       job id ('' and '': no wake-up call to clear)
-- Takes the run for one execution (claim_run); either way the wake-up call leaves RQ's intermediate
-- queue here, rather than in a round trip of its own.
if ARGV[6] ~= '' then redis.call('LREM', ARGV[6], 1, ARGV[7]) end
return claim_run(ARGV[2], ARGV[3], ARGV[4], ARGV[5])
