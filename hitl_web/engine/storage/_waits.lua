-- Waits, shared by the scripts: who waits on an event id, the decision policy, and lookback.
-- Who waits on an event id: one hash for every event id (``waiters``), holding the run id of its only
-- waiter, or MANY when several runs wait on it, and then they are the fields of the event id's own
-- hash (``many``: keys.py's many_waiters). One waiter (the usual case: an event id per run) costs a
-- hash field, not a key.
local function add_waiter(waiters, many, event_id, id)
  local cur = redis.call('HGET', waiters, event_id)
  if not cur or cur == id then
    redis.call('HSET', waiters, event_id, id)
  else
    if cur ~= MANY then
      redis.call('HSET', waiters, event_id, MANY)
      redis.call('HSET', many, cur, 1)
    end
    redis.call('HSET', many, id, 1)
  end
end
-- True when ``id`` was waiting on ``event_id`` (and no longer is).
local function remove_waiter(waiters, many, event_id, id)
  local cur = redis.call('HGET', waiters, event_id)
  if cur == id then
    redis.call('HDEL', waiters, event_id)
    return true
  elseif cur == MANY then
    local removed = redis.call('HDEL', many, id) == 1
    if redis.call('EXISTS', many) == 0 then redis.call('HDEL', waiters, event_id) end
    return removed
  end
  return false
end
local function waiters_of(waiters, many, event_id)
  local cur = redis.call('HGET', waiters, event_id)
  if not cur then return {} end
  if cur == MANY then return redis.call('HKEYS', many) end
  return {cur}
end
-- The event id a waiting run waits on: its waiting step's record holds it (key 'e', see
-- models.STORED_KEYS), so the run hash does not repeat it. Also returns the record, and decoded.
local function waiting_on(this, index)
  local n = tonumber(index)  -- nil for several asks' indexes ("3,4"): see _asks.lua
  if not n then return false, false end
  local record = redis.call('LINDEX', this.steps, n)
  if not record then return nil, record end
  local step = cjson.decode(record)
  return step['e'], record, step
end
-- The inbox: each open ask is in one sorted set per entry of its approvers (a user, group:<name>,
-- or '' for an ask any approver may decide: keys.py's inbox), scored by its deadline, as
-- "<run id>:<index>", so an approver's open asks are a few ZRANGEs, never a scan of the runs.
-- ``entries``: the step's approvers (nil: anyone); ``deadline``: nil to take the ask out.
local function inbox(this, entries, index, deadline)
  local member = this.id .. ':' .. index
  for _, entry in ipairs(type(entries) == 'table' and entries or {''}) do
    local key = inbox_key(this.prefix, entry)
    if deadline then redis.call('ZADD', key, deadline, member) else redis.call('ZREM', key, member) end
  end
end
-- Whose inboxes the open ask ``step`` (decoded) enters: its approvers (nil: anyone's), none for a
-- wait for a child run (context.invoke: nobody decides it; asks.filed_under says the same to wait.lua).
local function filed_under(step)
  if step['ch'] then return {} end
  return step['p']
end
-- Where an open ask stands in the inbox: its due date (models.Step.due), else its deadline.
local function filed_at(step)
  return step['du'] or step['d'] or '+inf'
end
-- The run stops waiting on the event id its step record at ``index`` names (a cancel, a timeout):
-- that event id is data, so its many_waiters key is found here; the ask leaves the inbox.
local function leave_wait(waiters, this, index)
  local on, _, step = waiting_on(this, index)
  if on then remove_waiter(waiters, many_waiters_key(this.prefix, on), on, this.id) end
  if step then inbox(this, step['p'], index, nil) end
end
-- The decision policy, in the script that resolves a wait so that no entry point can skip it:
-- why ``principal`` may not decide the wait whose step record is ``step`` (decoded), or nil when they may.
-- A typed ask (its record names a form, 'fm') takes only a decision checked against that form
-- (``form``, see forms.decision_data): 'form'. Beyond that, no principal (library code's plain notify)
-- means no policy, as in Upstash. Reasons are outcomes.Refusal: 'expired' (deadline passed),
-- 'not_approver' (outside the wait's approvers), 'own_run' (separation of duties: the principal
-- started the run), 'child_run' (a wait for a child run's result: context.invoke; its end resolves it).
local function refusal(this, step, principal, now, form)
  if step['fm'] and step['fm'] ~= form then return 'form' end
  if not principal or principal == '' then return nil end
  if step['ch'] then return 'child_run' end
  if step['d'] and tonumber(step['d']) <= tonumber(now) then return 'expired' end
  local approvers = step['p']
  if type(approvers) == 'table' then
    local allowed = false
    for _, name in ipairs(approvers) do
      -- 'group:<name>' is every member of that group now: a change of the group applies at once.
      if name == principal or (string.sub(name, 1, 6) == 'group:'
          and redis.call('SISMEMBER', group_key(this.prefix, string.sub(name, 7)), principal) == 1) then
        allowed = true
        break
      end
    end
    if not allowed then return 'not_approver' end
  end
  if step['o'] and redis.call('HGET', this.run, 'by') == principal then return 'own_run' end
  return nil
end
-- Why the policy refuses the decision ``kept`` (lookback, as stored) for the ask ``step`` (decoded)
-- now that the run reaches it, and its principal; no reason when it resolves the ask. A quorum ask
-- counts votes only once it is open: a decision kept before would be one voice deciding it.
local function refuse_kept(this, step, kept, now)
  local decoded = cjson.decode(kept)
  local receipt = decoded['receipt']
  local principal = type(receipt) == 'table' and type(receipt['by']) == 'string' and receipt['by'] or nil
  local why = refusal(this, step, principal, now, type(decoded['form']) == 'string' and decoded['form'] or '')
  if not why and principal and step['q'] then why = 'early_vote' end
  return why, principal
end
-- The audit trail: one stream entry per human decision, vote, refusal and reassignment, written in
-- the script that makes (or refuses) the change, so no entry point can skip it. ``fields`` are what
-- happened ('kind': decided, voted, refused, kept, reassigned), to which run and ask, by whom, its
-- outcome, and 'detail' (the decision's receipt as its caller made it, or the reassignment); 'ask'
-- is the SHA1 of the ask's step record as it was (the prompt the decision answered).
local function to_audit(key, max, fields)
  redis.call('XADD', key, 'MAXLEN', '~', max, '*', unpack(fields))
end
-- Quorum: a wait whose record has 'q' (a number of approvals, or 'all') resolves when that many
-- distinct principals approved, or at the first rejection. Each principal's vote counts once; the
-- votes so far are run fields 'voters:<index>' (their names, a JSON array) and 'votes:<index>' (a
-- JSON array of the vote texts as given, never re-encoded: cjson would round their numbers).
-- The principals who may vote on ``step`` now (a set), or nil when anyone may (no approvers): its
-- users and the members of its groups, less whoever started the run under separation of duties.
local function eligible(this, step)
  local approvers = step['p']
  if type(approvers) ~= 'table' then return nil end
  local starter = step['o'] and redis.call('HGET', this.run, 'by') or nil
  local set = {}
  for _, name in ipairs(approvers) do
    local members = {name}
    if string.sub(name, 1, 6) == 'group:' then
      members = redis.call('SMEMBERS', group_key(this.prefix, string.sub(name, 7)))
    end
    for _, m in ipairs(members) do
      if m ~= starter then set[m] = true end
    end
  end
  return set
end
-- Count ``principal``'s vote (``vote``: its receipt as JSON; ``verdict``: 'approve' or 'reject') on
-- the quorum wait at ``index``. Returns 'already_voted' (nothing changes), 'counted' (the vote is
-- stored, the ask stays open) or '' and the resolution to resolve the wait with: ``resolution``
-- with every vote and the tally, or, when the quorum can no longer be met, one of the system's own.
-- The tally (JSON: approvals, needed, outcome once decided) comes third.
-- A wait without a quorum, or a decision without a principal (library code), resolves as given.
local function count_vote(this, index, step, principal, verdict, vote, resolution, now)
  if principal == '' then return '', resolution end
  local q = step['q']
  if not q then return '', resolution end
  local names, texts = 'voters:' .. index, 'votes:' .. index
  local cur = redis.call('HMGET', this.run, names, texts)
  local voters, voted = cur[1] and cjson.decode(cur[1]) or {}, {}
  for _, v in ipairs(voters) do voted[v] = true end
  if voted[principal] then return 'already_voted' end
  -- Every vote stored so far approved: the first rejection resolves the wait.
  local approvals = #voters
  table.insert(voters, principal)
  voted[principal] = true
  local votes = cur[2] and (string.sub(cur[2], 1, -2) .. ',' .. vote .. ']') or ('[' .. vote .. ']')
  redis.call('HSET', this.run, names, cjson.encode(voters), texts, votes)
  local outcome
  if verdict == 'reject' then
    outcome = 'rejected'
  else
    approvals = approvals + 1
    if q ~= 'all' and approvals >= tonumber(q) then
      outcome = 'approved'
    else  -- who may still vote decides it: all of them for 'all', enough of them for a number
      local allowed, left = eligible(this, step), 0
      for m in pairs(allowed or {}) do
        if not voted[m] then left = left + 1 end
      end
      if q == 'all' then
        if left == 0 then outcome = 'approved' end
      elseif allowed and approvals + left < tonumber(q) then
        outcome = 'unreachable'
      end
    end
  end
  local tally = cjson.encode({approvals = approvals, needed = q, outcome = outcome})
  if not outcome then return 'counted', nil, tally end
  if outcome == 'unreachable' then
    local text = '{"event_data":null,"timeout":false,"at":' .. now .. ',"votes":' .. votes .. ',"quorum":' .. tally
    return '', text .. '}', tally
  end
  return '', '{"votes":' .. votes .. ',"quorum":' .. tally .. ',' .. string.sub(resolution, 2), tally
end
-- Lookback: decisions kept for a run that has not reached their wait yet, by event id, and the
-- order they came in (oldest first). Both go when the run ends (end_run).
-- Keep ``resolution`` for the run until it waits on ``event_id``, at most ``max`` event ids: beyond
-- that the oldest is dropped, and counted in the run's 'lookback_dropped' (a run notified with ever
-- new event ids, and never waiting on them, stays small).
local function keep_lookback(this, event_id, resolution, max)
  if redis.call('HSET', this.lookback, event_id, resolution) == 0 then
    redis.call('LREM', this.lookback_order, 1, event_id)  -- notified again: the newest now
  end
  local n = redis.call('RPUSH', this.lookback_order, event_id)
  while n > max do
    redis.call('HDEL', this.lookback, redis.call('LPOP', this.lookback_order))
    redis.call('HINCRBY', this.run, 'lookback_dropped', 1)
    n = n - 1
  end
end
-- The decision kept for the run on ``event_id`` (nil when none), no longer kept.
local function take_lookback(this, event_id)
  local early = redis.call('HGET', this.lookback, event_id)
  if early then
    redis.call('HDEL', this.lookback, event_id)
    redis.call('LREM', this.lookback_order, 1, event_id)
  end
  return early
end
