-- ARGV: all-runs stream, list bound, stream bound, then for each event:
--       its run's event list, run id, event name, time (ms), data, ttl seconds ('' keeps the expiry)
-- Each event gets the next id of the all-runs stream (which wakes every web process's hub) and is
-- kept, under that id, in its run's bounded list as "<id> <name> <ms before the id> <data>", the
-- name without its "workflow." and the data as the schema's field values: a waiting run's events
-- take a few hundred bytes, where a stream per run would take kilobytes. One call per batch.
-- Returns the ids.
local ids = {}
for i = 4, #ARGV, 6 do
  local key, run_id, name, ms, data, ttl = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local id = redis.call('XADD', ARGV[1], 'MAXLEN', '~', ARGV[3], '*', 'r', run_id, 'e', name)
  local lag = tonumber(string.match(id, '^%d+')) - tonumber(ms)
  local short = string.match(name, '^workflow%.(.+)$') or name
  redis.call('RPUSH', key, id .. ' ' .. short .. ' ' .. string.format('%d', lag) .. ' ' .. data)
  redis.call('LTRIM', key, -tonumber(ARGV[2]), -1)
  if ttl ~= '' then redis.call('EXPIRE', key, ttl) end
  table.insert(ids, id)
end
return ids
