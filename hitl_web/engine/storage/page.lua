-- ARGV: prefix, status ('' for every run), offset, limit
-- A page of runs: of every run, newest first (INDEX); of the runs with one status, the latest to
-- enter it first, except waiting runs: the soonest deadline first (status_key). It reads the page's
-- entries only, and each run with its steps in the same consistent reply:
-- {run id, the run hash as field, value..., its step records, ...}.
local status, offset, limit = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local key = status == '' and INDEX or status_key(status)
local range = status == 'waiting' and 'ZRANGE' or 'ZREVRANGE'
local out, found, start = {}, 0, offset
local function status_of(fields)
  for i = 1, #fields, 2 do
    if fields[i] == 'status' then return fields[i + 1] end
  end
end
-- An entry whose run expired since the last sweep (or, from a writer older than the status indexes,
-- whose status moved on) is put right as it is met, and the page reads on past it: a few times at
-- most, so a page read stays bounded whatever the indexes hold.
for _ = 1, 4 do
  local ids = redis.call(range, key, start, start + limit - found - 1)
  local stale = 0
  for _, id in ipairs(ids) do
    local f = redis.call('HGETALL', run_key(id))
    if #f == 0 then
      unindex(id)
      stale = stale + 1
    elseif status ~= '' and status_of(f) ~= status then
      redis.call('ZREM', key, id)
      reindex(id)
      stale = stale + 1
    else
      table.insert(out, id)
      table.insert(out, f)
      table.insert(out, redis.call('LRANGE', steps_key(id), 0, -1))
      found = found + 1
    end
  end
  if stale == 0 or found >= limit then break end
  start = start + #ids - stale
end
return out
