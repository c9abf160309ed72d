-- ARGV: key prefix, then the events as store_events reads them (store_events.lua is prepended).
-- One call per batch; returns the events' ids.
return store_events(ARGV[1], 2)
