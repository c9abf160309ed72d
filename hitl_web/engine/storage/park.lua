-- ARGV: prefix, run id, token, records, clear, wake at, now, run attempts ('' to keep),
--       the hand-off's queue, token and lease deadline (see hand_off), then the events riding along
--       (from 12)
-- A sleep or a retry backoff: the run holds no worker until ``wake at``. Returns 0 when the
-- execution no longer owns the run, else {1, the next run...}.
ride(12)
local id = ARGV[2]
local rk = run_key(id)
if not owns(rk, ARGV[3]) then return 0 end
local err = put_records(id, rk, ARGV[4], ARGV[5])
if err then return err end
redis.call('HSET', rk, 'owner', '', 'due', 'wake', 'updated', ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', rk, 'attempts', ARGV[8]) end
redis.call('ZADD', DUE, ARGV[6], id)
return hand_off(9, ARGV[7], {1})
