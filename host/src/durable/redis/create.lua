-- Creates a stream (a fork copies its source's prefix), unless one exists at its path.
-- KEYS: 1 meta, 2 data, 3 boundaries, 4 producers, 5 all paths, 6 generation counter,
--       7 total bytes, 8 events, 9 source meta, 10 source data, 11 source boundaries
-- ARGV: 1 path, 2 json (1/0), 3 max streams, 4 max stream bytes, 5 max total bytes,
--       6 source generation ('' when not a fork), 7 cut, 8 segment, 9 position (the tail),
--       10 closed (1/0), 11 configuration, 12 requested configuration, 13 touched (ms),
--       14 events kept, 15 source path, 16 where a new generation counter starts;
--       17.. the items
-- Returns {'ok', generation} or {reason}.
local FIRST = 17
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
if redis.call('SCARD', KEYS[5]) >= tonumber(ARGV[3]) then return {'too_many'} end
local json = ARGV[2] == '1'
local cut = tonumber(ARGV[7])
local fork = ARGV[6] ~= ''
local added, count = 0, 0
for i = FIRST, #ARGV do
  added = added + #ARGV[i]
end
if json then count = #ARGV - FIRST + 1 else count = added end
local copied, csize = {}, 0
if fork then
  if redis.call('HGET', KEYS[9], 'gen') ~= ARGV[6] or redis.call('HGET', KEYS[9], 'soft') == '1' then
    return {'retry'}
  end
  if cut > 0 then
    if json then
      local at = 0
      while at < cut do
        local last = math.min(at + 255, cut - 1)
        local part = redis.call('LRANGE', KEYS[10], at, last)
        if #part == 0 then break end
        for _, m in ipairs(part) do
          copied[#copied + 1] = m
          csize = csize + #m
        end
        at = last + 1
      end
    else
      local b = redis.call('GETRANGE', KEYS[10], 0, cut - 1)
      copied[1] = b
      csize = #b
    end
  end
end
if csize + added > tonumber(ARGV[4]) then return {'stream_full'} end
local total = tonumber(redis.call('GET', KEYS[7]) or '0')
if total + csize + added > tonumber(ARGV[5]) then return {'full'} end
redis.call('SETNX', KEYS[6], ARGV[16])
local gen = redis.call('INCR', KEYS[6])
if json then
  local batch = {}
  local function flush()
    if #batch > 0 then
      redis.call('RPUSH', KEYS[2], unpack(batch))
      batch = {}
    end
  end
  for _, m in ipairs(copied) do
    batch[#batch + 1] = m
    if #batch >= 256 then flush() end
  end
  for i = FIRST, #ARGV do
    batch[#batch + 1] = ARGV[i]
    if #batch >= 256 then flush() end
  end
  flush()
else
  local parts = {}
  for _, b in ipairs(copied) do parts[#parts + 1] = b end
  for i = FIRST, #ARGV do parts[#parts + 1] = ARGV[i] end
  local s = table.concat(parts)
  if #s > 0 then redis.call('SET', KEYS[2], s) end
end
if fork then
  local bs = redis.call('ZRANGEBYSCORE', KEYS[11], '-inf', '(' .. ARGV[7])
  local batch = {}
  for _, b in ipairs(bs) do
    batch[#batch + 1] = b
    batch[#batch + 1] = b
    if #batch >= 512 then
      redis.call('ZADD', KEYS[3], unpack(batch))
      batch = {}
    end
  end
  if #batch > 0 then redis.call('ZADD', KEYS[3], unpack(batch)) end
  if cut > 0 then redis.call('ZADD', KEYS[3], ARGV[7], ARGV[7]) end
  redis.call('HINCRBY', KEYS[9], 'forks', 1)
end
if count > 0 then redis.call('ZADD', KEYS[3], ARGV[9], ARGV[9]) end
redis.call('HSET', KEYS[1], 'gen', gen, 'cfg', ARGV[11], 'req', ARGV[12], 'seg', ARGV[8],
  'pos', ARGV[9], 'closed', ARGV[10], 'touched', ARGV[13], 'size', csize + added,
  'forks', 0, 'soft', 0, 'ver', 1, 'src', ARGV[15])
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('INCRBY', KEYS[7], csize + added)
redis.call('XADD', KEYS[8], 'MAXLEN', '~', ARGV[14], '*', 'p', ARGV[1], 'g', gen, 's', ARGV[8],
  'n', ARGV[9], 'c', ARGV[10])
return {'ok', gen}
