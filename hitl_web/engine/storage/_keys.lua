-- Shared by every script: ARGV[1] is the key prefix. Keys are derived here (one standalone Redis).
local P = ARGV[1]
-- Running runs by their lease's end or a parked run's wake-up; a waiting run's deadline is its score
-- in <p>:runs:waiting instead (_indexes.lua).
local DUE = P .. ':due'
local INDEX = P .. ':runs'
local function run_key(id) return P .. ':run:' .. id end
local function steps_key(id) return P .. ':steps:' .. id end
-- The run's realtime events (realtime.Realtime.events_key): they expire with the run.
local function events_key(id) return P .. ':rt:' .. id end
-- Lookback: decisions kept for a run that has not reached their wait yet, by event id, and the
-- order they came in (oldest first). Both go when the run finishes or is cancelled.
local function lookback_key(id) return P .. ':lookback:' .. id end
local function lookback_order_key(id) return P .. ':lookback:' .. id .. ':order' end
-- Who waits on an event id: one hash for every event id, holding the run id of its only waiter, or
-- MANY when several runs wait on it, and then they are the fields of the event id's own hash. One
-- waiter (the usual case: an event id per run) costs a hash field, not a key.
local WAITERS = P .. ':waiters'
local MANY = '*'  -- never a run id
local function many_key(event_id) return P .. ':waiters:' .. event_id end
local function add_waiter(event_id, id)
  local cur = redis.call('HGET', WAITERS, event_id)
  if not cur or cur == id then
    redis.call('HSET', WAITERS, event_id, id)
  else
    if cur ~= MANY then
      redis.call('HSET', WAITERS, event_id, MANY)
      redis.call('HSET', many_key(event_id), cur, 1)
    end
    redis.call('HSET', many_key(event_id), id, 1)
  end
end
-- True when ``id`` was waiting on ``event_id`` (and no longer is).
local function remove_waiter(event_id, id)
  if not event_id then return false end
  local cur = redis.call('HGET', WAITERS, event_id)
  if cur == id then
    redis.call('HDEL', WAITERS, event_id)
    return true
  elseif cur == MANY then
    local mk = many_key(event_id)
    local removed = redis.call('HDEL', mk, id) == 1
    if redis.call('EXISTS', mk) == 0 then redis.call('HDEL', WAITERS, event_id) end
    return removed
  end
  return false
end
-- The event id a waiting run waits on: its waiting step's record holds it (key 'e', see
-- models.STORED_KEYS), so the run hash does not repeat it.
local function waiting_on(id, index)
  if not index then return false, false end
  local record = redis.call('LINDEX', steps_key(id), tonumber(index))
  return record and cjson.decode(record)['e'], record
end
local function waiters_of(event_id)
  local cur = redis.call('HGET', WAITERS, event_id)
  if not cur then return {} end
  if cur == MANY then return redis.call('HKEYS', many_key(event_id)) end
  return {cur}
end
-- The decision policy, in the script that resolves a wait so that no entry point can skip it:
-- why ``principal`` may not decide the wait whose step record is ``record``, or nil when they may.
-- No principal (library code's plain notify) means no policy, as in Upstash. Reasons are
-- models.Refusal: 'expired' (deadline passed), 'not_approver' (outside the wait's approvers),
-- 'own_run' (separation of duties: the principal started the run).
local function refusal(id, record, principal, now)
  if not principal or principal == '' then return nil end
  local step = cjson.decode(record)
  if step['d'] and tonumber(step['d']) <= tonumber(now) then return 'expired' end
  local approvers = step['p']
  if type(approvers) == 'table' then
    local allowed = false
    for _, name in ipairs(approvers) do
      if name == principal then allowed = true break end
    end
    if not allowed then return 'not_approver' end
  end
  if step['o'] and redis.call('HGET', run_key(id), 'by') == principal then return 'own_run' end
  return nil
end
-- Why a decision on a run that is not waiting on ``event_id`` comes too late: 'closed' (the run
-- ended), 'decided' (a wait on it is already completed), or nil (it may still wait on it: lookback).
local function too_late(id, status, event_id)
  for _, raw in ipairs(redis.call('LRANGE', steps_key(id), 0, -1)) do
    local step = cjson.decode(raw)
    if step['e'] == event_id and step['s'] == 'completed' then return 'decided' end
  end
  if status ~= 'running' and status ~= 'waiting' then return 'closed' end
  -- Resolved a moment ago: its step record says waiting until the resumed execution writes it.
  local f = redis.call('HMGET', run_key(id), 'resolution', 'wait_index')
  if f[1] and waiting_on(id, f[2]) == event_id then return 'decided' end
  return nil
end
-- Keep ``resolution`` for the run ``id`` until it waits on ``event_id``, at most ``max`` event ids:
-- beyond that the oldest is dropped, and counted in the run's 'lookback_dropped' (a run notified with
-- ever new event ids, and never waiting on them, stays small).
local function keep_lookback(id, event_id, resolution, max)
  local lk, ok = lookback_key(id), lookback_order_key(id)
  if redis.call('HSET', lk, event_id, resolution) == 0 then
    redis.call('LREM', ok, 1, event_id)  -- notified again: the newest now
  end
  local n = redis.call('RPUSH', ok, event_id)
  while n > max do
    redis.call('HDEL', lk, redis.call('LPOP', ok))
    redis.call('HINCRBY', run_key(id), 'lookback_dropped', 1)
    n = n - 1
  end
end
-- The decision kept for the run ``id`` on ``event_id`` (nil when none), no longer kept.
local function take_lookback(id, event_id)
  local lk = lookback_key(id)
  local early = redis.call('HGET', lk, event_id)
  if early then
    redis.call('HDEL', lk, event_id)
    redis.call('LREM', lookback_order_key(id), 1, event_id)
  end
  return early
end
-- Queue a wake-up call for the run (runner.wake_up_id: "hitlrun_<nonce>_<run id>") on the RQ queue,
-- in the same script that makes it due: a trigger or a notify is one round trip.
local function wake(queue, queues, nonce, id)
  redis.call('RPUSH', queue, 'hitlrun_' .. nonce .. '_' .. id)
  redis.call('SADD', queues, queue)
  redis.call('HSET', run_key(id), 'job', nonce)
end
-- The run a queued job id wakes (the reverse of wake), or nil for any other RQ job.
local function run_of_call(job_id)
  return job_id and string.match(job_id, '^hitlrun_%x+_(.+)$')
end
-- Writes are only taken from the execution that holds the run.
local function owns(rk, token)
  local f = redis.call('HMGET', rk, 'status', 'owner')
  return f[1] == 'running' and f[2] == token
end
local function put_step(sk, index, record)
  local n = redis.call('LLEN', sk)
  if index == n then
    redis.call('RPUSH', sk, record)
  elseif index < n then
    redis.call('LSET', sk, index, record)
  else
    return redis.error_reply('step index ' .. index .. ' is past the ' .. n .. ' recorded steps')
  end
end
-- Step records that an execution sends along with its next write: "index\tjson" lines (compact JSON
-- has no raw tab or newline). clear = '1' drops a resolved wait's resolution now that its record holds it.
local function put_records(id, rk, blob, clear)
  local sk = steps_key(id)
  for line in string.gmatch(blob, '[^\n]+') do
    local tab = string.find(line, '\t', 1, true)
    local err = put_step(sk, tonumber(string.sub(line, 1, tab - 1)), string.sub(line, tab + 1))
    if err then return err end
  end
  if clear == '1' then redis.call('HDEL', rk, 'resolution', 'wait_index') end
end
-- Take the run for the execution ``token``: {'ok', workflow, payload, started, resolution, wait index,
-- attempts, step...}, or {reason} when that execution must not run it now.
local function claim_run(id, token, now, lease_deadline)
  local rk = run_key(id)
  local f = redis.call('HMGET', rk, 'status', 'owner', 'due', 'workflow', 'payload', 'started',
    'resolution', 'wait_index', 'attempts')
  if not f[1] then return {'missing'} end
  if f[1] ~= 'running' then return {f[1]} end
  local score = redis.call('ZSCORE', DUE, id)
  if score and tonumber(score) > tonumber(now) then
    if f[2] and f[2] ~= '' and f[2] ~= token then return {'busy'} end
    if f[3] == 'wake' then return {'early'} end
  end
  redis.call('HSET', rk, 'owner', token, 'due', 'lease', 'started', '1', 'updated', now)
  redis.call('ZADD', DUE, lease_deadline, id)
  local out = {'ok', f[4], f[5], f[6] or '0', f[7] or '', f[8] or '', f[9] or '0'}
  for _, s in ipairs(redis.call('LRANGE', steps_key(id), 0, -1)) do table.insert(out, s) end
  return out
end
-- Take the next run off the head of the RQ queue for the execution ``token`` (the hand-off): skips
-- wake-up calls whose run must not run now, stops at any other kind of RQ job (RQ runs it) or an
-- empty queue. Returns {run id, claim_run's reply...}, or nil.
local function take_next(queue, token, now, lease_deadline)
  for _ = 1, 20 do
    local head = redis.call('LINDEX', queue, 0)
    local id = run_of_call(head)
    if not id then return nil end
    redis.call('LPOP', queue)
    local claim = claim_run(id, token, now, lease_deadline)
    if claim[1] == 'ok' then
      table.insert(claim, 1, id)
      return claim
    end
  end
  return nil
end
-- The scripts that end an execution (a wait, a park, a finish) hand its worker the next run in the
-- same round trip: ARGV[i..i+2] are the RQ queue key ('' when the worker takes none), the next
-- execution's token and its lease deadline. Appends take_next's reply to ``out``.
local function hand_off(i, now, out)
  if ARGV[i] == '' then return out end
  local claim = take_next(ARGV[i], ARGV[i + 1], now, ARGV[i + 2])
  for _, v in ipairs(claim or {}) do table.insert(out, v) end
  return out
end
-- A worker's realtime events that ride along with a script of its execution, from ARGV[first] on
-- (journal.lua, prepended). They are stored whether or not the script's own change is taken:
-- they were emitted before it, and may be another run's.
local function ride(first) append_journal(P, first) end
