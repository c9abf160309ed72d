-- ARGV: prefix, run id. Returns {the run hash as field, value, ..., its step records}: one
-- consistent read in one reply (a MULTI/EXEC pipeline costs four replies to parse).
local id = ARGV[2]
return {redis.call('HGETALL', run_key(id)), redis.call('LRANGE', steps_key(id), 0, -1)}
