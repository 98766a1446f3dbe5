if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then
  return redis.error_reply('SSE_EPOCH the Redis log was lost or replaced')
end
local done = redis.call('GET', KEYS[3])
if done then
  return tonumber(done)
end
local idx = redis.call('HINCRBY', KEYS[1], 'next', 1) - 1
local first = tonumber(redis.call('HGET', KEYS[1], 'first') or '0')
local cap = tonumber(ARGV[4])
if cap > 0 and idx + 1 - cap > first then
  first = idx + 1 - cap
  redis.call('HSET', KEYS[1], 'first', string.format('%d', first))
end
local id = string.format('%d-1', idx)
local json = ARGV[2] .. string.format('%d', idx) .. ARGV[3]
local f = string.format('%d', first)
if cap > 0 then
  redis.call('XADD', KEYS[2], 'MINID', f, id, 'm', json, 'f', f)
else
  redis.call('XADD', KEYS[2], id, 'm', json, 'f', f)
end
redis.call('SET', KEYS[3], string.format('%d', idx), 'EX', ARGV[5])
return idx
