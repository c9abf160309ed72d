-- A run's open wait, shared by the scripts: one ask (wait.lua) or several at once (asks.lua,
-- context.parallel). The run's 'wait_index' holds the indexes of the wait's asks, comma-separated
-- ("3" for one ask); several asks also have 'wait_mode', which says when the run resumes (settle).
-- An ask of several answered before the run resumes keeps its resolution in 'resolution:<index>';
-- the run resumes with all of them in 'resolution', a JSON object by index (one ask: its own).
local function asks_of(wait_index)
  local out = {}
  for i in string.gmatch(wait_index or '', '[^,]+') do table.insert(out, i) end
  return out
end
-- The run is due to run again with ``resolution`` (a notify, a timeout): it leaves WAITING and is
-- due at ``lease`` with no owner, so the wake-up call's execution (or the sweep's) takes it.
local function resume(this, due, waiting, running, resolution, now, lease)
  redis.call('HSET', this.run, 'status', 'running', 'resolution', resolution, 'due', 'lease', 'owner', '',
    'updated', now)
  move_status(this.id, waiting, running, now)
  redis.call('ZADD', due, lease, this.id)
end
-- The ask of several (``wait_index``) still open on ``event_id``: its index, record and step (decoded),
-- or nil. None is open once the run resumed (its 'resolution' is set: pass it as ``resumed``).
local function open_ask(this, wait_index, resumed, event_id)
  if resumed then return nil end
  for _, i in ipairs(asks_of(wait_index)) do
    if redis.call('HEXISTS', this.run, 'resolution:' .. i) == 0 then
      local on, record, step = waiting_on(this, i)
      if on == event_id then return i, record, step end
    end
  end
  return nil
end
-- The ask of several (``wait_index``) at ``index``, if it is still open: index, record and step.
local function open_ask_at(this, wait_index, resumed, index)
  if resumed or redis.call('HEXISTS', this.run, 'resolution:' .. index) == 1 then return nil end
  for _, i in ipairs(asks_of(wait_index)) do
    if i == index then
      local _, record, step = waiting_on(this, i)
      return i, record, step
    end
  end
  return nil
end
-- The ladder of an ask that opens (``ladder``: "<rung> <when due> ..." from models/rungs.py, '' for
-- none) goes into RUNGS (``rungs``), NX: opening it again (a replay) moves no rung.
local function schedule_rungs(rungs, this, index, ladder)
  for rung, at in string.gmatch(ladder or '', '(%w+) (%S+)') do
    redis.call('ZADD', rungs, 'NX', at, this.id .. ':' .. index .. ':' .. rung)
  end
end
-- An ask of several takes ``resolution`` (kept on the run until it resumes) and leaves its waiters
-- and the inbox.
local function answer(this, waiters, index, step, resolution)
  redis.call('HSET', this.run, 'resolution:' .. index, resolution)
  remove_waiter(waiters, many_waiters_key(this.prefix, step['e']), step['e'], this.id)
  inbox(this, step['p'], index, nil)
end
-- Whether a resolution does not approve: a timeout, a rejection (client.decide marks it 'verdict'
-- 'reject', as quorum.approves reads the decision), or a quorum ask that did not reach 'approved'.
local function rejects(resolution)
  local r = cjson.decode(resolution)
  local q = r['quorum']
  if type(q) == 'table' and type(q['outcome']) == 'string' then return q['outcome'] ~= 'approved' end
  return r['timeout'] == true or r['verdict'] == 'reject'
end
-- Whether the asks of ``wait_index`` let the run resume now (``mode`` 'all': every ask answered;
-- 'first_rejection': that, or one answer that does not approve). Then the resolution it resumes
-- with, {"<index>": resolution, ...}; an ask not answered is withdrawn (it leaves its waiters and
-- the inbox). Else nil.
local function settle(this, waiters, wait_index, mode, now)
  local indexes, names = asks_of(wait_index), {}
  for k, i in ipairs(indexes) do names[k] = 'resolution:' .. i end
  local got = redis.call('HMGET', this.run, unpack(names))
  local open, rejected = false, false
  for k = 1, #indexes do
    if not got[k] then
      open = true
    elseif mode == 'first_rejection' and not rejected then
      rejected = rejects(got[k])
    end
  end
  if open and not rejected then return nil end
  local parts = {}
  for k, i in ipairs(indexes) do
    local r = got[k]
    if not r then
      r = '{"event_data":null,"timeout":false,"withdrawn":true,"at":' .. now .. '}'
      leave_wait(waiters, this, i)
    end
    parts[k] = '"' .. i .. '":' .. r
  end
  redis.call('HDEL', this.run, unpack(names))
  return '{' .. table.concat(parts, ',') .. '}'
end
-- The resolution an ask takes when its deadline passes: ``timeout`` (the sweep's, no decision), or
-- the ask's own default outcome ('ot', models.Step.on_timeout: JSON text, never re-encoded) decided
-- by the system, with a receipt that says so.
local function timeout_of(step, timeout, now)
  local default = type(step) == 'table' and step['ot']
  if type(default) ~= 'string' then return timeout end
  return '{"timeout":false,"defaulted":true,"at":' .. now .. ',"receipt":{"by":"system","via":"timeout","at":'
    .. now .. '},' .. string.sub(default, 2)
end
-- Asks of several whose deadline passed take a timeout (``timeout``: its resolution). Returns the
-- soonest deadline of those still open (nil: none), the run's score in WAITING.
local function time_out_asks(this, waiters, wait_index, timeout, now)
  local soonest
  for _, i in ipairs(asks_of(wait_index)) do
    if redis.call('HEXISTS', this.run, 'resolution:' .. i) == 0 then
      local _, _, step = waiting_on(this, i)
      local d = step and tonumber(step['d'])
      if d and d <= tonumber(now) then
        answer(this, waiters, i, step, timeout_of(step, timeout, now))
      elseif d and (not soonest or d < soonest) then
        soonest = d
      end
    end
  end
  return soonest
end
-- Every ask of the run's open wait leaves its waiters and the inbox (a cancel, a failure).
local function close_asks(waiters, this, wait_index)
  for _, i in ipairs(asks_of(wait_index)) do leave_wait(waiters, this, i) end
end
-- Why a decision on a run that is not waiting on ``event_id`` comes too late: 'closed' (the run
-- ended, or the ask was withdrawn), 'decided' (the ask on it is answered already), or nil (it may
-- still wait on it: lookback).
local function too_late(this, status, event_id)
  for _, raw in ipairs(redis.call('LRANGE', this.steps, 0, -1)) do
    local step = cjson.decode(raw)
    if step['e'] == event_id and step['s'] == 'completed' then
      return (type(step['r']) == 'table' and step['r']['withdrawn'] == true) and 'closed' or 'decided'
    end
  end
  if status ~= 'running' and status ~= 'waiting' then return 'closed' end
  -- Answered a moment ago: its step record says waiting until the resumed execution writes it.
  local f = redis.call('HMGET', this.run, 'resolution', 'wait_index', 'wait_mode')
  for _, i in ipairs(asks_of(f[2])) do
    if waiting_on(this, i) == event_id then
      if not f[3] then return f[1] and 'decided' or nil end
      if redis.call('HEXISTS', this.run, 'resolution:' .. i) == 1 then return 'decided' end
      if f[1] then return cjson.decode(f[1])[i]['withdrawn'] == true and 'closed' or 'decided' end
    end
  end
  return nil
end
