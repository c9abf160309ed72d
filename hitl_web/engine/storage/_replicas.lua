-- Acknowledged means replicated (replication.py): a write whose refusal must leave nothing behind
-- (a trigger, a decision) is refused before it changes anything unless ``wanted`` replicas are
-- online. Returns the refusal (Redis's own word under min-replicas-to-write), or nil to go on.
local function replicas_missing(wanted)
  wanted = tonumber(wanted) or 0
  if wanted <= 0 then return nil end
  local online = 0
  for _ in string.gmatch(redis.call('INFO', 'replication'), 'state=online') do online = online + 1 end
  if online >= wanted then return nil end
  return redis.error_reply('NOREPLICAS ' .. online .. ' of ' .. wanted ..
    ' replicas online: nothing was saved')
end
