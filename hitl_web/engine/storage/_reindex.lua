-- Putting runs right in the indexes, and the walks over INDEX that bring older data up to date.
-- Put the run in the status set its hash names, scored as that set orders (NX: the score a
-- transition gave stays). False when the run is gone.
local function reindex(this, statuses, due)
  local f = fields(this, 'status', 'updated', 'finished', 'wait_index')
  if not f[1] then return false end
  if f[1] == 'waiting' then
    local _, _, step = waiting_on(this, f[4])
    local deadline = step and step['d']
    redis.call('ZADD', statuses.waiting, 'NX', deadline or f[2], this.id)
    if deadline then redis.call('ZREM', due, this.id) end  -- its deadline is kept in WAITING now
  else
    redis.call('ZADD', statuses[f[1]], 'NX', f[3] or f[2], this.id)
  end
  return true
end
-- Visit ``count`` runs of INDEX (every run, by creation time) a call, going on where the last call
-- stopped: the cursor in ``mark`` is '<score> <runs at that score already seen>', then 'done'.
-- ``visit(id)`` returns false for a run that is gone: it leaves INDEX. True once the walk is done.
local function walk_index(mark, index, count, visit)
  local at = redis.call('GET', mark)
  if at == 'done' then return true end
  local last, seen = '-inf', 0
  if at then
    local score, n = string.match(at, '^(%S+) (%d+)$')
    last, seen = score, tonumber(n)
  end
  local rows = redis.call('ZRANGEBYSCORE', index, last, '+inf', 'WITHSCORES', 'LIMIT', seen, count)
  local gone = {}
  for i = 1, #rows, 2 do
    local id, score = rows[i], rows[i + 1]
    if score ~= last then last, seen = score, 0 end
    if visit(id) then seen = seen + 1 else table.insert(gone, id) end
  end
  if #gone > 0 then redis.call('ZREM', index, unpack(gone)) end
  local done = #rows < 2 * count
  redis.call('SET', mark, done and 'done' or (last .. ' ' .. seen))
  return done
end
