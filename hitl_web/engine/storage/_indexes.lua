-- The indexes a page of runs reads (queries.RunQueries.list_runs), kept by the scripts that change a
-- run's status, so a page costs its own size whatever the number of runs: INDEX (<p>:runs) holds
-- every run by creation time, and <p>:runs:<status> the runs with that status, by the time each
-- entered it (a finished run by when it finished), except WAITING: by the wait's deadline.
-- WAITING is also the sweep's schedule of wait timeouts (a waiting run is not in DUE), so the index
-- costs a waiting run no entry more than DUE did, and its page shows the soonest deadline first.
-- ``statuses`` is a table of the status sets by status (a script's KEYS running, waiting, ...).
local STATUSES = {'running', 'waiting', 'completed', 'failed', 'cancelled'}
-- The run ``id`` goes from the status set ``from`` (nil for a new run) to ``to``, scored ``score``.
local function move_status(id, from, to, score)
  if from then redis.call('ZREM', from, id) end
  redis.call('ZADD', to, score, id)
end
-- A run whose keys are gone (expired) leaves every index.
local function unindex(index, statuses, id)
  redis.call('ZREM', index, id)
  for _, status in ipairs(STATUSES) do redis.call('ZREM', statuses[status], id) end
end
-- A finished run's keys expire ``ttl`` seconds after it finished (end_run), which is its score in
-- its status set: up to ``limit`` runs per status whose time has come leave the indexes (the sweep
-- calls this; a page read drops any it meets before that).
local function trim_finished(index, statuses, now, ttl, limit)
  if ttl <= 0 then return end
  local cutoff = string.format('%.3f', tonumber(now) - ttl)
  for i = 3, 5 do
    local key = statuses[STATUSES[i]]
    local gone = redis.call('ZRANGEBYSCORE', key, '-inf', cutoff, 'LIMIT', 0, limit)
    if #gone > 0 then
      redis.call('ZREM', key, unpack(gone))
      redis.call('ZREM', index, unpack(gone))
    end
  end
end
