-- Several asks at once (scripts.ASKS; context.parallel). ``asks``: JSON [{"i": index, "e": event
-- id, "l": its ladder (schedule_rungs)}, ...], whose step records ride in ``records``. Each ask opens with its own waiters entry and
-- inbox entries; a decision kept for its event id (lookback) answers it at once unless the policy
-- refuses it (refuse_kept). ``mode``: when the run resumes (settle, _asks.lua). Opening an ask
-- again (a replay; the suspend after the steps beside the asks) changes nothing.
-- ``suspend`` '0': the execution goes on with the steps beside the asks, still holding the run:
-- {'open', '', refusals, {}}. '1': the run waits for its asks (those past their deadline time out
-- first) unless they settle it already: {'resolved', its resolution, refusals, {}}, else
-- {'waiting', '', refusals, the next run (the hand-off)}. refusals: {index, principal, reason, ...}.
-- {'lost'} when the execution no longer owns the run.
local run, steps, lookback, lookback_order, waiters = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local due, running, waiting, rungs, queue = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local prefix, run_id, token, records, clear, asks = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local mode, suspend, now, next_token, next_lease = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local riding = {keys = 11, args = 12}
append_journal(riding)
local this = {id = run_id, prefix = prefix, run = run, steps = steps, lookback = lookback, lookback_order = lookback_order}
local halt = own_and_record(this, token, records, clear, {'lost'})
if halt then return halt end
local indexes, refusals = {}, {}
for k, ask in ipairs(cjson.decode(asks)) do
  local i, event_id = tostring(ask['i']), ask['e']
  indexes[k] = i
  if redis.call('HEXISTS', run, 'resolution:' .. i) == 0 then
    local _, _, step = waiting_on(this, i)
    local early, why, principal = take_lookback(this, event_id), nil, nil
    if early then why, principal = refuse_kept(this, step, early, now) end
    if early and not why then
      redis.call('HSET', run, 'resolution:' .. i, early)
    else
      if why then
        for _, v in ipairs({i, principal or '', why}) do table.insert(refusals, v) end
      end
      add_waiter(waiters, many_waiters_key(prefix, event_id), event_id, run_id)
      inbox(this, filed_under(step), i, filed_at(step))
      schedule_rungs(rungs, this, i, ask['l'])
    end
  end
end
local wait_index = table.concat(indexes, ',')
redis.call('HSET', run, 'wait_index', wait_index, 'wait_mode', mode, 'updated', now)
if suspend ~= '1' then return {'open', '', refusals, {}} end
local timeout = '{"event_data":null,"timeout":true,"at":' .. now .. '}'
local soonest = time_out_asks(this, waiters, wait_index, timeout, now)
local settled = settle(this, waiters, wait_index, mode, now)
if settled then
  redis.call('HSET', run, 'resolution', settled)
  return {'resolved', settled, refusals, {}}
end
-- As wait.lua: no owner, no wake-up call, and its soonest deadline is its score among the waiting runs.
redis.call('HDEL', run, 'owner', 'due', 'job')
redis.call('HSET', run, 'status', 'waiting')
move_status(run_id, running, waiting, soonest or '+inf')
redis.call('ZREM', due, run_id)
return hand_off(prefix, due, queue, next_token, now, next_lease, {'waiting', '', refusals})
