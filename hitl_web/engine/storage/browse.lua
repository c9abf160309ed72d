-- A cursor page of runs (scripts.BROWSE), filtered: of every run newest first (INDEX), or of the runs
-- with one status (waiting: soonest deadline first), or of any of several (`any_of`: 'running,waiting',
-- the index walked), of one workflow, created within [since, until].
-- The cursor is the last entry examined (its score and id): the next page starts after it, so runs
-- added or moving on meanwhile never make a page repeat or skip one that stays. It examines at most
-- `budget` entries, so a filter that matches little answers a short page and a cursor to go on from.
-- Reply: {next score, next id, more (1|0), then per run: id, the run hash as field, value..., steps}.
local index, running, waiting, completed, failed, cancelled, due = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local prefix, status, any_of, workflow, since, upto = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local after_score, after_id, limit, budget = ARGV[7], ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
local statuses = {running = running, waiting = waiting, completed = completed, failed = failed, cancelled = cancelled}
local key = status == '' and index or statuses[status]
local forward = status == 'waiting'
local allowed = nil
if any_of ~= '' then
  allowed = {}
  for one in string.gmatch(any_of, '[^,]+') do allowed[one] = true end
end
local low, high = '-inf', '+inf'
if status == '' then  -- the index is by creation time: the time range is its score range
  if since ~= '' then low = since end
  if upto ~= '' then high = upto end
end
if after_score ~= '' then
  if forward then low = after_score else high = after_score end
end
local function field_of(f, name)
  for i = 1, #f, 2 do
    if f[i] == name then return f[i + 1] end
  end
end
-- An entry at the cursor's own score was examined already when it sorts before the cursor's id.
local function seen(id, score)
  if after_score == '' or tonumber(score) ~= tonumber(after_score) then return false end
  if forward then return id <= after_id end
  return id >= after_id
end
local out, found, examined, skip = {}, 0, 0, 0
local last_score, last_id, more = after_score, after_id, 0
while found < limit and examined < budget do
  local batch = math.min(budget - examined, math.max(limit - found, 16))
  local entries
  if forward then
    entries = redis.call('ZRANGE', key, low, high, 'BYSCORE', 'LIMIT', skip, batch, 'WITHSCORES')
  else
    entries = redis.call('ZRANGE', key, high, low, 'BYSCORE', 'REV', 'LIMIT', skip, batch, 'WITHSCORES')
  end
  if #entries == 0 then more = 0 break end
  more = 1
  skip = skip + #entries / 2
  for i = 1, #entries, 2 do
    local id, score = entries[i], entries[i + 1]
    if not seen(id, score) then
      examined = examined + 1
      last_score, last_id = score, id
      local this = run_keys(prefix, id)
      local f = hash_of(this)
      if #f == 0 then
        unindex(index, statuses, id)
        skip = skip - 1
      elseif status ~= '' and field_of(f, 'status') ~= status then
        redis.call('ZREM', key, id)
        reindex(this, statuses, due)
        skip = skip - 1
      else
        local created = tonumber(field_of(f, 'created') or '0')
        local wanted = (workflow == '' or field_of(f, 'workflow') == workflow)
          and (allowed == nil or allowed[field_of(f, 'status')])
          and (since == '' or created >= tonumber(since)) and (upto == '' or created <= tonumber(upto))
        if wanted then
          table.insert(out, id)
          table.insert(out, f)
          table.insert(out, redis.call('LRANGE', this.steps, 0, -1))
          found = found + 1
          if found >= limit then break end
        end
      end
    end
  end
  if #entries / 2 < batch then
    -- The index ran out within this batch: there is more only if this page stopped short of its end.
    more = (found >= limit and last_id ~= entries[#entries - 1]) and 1 or 0
    break
  end
end
return {last_score, last_id, more, out}
