-- ARGV: prefix, run id, token, records, clear, now, then the events riding along (from 7)
ride(7)
local id = ARGV[2]
local rk = run_key(id)
if not owns(rk, ARGV[3]) then return 0 end
local err = put_records(id, rk, ARGV[4], ARGV[5])
if err then return err end
redis.call('HSET', rk, 'updated', ARGV[6])
return 1
