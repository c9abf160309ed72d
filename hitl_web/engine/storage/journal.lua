-- Appending to runs' journals, shared by append.lua and the engine's scripts (a worker's entries ride
-- along with the engine's next write: see journal.Outbox).
-- Each event gets the next id of the all-runs stream (which wakes every web process's hub) and is
-- kept, under that id, in its run's bounded list as "<id> <name> <ms before the id> <data>", the
-- name without its "workflow." and the data as the schema's field values: a waiting run's events
-- take a few hundred bytes, where a stream per run would take kilobytes.
-- ARGV from ``first``: events kept per run, the all-runs stream's bound, the expiry (seconds) a run's
-- events get with its runFinish, then run id, event name, time (ms), data for each event.
-- Returns the ids.
local function append_journal(prefix, first)
  local ids = {}
  if #ARGV < first then return ids end
  -- The all-runs stream (storage.keys.Keys.announcements) is <prefix>:rt, outside the runs' <prefix>:rt:<run id>.
  local all, keep, all_max, ttl = prefix .. ':rt', tonumber(ARGV[first]), ARGV[first + 1], ARGV[first + 2]
  for i = first + 3, #ARGV, 4 do
    local run_id, name, ms, data = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
    local key = prefix .. ':rt:' .. run_id
    local id = redis.call('XADD', all, 'MAXLEN', '~', all_max, '*', 'r', run_id, 'e', name)
    local lag = tonumber(string.match(id, '^%d+')) - tonumber(ms)
    local short = string.match(name, '^workflow%.(.+)$') or name
    if redis.call('RPUSH', key, id .. ' ' .. short .. ' ' .. string.format('%d', lag) .. ' ' .. data) > keep then
      redis.call('LTRIM', key, -keep, -1)
    end
    -- A run's events are kept without an expiry while it lives, and expire with it once it finished.
    if name == 'workflow.runFinish' and tonumber(ttl) > 0 then redis.call('EXPIRE', key, ttl) end
    table.insert(ids, id)
  end
  return ids
end
