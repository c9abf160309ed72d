-- The indexes a page of runs reads (queries.RunQueries.list_runs), kept by the scripts that change a
-- run's status, so a page costs its own size whatever the number of runs: INDEX (<p>:runs) holds
-- every run by creation time, and <p>:runs:<status> the runs with that status, by the time each
-- entered it (a finished run by when it finished), except WAITING: by the wait's deadline.
-- WAITING is also the sweep's schedule of wait timeouts (a waiting run is not in DUE), so the index
-- costs a waiting run no entry more than DUE did, and its page shows the soonest deadline first.
local STATUSES = {'running', 'waiting', 'completed', 'failed', 'cancelled'}
local function status_key(status) return P .. ':runs:' .. status end
local WAITING = status_key('waiting')
-- The run ``id`` goes from status ``from`` (nil for a new run) to ``to``, scored ``score``.
local function move_status(id, from, to, score)
  if from then redis.call('ZREM', status_key(from), id) end
  redis.call('ZADD', status_key(to), score, id)
end
-- A run whose keys are gone (expired) leaves every index.
local function unindex(id)
  redis.call('ZREM', INDEX, id)
  for _, status in ipairs(STATUSES) do redis.call('ZREM', status_key(status), id) end
end
-- Put the run ``id`` in the status set its hash names, scored as that set orders (NX: the score a
-- transition gave stays). False when the run is gone.
local function reindex(id)
  local f = redis.call('HMGET', run_key(id), 'status', 'updated', 'finished', 'wait_index')
  if not f[1] then return false end
  if f[1] == 'waiting' then
    local _, record = waiting_on(id, f[4])
    local deadline = record and cjson.decode(record)['d']
    redis.call('ZADD', WAITING, 'NX', deadline or f[2], id)
    if deadline then redis.call('ZREM', DUE, id) end  -- its deadline is kept in WAITING now
  else
    redis.call('ZADD', status_key(f[1]), 'NX', f[3] or f[2], id)
  end
  return true
end
-- A finished run's keys expire ``ttl`` seconds after it finished (finish.lua, cancel.lua), which is
-- its score in its status set: up to ``limit`` runs per status whose time has come leave the indexes
-- (the sweep calls this; a page read drops any it meets before that).
local function trim_finished(now, ttl, limit)
  if ttl <= 0 then return end
  local cutoff = string.format('%.3f', tonumber(now) - ttl)
  for i = 3, 5 do
    local key = status_key(STATUSES[i])
    local gone = redis.call('ZRANGEBYSCORE', key, '-inf', cutoff, 'LIMIT', 0, limit)
    if #gone > 0 then
      redis.call('ZREM', key, unpack(gone))
      redis.call('ZREM', INDEX, unpack(gone))
    end
  end
end
-- Runs stored before the status indexes existed enter them once, ``count`` a sweep. The cursor in
-- <p>:indexed is '<score> <runs at that score already seen>' in INDEX, then 'done'.
local function backfill(count)
  local mark_key = P .. ':indexed'
  local mark = redis.call('GET', mark_key)
  if mark == 'done' then return end
  local last, seen = '-inf', 0
  if mark then
    local score, n = string.match(mark, '^(%S+) (%d+)$')
    last, seen = score, tonumber(n)
  end
  local rows = redis.call('ZRANGEBYSCORE', INDEX, last, '+inf', 'WITHSCORES', 'LIMIT', seen, count)
  local gone = {}
  for i = 1, #rows, 2 do
    local id, score = rows[i], rows[i + 1]
    if score ~= last then last, seen = score, 0 end
    if reindex(id) then seen = seen + 1 else table.insert(gone, id) end
  end
  if #gone > 0 then redis.call('ZREM', INDEX, unpack(gone)) end
  redis.call('SET', mark_key, #rows < 2 * count and 'done' or (last .. ' ' .. seen))
end
