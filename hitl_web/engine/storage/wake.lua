-- Queues a wake-up call for the run (scripts.WAKE): the same wake as a trigger's or a notify's.
local run, queue, queues = KEYS[1], KEYS[2], KEYS[3]
local run_id, nonce = ARGV[1], ARGV[2]
wake(queue, queues, nonce, {id = run_id, run = run})
return 1
