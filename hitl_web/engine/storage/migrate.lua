-- The runs stored before their keys had a hash tag take their keys' new names (scripts.MIGRATE),
-- ``count`` runs of INDEX a call, the walk's cursor in ``layout``; a script that meets such a run
-- before renames it itself (adopt). Returns 1 once every run was visited, else 0.
local index, layout = KEYS[1], KEYS[2]
local prefix, count = ARGV[1], tonumber(ARGV[2])
return walk_index(layout, index, count, function(id)
  adopt(run_keys(prefix, id))
  return true
end) and 1 or 0
