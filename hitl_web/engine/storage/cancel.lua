-- Cancels a running or waiting run (scripts.CANCEL), writing its last journal entry (runFinish,
-- cancelled) only when the cancel is taken, and then, by a ``principal`` ('' : library code), an
-- entry of the audit trail. Returns the status the run had ('missing': none), its parent run (a
-- child's: context.invoke; '' for none), which the caller tells, and its workflow (for the metrics).
local run, steps, journal, lookback, lookback_order = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local waiters, due, running, waiting, cancelled, audit = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
local prefix, run_id, now, ttl, principal, audit_max = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local riding = {keys = 12, args = 7}
local this = given(prefix, run_id, run, steps, journal, lookback, lookback_order)
local f = fields(this, 'status', 'wait_index', 'parent', 'workflow')
if not f[1] then return {'missing', '', ''} end
if f[1] ~= 'running' and f[1] ~= 'waiting' then return {f[1], f[3] or '', f[4] or ''} end
if f[2] then close_asks(waiters, this, f[2]) end  -- a waiting run's, or the asks beside a running step
end_run(this, due, f[1] == 'waiting' and waiting or running, cancelled, 'cancelled', now, ttl)
append_journal(riding)
if principal ~= '' then
  to_audit(audit, audit_max, {'kind', 'cancelled', 'run', run_id, 'index', '', 'event', '', 'by', principal,
    'outcome', f[1], 'detail', '', 'ask', ''})
end
return {f[1], f[3] or '', f[4] or ''}
