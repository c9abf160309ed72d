-- Appending to runs' journals: the entries riding along with the engine's scripts (a worker's entries
-- go out with the engine's next write: see journal.Outbox), and append.lua's batches.
-- Each event gets the next id of the all-runs stream (which wakes every web process's hub) and is
-- kept, under that id, in its run's bounded list as "<id> <name> <ms before the id> <data>", the
-- name without its "workflow." and the data as the schema's field values: a waiting run's events
-- take a few hundred bytes, where a stream per run would take kilobytes.
-- ``riding`` (scripts.RIDERS) says where the entries begin, after the script's own KEYS and ARGV:
-- KEYS from riding.keys are the all-runs stream, then each entry's run journal; ARGV from riding.args
-- are the events kept per run, the all-runs stream's bound, the expiry (seconds) a run's events get
-- with its runFinish, then run id, event name, time (ms), data for each event. None at all: no entry.
-- Returns the ids.
local function append_journal(riding)
  local ids = {}
  local k, a = riding.keys, riding.args
  if #ARGV < a then return ids end
  local all, keep, all_max, ttl = KEYS[k], tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2]
  for i = a + 3, #ARGV, 4 do
    k = k + 1
    local key, run_id, name, ms, data = KEYS[k], ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
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
