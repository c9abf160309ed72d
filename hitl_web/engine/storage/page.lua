-- A page of runs (scripts.PAGE): of every run, newest first (INDEX); of the runs with one status,
-- the latest to enter it first, except waiting runs: the soonest deadline first. It reads the page's
-- entries only, and each run with its steps in the same consistent reply:
-- {run id, the run hash as field, value..., its step records, ...}.
local index, running, waiting, completed, failed, cancelled, due = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local prefix, status, offset, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local statuses = {running = running, waiting = waiting, completed = completed, failed = failed, cancelled = cancelled}
local key = status == '' and index or statuses[status]
local range = status == 'waiting' and 'ZRANGE' or 'ZREVRANGE'
local out, found, start = {}, 0, offset
local function status_of(f)
  for i = 1, #f, 2 do
    if f[i] == 'status' then return f[i + 1] end
  end
end
-- An entry whose run expired since the last sweep (or, from a writer older than the status indexes,
-- whose status moved on) is put right as it is met, and the page reads on past it: a few times at
-- most, so a page read stays bounded whatever the indexes hold.
for _ = 1, 4 do
  local ids = redis.call(range, key, start, start + limit - found - 1)
  local stale = 0
  for _, id in ipairs(ids) do
    local this = run_keys(prefix, id)
    local f = hash_of(this)
    if #f == 0 then
      unindex(index, statuses, id)
      stale = stale + 1
    elseif status ~= '' and status_of(f) ~= status then
      redis.call('ZREM', key, id)
      reindex(this, statuses, due)
      stale = stale + 1
    else
      table.insert(out, id)
      table.insert(out, f)
      table.insert(out, redis.call('LRANGE', this.steps, 0, -1))
      found = found + 1
    end
  end
  if stale == 0 or found >= limit then break end
  start = start + #ids - stale
end
return out
