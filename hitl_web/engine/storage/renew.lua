-- ARGV: prefix, run id, token, lease deadline
if owns(run_key(ARGV[2]), ARGV[3]) then
  redis.call('ZADD', DUE, 'XX', ARGV[4], ARGV[2])
  return 1
end
return 0
