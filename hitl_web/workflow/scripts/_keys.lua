-- Shared by every script: ARGV[1] is the key prefix. Keys are derived here (one standalone Redis).
local P = ARGV[1]
local DUE = P .. ':due'
local INDEX = P .. ':runs'
local function run_key(id) return P .. ':run:' .. id end
local function steps_key(id) return P .. ':steps:' .. id end
local function lookback_key(id) return P .. ':lookback:' .. id end
local function waiters_key(event_id) return P .. ':waiters:' .. event_id end
-- Writes are only taken from the execution that holds the run.
local function owns(rk, token)
  local f = redis.call('HMGET', rk, 'status', 'owner')
  return f[1] == 'running' and f[2] == token
end
local function put_step(sk, index, record)
  local n = redis.call('LLEN', sk)
  if index == n then
    redis.call('RPUSH', sk, record)
  elseif index < n then
    redis.call('LSET', sk, index, record)
  else
    return redis.error_reply('step index ' .. index .. ' is past the ' .. n .. ' recorded steps')
  end
end
-- Step records that an execution sends along with its next write: "index\tjson" lines (compact JSON
-- has no raw tab or newline). clear = '1' drops a resolved wait's resolution now that its record holds it.
local function put_records(id, rk, blob, clear)
  local sk = steps_key(id)
  for line in string.gmatch(blob, '[^\n]+') do
    local tab = string.find(line, '\t', 1, true)
    local err = put_step(sk, tonumber(string.sub(line, 1, tab - 1)), string.sub(line, tab + 1))
    if err then return err end
  end
  if clear == '1' then redis.call('HDEL', rk, 'resolution', 'wait_index') end
end
