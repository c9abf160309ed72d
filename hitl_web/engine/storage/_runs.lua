-- A run's life, shared by the scripts: ``this`` is a run's keys (keys.py's run_keys, or given: id,
-- prefix, run, steps, journal, lookback, lookback_order), ``due`` the DUE set: running runs by their
-- lease's end or a parked run's wake-up (a waiting run's deadline is its score in WAITING instead).
-- A run stored before its keys had a hash tag (<p>:run:<id>) takes its keys' new names when a script
-- first meets it, before the migration (migrate.lua) renamed it, so that no script mistakes it for
-- a gone run. RENAME keeps each key's expiry. True when there was such a run.
local function adopt(this)
  local old = legacy_keys(this.prefix, this.id)
  if redis.call('EXISTS', old.run) == 0 or redis.call('EXISTS', this.run) == 1 then return false end
  for _, name in ipairs(RUN_KEYS) do
    if redis.call('EXISTS', old[name]) == 1 then redis.call('RENAME', old[name], this[name]) end
  end
  return true
end
-- HMGET of the run's hash, ``status`` first (every run has one): a run of the old layout adopted.
local function fields(this, ...)
  local f = redis.call('HMGET', this.run, ...)
  if not f[1] and adopt(this) then f = redis.call('HMGET', this.run, ...) end
  return f
end
-- HGETALL of the run's hash, a run of the old layout adopted.
local function hash_of(this)
  local f = redis.call('HGETALL', this.run)
  if #f == 0 and adopt(this) then f = redis.call('HGETALL', this.run) end
  return f
end
-- Queue a wake-up call for the run on the RQ queue, in the same script that makes it due: a trigger
-- or a notify is one round trip. The run keeps the nonce, so the sweep can tell a queued call from a
-- lost one.
local function wake(queue, queues, nonce, this)
  redis.call('RPUSH', queue, wake_up_call(nonce, this.id))
  redis.call('SADD', queues, queue)
  redis.call('HSET', this.run, 'job', nonce)
end
-- Writes are only taken from the execution that holds the run.
local function owns(run, token)
  local f = redis.call('HMGET', run, 'status', 'owner')
  return f[1] == 'running' and f[2] == token
end
local function put_step(steps, index, record)
  local n = redis.call('LLEN', steps)
  if index == n then
    redis.call('RPUSH', steps, record)
  elseif index < n then
    redis.call('LSET', steps, index, record)
  else
    return redis.error_reply('step index ' .. index .. ' is past the ' .. n .. ' recorded steps')
  end
end
-- Step records that an execution sends along with its next write: "index\tjson" lines (compact JSON
-- has no raw tab or newline). clear = '1' drops a resolved wait's resolution now that its record holds it.
local function put_records(this, blob, clear)
  for line in string.gmatch(blob, '[^\n]+') do
    local tab = string.find(line, '\t', 1, true)
    local err = put_step(this.steps, tonumber(string.sub(line, 1, tab - 1)), string.sub(line, tab + 1))
    if err then return err end
  end
  if clear == '1' then redis.call('HDEL', this.run, 'resolution', 'wait_index', 'wait_mode') end
end
-- The start of every write of an execution (a step, a wait, a park, a finish): nothing is taken from
-- an execution that no longer holds the run, and the step records it sent go in first. Returns the
-- reply to stop with (``lost``, or a bad record's error), or nil to go on.
local function own_and_record(this, token, records, clear, lost)
  if not owns(this.run, token) then return lost end
  return put_records(this, records, clear)
end
-- Take the run for the execution ``token``: {'ok', workflow, payload, started, resolution, wait index,
-- wait mode, attempts, parent (a child run's: context.invoke), step...}, or {reason} when that
-- execution must not run it now.
local function claim_run(this, due, token, now, lease_deadline)
  local f = fields(this, 'status', 'owner', 'due', 'workflow', 'payload', 'started', 'resolution',
    'wait_index', 'wait_mode', 'attempts', 'parent')
  if not f[1] then return {'missing'} end
  if f[1] ~= 'running' then return {f[1]} end
  local score = redis.call('ZSCORE', due, this.id)
  if score and tonumber(score) > tonumber(now) then
    if f[2] and f[2] ~= '' and f[2] ~= token then return {'busy'} end
    if f[3] == 'wake' then return {'early'} end
  end
  redis.call('HSET', this.run, 'owner', token, 'due', 'lease', 'started', '1', 'updated', now)
  redis.call('ZADD', due, lease_deadline, this.id)
  local out = {'ok', f[4], f[5], f[6] or '0', f[7] or '', f[8] or '', f[9] or '', f[10] or '0', f[11] or ''}
  for _, s in ipairs(redis.call('LRANGE', this.steps, 0, -1)) do table.insert(out, s) end
  return out
end
-- Take the next run off the head of the RQ queue for the execution ``token`` (the hand-off): skips
-- wake-up calls whose run must not run now, stops at any other kind of RQ job (RQ runs it) or an
-- empty queue. Returns {run id, claim_run's reply...}, or nil.
local function take_next(p, due, queue, token, now, lease_deadline)
  for _ = 1, 20 do
    local id = run_of_call(redis.call('LINDEX', queue, 0))
    if not id then return nil end
    redis.call('LPOP', queue)
    local claim = claim_run(run_keys(p, id), due, token, now, lease_deadline)
    if claim[1] == 'ok' then
      table.insert(claim, 1, id)
      return claim
    end
  end
  return nil
end
-- The scripts that end an execution (a wait, a park, a finish) hand its worker the next run in the
-- same round trip (scripts.HAND_OFF): the RQ queue, the next execution's token ('' when the worker
-- takes none) and its lease deadline. Appends take_next's reply to ``out``, {} when none.
local function hand_off(p, due, queue, next_token, now, next_lease, out)
  table.insert(out, next_token ~= '' and take_next(p, due, queue, next_token, now, next_lease) or {})
  return out
end
-- The end of a run (a finish, a cancel): its status and when, and ``field`` = ``value`` if given; it
-- leaves the status set ``from`` for ``to`` and DUE, its lookback decisions go, and with a ttl
-- (seconds, 0: kept) its keys expire (the indexes drop it then: trim_finished).
local function end_run(this, due, from, to, status, now, ttl, field, value)
  if field then
    redis.call('HSET', this.run, 'status', status, field, value, 'finished', now, 'updated', now)
  else
    redis.call('HSET', this.run, 'status', status, 'finished', now, 'updated', now)
  end
  move_status(this.id, from, to, now)
  redis.call('HDEL', this.run, 'owner', 'due', 'job', 'resolution', 'wait_index', 'wait_mode')
  redis.call('ZREM', due, this.id)
  redis.call('DEL', this.lookback, this.lookback_order)
  ttl = tonumber(ttl)
  if ttl > 0 then
    redis.call('EXPIRE', this.run, ttl)
    redis.call('EXPIRE', this.steps, ttl)
    redis.call('EXPIRE', this.journal, ttl)
  end
end
