-- Notify (scripts.RESOLVE): every run waiting on the event id (or just the given run) takes the
-- resolution and is due to run again, its wake-up call queued, unless the decision policy refuses
-- the principal or the decision's ``form`` (see refusal): then nothing changes for that run. A
-- quorum ask counts the principal's vote (``verdict``, ``vote``; see count_vote) and resolves once
-- the votes decide it. With a run id and no wait yet, the resolution is kept for that run
-- (lookback), unless a decision comes too late for it.
-- An ask of several (see _asks.lua) takes the resolution alone; the run resumes once they settle.
-- Returns {kept, run id, its waiting step's record, outcome ('' resolved, 'counted' a vote counted
-- on an ask still open, 'answered' an ask of several answered while the run waits on the others,
-- else a outcomes.Refusal), the quorum's tally as JSON ('' for none), ...}.
local waiters, many_waiters, due, running, waiting, queue, queues = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local run, steps, journal, lookback, lookback_order, audit = KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local prefix, event_id, resolution, only, now, lease = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local keep, nonce_stem, principal, keep_max, form = ARGV[7], ARGV[8], ARGV[9], tonumber(ARGV[10]), ARGV[11]
local verdict, vote, audit_max, min_replicas = ARGV[12], ARGV[13], ARGV[14], ARGV[15]
local missing = replicas_missing(min_replicas)
if missing then return missing end
local ids, given_run = {only}, nil
if only ~= '' then
  given_run = given(prefix, only, run, steps, journal, lookback, lookback_order)
else
  ids = waiters_of(waiters, many_waiters, event_id)
end
local out = {0}
-- What happened to run ``id`` (its ask's step ``index`` and ``record``): in the reply, and, for a
-- principal's decision (library code's plain notify is none), in the audit trail.
local function met(id, index, record, outcome, tally)
  for _, value in ipairs({id, record, outcome, tally or ''}) do table.insert(out, value) end
  if principal ~= '' then
    local kind = ((outcome == '' or outcome == 'answered') and 'decided') or (outcome == 'counted' and 'voted')
      or 'refused'
    to_audit(audit, audit_max, {'kind', kind, 'run', id, 'index', index or '', 'event', event_id, 'by', principal,
      'outcome', outcome, 'detail', vote, 'ask', record ~= '' and redis.sha1hex(record) or ''})
  end
end
local woken = 0
for _, id in ipairs(ids) do
  local this = given_run or run_keys(prefix, id)
  local f = fields(this, 'status', 'wait_index', 'wait_mode', 'resolution')
  local index, record, step
  if f[3] then  -- several asks: any of them still open, while the run waits or runs the steps beside them
    index, record, step = open_ask(this, f[2], f[4], event_id)
  elseif f[1] == 'waiting' then
    local on
    on, record, step = waiting_on(this, f[2])
    if on == event_id then index = f[2] end
  end
  if index then
    local outcome, taken, tally = refusal(this, step, principal, now, form), resolution, nil
    if not outcome then
      outcome, taken, tally = count_vote(this, index, step, principal, verdict, vote, resolution, now)
    end
    local settled = taken
    if outcome == '' and f[3] then
      answer(this, waiters, index, step, taken)
      settled = f[1] == 'waiting' and settle(this, waiters, f[2], f[3], now)
      if not settled then outcome = 'answered' end  -- the run waits on its other asks, or runs
    elseif outcome == '' then
      remove_waiter(waiters, many_waiters, event_id, id)
      inbox(this, step['p'], index, nil)
    end
    if outcome == '' then
      resume(this, due, waiting, running, settled, now, lease)
      wake(queue, queues, nth_nonce(nonce_stem, woken), this)
      woken = woken + 1
    end
    met(id, index, record, outcome, tally)
  elseif only == '' then
    remove_waiter(waiters, many_waiters, event_id, id)  -- not waiting on it any more: nothing to keep
  else
    local late = principal ~= '' and f[1] and too_late(this, f[1], event_id)
    if late then
      met(id, nil, '', late)
    elseif keep == '1' and (f[1] == 'running' or f[1] == 'waiting') then
      keep_lookback(this, event_id, resolution, keep_max)
      out[1] = 1
      if principal ~= '' then
        to_audit(audit, audit_max, {'kind', 'kept', 'run', id, 'index', '', 'event', event_id, 'by', principal,
          'outcome', 'kept', 'detail', vote, 'ask', ''})
      end
    end
  end
end
return out
