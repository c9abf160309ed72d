-- Resumes a failed run from its failed step (scripts.RESUME; the dead-letter list): the step at
-- ``index`` takes ``record`` (the caller's copy of it, to be retried with its attempts anew; -1 when
-- the run failed outside a step), and the run is running again: no error, its keys kept (no
-- expiry), due for a lease and its wake-up call queued; its journal hears of it (the riders), and,
-- by a ``principal``, the audit trail. Returns the status the run had ('missing': none): only a
-- failed run resumes, so two resumes of one run resume it once.
local run, steps, journal, lookback, lookback_order = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local due, failed, running, queue, queues, audit = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local prefix, run_id, index, record, now, lease = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local nonce, principal, audit_max = ARGV[7], ARGV[8], ARGV[9]
local riding = {keys = 12, args = 10}
local this = given(prefix, run_id, run, steps, journal, lookback, lookback_order)
local f = fields(this, 'status')
if not f[1] then return 'missing' end
if f[1] ~= 'failed' then return f[1] end
if tonumber(index) >= 0 then redis.call('LSET', steps, tonumber(index), record) end
redis.call('HSET', run, 'status', 'running', 'updated', now, 'due', 'lease', 'owner', '', 'attempts', '0')
redis.call('HDEL', run, 'error', 'finished')
for _, key in ipairs({run, steps, journal}) do redis.call('PERSIST', key) end
move_status(run_id, failed, running, now)
redis.call('ZADD', due, lease, run_id)
wake(queue, queues, nonce, this)
append_journal(riding)
if principal ~= '' then
  to_audit(audit, audit_max, {'kind', 'resumed', 'run', run_id, 'index', index, 'event', '', 'by', principal,
    'outcome', 'running', 'detail', '', 'ask', ''})
end
return 'failed'
