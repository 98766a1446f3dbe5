-- Refreshes a TTL: the stream's last read or write, if it is still this creation.
-- KEYS: 1 meta; ARGV: 1 generation, 2 touched (ms)
if redis.call('HGET', KEYS[1], 'gen') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'touched', ARGV[2])
end
return 1
