if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then
  redis.call('DEL', KEYS[2], KEYS[3])
  redis.call('HSET', KEYS[1], 'next', 0, 'first', 0, 'state_version', 0, 'state', '{}')
end
return redis.call('HMGET', KEYS[1], 'epoch', 'next', 'first', 'state_version', 'state')
