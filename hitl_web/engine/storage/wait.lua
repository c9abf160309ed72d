-- Reaching a wait (scripts.WAIT): an early (lookback) notify for this run resolves it at once,
-- {'resolved', resolution}; otherwise the run registers as a waiter (and its ask enters the inbox
-- of each of its approvers) and stops holding a worker,
-- which takes the next run: {'waiting', '', '', next}. A lookback decision the policy refuses for
-- this wait (see refusal) is dropped and the wait stays open: {'refused', principal, reason, next}.
-- {'lost'} when the execution no longer owns the run.
local run, steps, lookback, lookback_order, waiters, many_waiters = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local due, running, waiting, rungs, queue = KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local prefix, run_id, token, records, clear, index = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local event_id, deadline, now, next_token, next_lease = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local approvers, filed = ARGV[12], ARGV[13]  -- for the inbox: the approvers as JSON ('': anyone), its place
local ladder = ARGV[14]  -- its reminders and escalation (schedule_rungs), '' for none
local riding = {keys = 12, args = 15}
append_journal(riding)
local this = {id = run_id, prefix = prefix, run = run, steps = steps, lookback = lookback, lookback_order = lookback_order}
local halt = own_and_record(this, token, records, clear, {'lost'})
if halt then return halt end
local early = take_lookback(this, event_id)
local refused
if early then
  local step = cjson.decode(redis.call('LINDEX', steps, tonumber(index)))
  local why, principal = refuse_kept(this, step, early, now)
  if not why then
    redis.call('HSET', run, 'resolution', early, 'wait_index', index, 'updated', now)
    return {'resolved', early}
  end
  refused = {'refused', principal, why}
end
add_waiter(waiters, many_waiters, event_id, run_id)
inbox(this, approvers ~= '' and cjson.decode(approvers) or nil, index, filed)
if ladder ~= '' then schedule_rungs(rungs, this, index, ladder) end
-- No owner, no wake-up call and no reason to be due (a waiting run is due for its deadline): three
-- fields fewer for every waiting run.
redis.call('HDEL', run, 'owner', 'due', 'job')
redis.call('HSET', run, 'status', 'waiting', 'wait_index', index, 'updated', now)
-- Its deadline is its score among the waiting runs (the sweep fires timeouts from there): no DUE entry.
move_status(run_id, running, waiting, deadline)
redis.call('ZREM', due, run_id)
return hand_off(prefix, due, queue, next_token, now, next_lease, refused or {'waiting', '', ''})
