-- ARGV: prefix, token, now, lease deadline, RQ queue key, then the events riding along (from 6)
-- The end of an execution whose last write took no next run: store its last events, and take the
-- next run (take_next) in the same round trip, where a dequeue, a claim and an event write take
-- three. Returns {run id, claim_run's reply...} or {}.
ride(6)
return take_next(ARGV[5], ARGV[2], ARGV[3], ARGV[4]) or {}
