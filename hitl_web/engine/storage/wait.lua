-- ARGV: prefix, run id, token, records (the waiting step's last), clear, step index, event id, deadline,
--       now, the hand-off's queue, token and lease deadline (see hand_off), then the events riding
--       along (from 13)
-- Reaching a wait: an early (lookback) notify for this run resolves it at once; otherwise the run
-- registers as a waiter and stops holding a worker, which takes the next run: {'waiting', next...}.
-- A lookback decision the policy refuses for this wait (see refusal) is dropped and the wait stays
-- open: {'refused', principal, reason, next...}.
ride(13)
local id, index, event_id, now = ARGV[2], ARGV[6], ARGV[7], ARGV[9]
local rk = run_key(id)
if not owns(rk, ARGV[3]) then return {'lost'} end
local err = put_records(id, rk, ARGV[4], ARGV[5])
if err then return err end
local early = take_lookback(id, event_id)
local refused
if early then
  local receipt = cjson.decode(early)['receipt']
  local principal = type(receipt) == 'table' and type(receipt['by']) == 'string' and receipt['by'] or nil
  local record = redis.call('LINDEX', steps_key(id), tonumber(index))
  local why = refusal(id, record, principal, now)
  if not why then
    redis.call('HSET', rk, 'resolution', early, 'wait_index', index, 'updated', now)
    return {'resolved', early}
  end
  refused = {'refused', principal, why}
end
add_waiter(event_id, id)
-- No owner, no wake-up call and no reason to be due (a waiting run is due for its deadline): three
-- fields fewer for every waiting run.
redis.call('HDEL', rk, 'owner', 'due', 'job')
redis.call('HSET', rk, 'status', 'waiting', 'wait_index', index, 'updated', now)
-- Its deadline is its score among the waiting runs (the sweep fires timeouts from there): no DUE entry.
move_status(id, 'running', 'waiting', ARGV[8])
redis.call('ZREM', DUE, id)
return hand_off(10, now, refused or {'waiting'})
