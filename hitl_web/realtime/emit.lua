-- ARGV: all-runs stream, list bound, stream bound, then for each event:
--       its run's event list, run id, event name, event json, ttl seconds ('' keeps the expiry)
-- Each event gets the next id of the all-runs stream (which wakes every web process's hub) and is
-- kept, under that id, in its run's bounded list: a few hundred bytes, where a stream per run would
-- take kilobytes. A batch of events costs one call. Returns the ids.
local ids = {}
for i = 4, #ARGV, 5 do
  local key, run_id, name, body, ttl = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local id = redis.call('XADD', ARGV[1], 'MAXLEN', '~', ARGV[3], '*', 'r', run_id, 'e', name)
  redis.call('RPUSH', key, id .. ' ' .. body)
  redis.call('LTRIM', key, -tonumber(ARGV[2]), -1)
  if ttl ~= '' then redis.call('EXPIRE', key, ttl) end
  table.insert(ids, id)
end
return ids
