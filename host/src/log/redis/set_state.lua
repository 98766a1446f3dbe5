if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then
  return redis.error_reply('SSE_EPOCH the Redis log was lost or replaced')
end
local v = tonumber(redis.call('HGET', KEYS[1], 'state_version') or '0')
if v ~= tonumber(ARGV[2]) then
  return {0, v, redis.call('HGET', KEYS[1], 'state')}
end
v = v + 1
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'state_version', v)
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[4], string.format('%d-1', v), 's', ARGV[3])
return {1, v}
