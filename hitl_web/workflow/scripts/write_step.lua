-- ARGV: prefix, run id, token, step index, step json, now, '1' when this completes a resolved wait
local id = ARGV[2]
local rk = run_key(id)
if not owns(rk, ARGV[3]) then return 0 end
local err = put_step(steps_key(id), tonumber(ARGV[4]), ARGV[5])
if err then return err end
if ARGV[7] == '1' then redis.call('HDEL', rk, 'resolution', 'wait_index') end
redis.call('HSET', rk, 'updated', ARGV[6])
return 1
