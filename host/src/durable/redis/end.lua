-- Ends a stream (deleted or expired): soft while forks read it, else removed, and then its
-- source loses a fork (and, soft-deleted with no fork left, goes in turn, up the chain).
-- The chain's keys share the stream's prefix (and so its cluster slot).
-- KEYS: 1 meta, 2 all paths, 3 total bytes, 4 events
-- ARGV: 1 key prefix (`P:ds:`), 2 path, 3 generation, 4 events kept
-- Returns 'none' (no stream), 'changed' (another creation), 'gone' (soft-deleted) or 'ok'.
local prefix = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then return 'none' end
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[3] then return 'changed' end
if redis.call('HGET', KEYS[1], 'soft') == '1' then return 'gone' end
local path = ARGV[2]
local meta = KEYS[1]
for _ = 1, 10000 do
  local gen = redis.call('HGET', meta, 'gen')
  if tonumber(redis.call('HGET', meta, 'forks') or '0') > 0 then
    redis.call('HSET', meta, 'soft', 1)
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'p', path, 'g', gen, 'x', 1)
    break
  end
  local src = redis.call('HGET', meta, 'src') or ''
  local size = tonumber(redis.call('HGET', meta, 'size') or '0')
  redis.call('DEL', meta, prefix .. 'd:' .. path, prefix .. 'b:' .. path, prefix .. 'p:' .. path)
  redis.call('SREM', KEYS[2], path)
  redis.call('DECRBY', KEYS[3], size)
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', 'p', path, 'g', gen, 'x', 1)
  if src == '' then break end
  local smeta = prefix .. 'm:' .. src
  if redis.call('EXISTS', smeta) == 0 then break end
  local left = redis.call('HINCRBY', smeta, 'forks', -1)
  if left > 0 or redis.call('HGET', smeta, 'soft') ~= '1' then break end
  path = src
  meta = smeta
end
return 'ok'
