-- Reassign an open ask (scripts.REASSIGN): the waiting step at ``index`` takes ``record`` (the
-- caller's copy of ``was`` with the new approvers and this reassignment appended), if the run still
-- waits there with exactly ``was`` and the decision policy lets ``principal`` decide it ('' : an
-- operator at the command line). One script, so no vote and no deadline falls between the check and
-- the change: a vote after it meets the new approvers. The entries riding along announce it.
-- Returns '' (reassigned), 'changed' (the record moved on since it was read: read it again), or a
-- outcomes.Refusal ('decided', 'closed', and the policy's own).
local run, steps, audit, rungs = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, run_id, index, was, record, principal, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local change, audit_max, announce = ARGV[8], ARGV[9], ARGV[10]
local riding = {keys = 5, args = 11}
local this = {id = run_id, prefix = prefix, run = run, steps = steps}
local f = redis.call('HMGET', run, 'status', 'wait_index', 'wait_mode', 'resolution')
local step = cjson.decode(was)
local open = f[1] == 'waiting' and f[2] == index and not f[3]
if f[3] then open = open_ask(this, f[2], f[4], step['e']) == index end  -- one of several asks
if not open then
  return (f[1] and too_late(this, f[1], step['e'])) or 'decided'
end
if redis.call('LINDEX', steps, tonumber(index)) ~= was then return 'changed' end
local by = cjson.decode(change)['by']
local why = refusal(this, step, principal, now, step['fm'] or '')
to_audit(audit, audit_max, {'kind', why and 'refused' or 'reassigned', 'run', run_id, 'index', index, 'event',
  step['e'] or '', 'by', by, 'outcome', why or 'reassigned', 'detail', change, 'ask', redis.sha1hex(was)})
if why then return why end
redis.call('LSET', steps, tonumber(index), record)
inbox(this, step['p'], index, nil)
inbox(this, filed_under(cjson.decode(record)), index, filed_at(step))
redis.call('HSET', run, 'updated', now)
-- ``announce`` '1': the new approvers hear of it through the workers' notifiers, from the next sweep
-- (a rung due now, 'a'; rungs.lua), as the process that reassigns may have no notifiers of its own.
if announce == '1' then redis.call('ZADD', rungs, now, run_id .. ':' .. index .. ':a') end
append_journal(riding)
return ''
