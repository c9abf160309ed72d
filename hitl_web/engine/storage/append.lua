-- A batch of journal entries (scripts.APPEND: the riders part only); returns the events' ids.
local riding = {keys = 1, args = 1}
return append_journal(riding)
