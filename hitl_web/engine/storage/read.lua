-- One run (scripts.READ): {the run hash as field, value, ..., its step records}, one consistent read
-- in one reply (a MULTI/EXEC pipeline costs four replies to parse).
local run, steps, journal, lookback, lookback_order = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local prefix, run_id = ARGV[1], ARGV[2]
local this = given(prefix, run_id, run, steps, journal, lookback, lookback_order)
return {hash_of(this), redis.call('LRANGE', steps, 0, -1)}
