-- ARGV: key prefix, then the events as append_journal reads them (journal.lua is prepended).
-- One call per batch; returns the events' ids.
return append_journal(ARGV[1], 2)
