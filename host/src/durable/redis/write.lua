-- Applies an append the node admitted, if the stream is still the version it decided on.
-- KEYS: 1 meta, 2 data, 3 boundaries, 4 producers, 5 total bytes, 6 events
-- ARGV: 1 version, 2 request id, 3 json (1/0), 4 max total bytes, 5 segment, 6 position (the
--       new tail), 7 closed (1/0), 8 Stream-Seq ('' keeps), 9 closing producer ('' none),
--       10 producer id ('' none), 11 its state, 12 touched (ms), 13 path, 14 generation,
--       15 events kept, 16 count (bytes or messages); 17.. the items
-- Returns 'ok', 'done' (this request was applied already), 'conflict', 'gone' or 'full'.
local FIRST = 17
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
if redis.call('HGET', KEYS[1], 'rq') == ARGV[2] then return 'done' end
if redis.call('HGET', KEYS[1], 'ver') ~= ARGV[1] then return 'conflict' end
local added = 0
for i = FIRST, #ARGV do added = added + #ARGV[i] end
local total = tonumber(redis.call('GET', KEYS[5]) or '0')
if total + added > tonumber(ARGV[4]) then return 'full' end
if ARGV[3] == '1' then
  local batch = {}
  for i = FIRST, #ARGV do
    batch[#batch + 1] = ARGV[i]
    if #batch >= 256 then
      redis.call('RPUSH', KEYS[2], unpack(batch))
      batch = {}
    end
  end
  if #batch > 0 then redis.call('RPUSH', KEYS[2], unpack(batch)) end
else
  for i = FIRST, #ARGV do redis.call('APPEND', KEYS[2], ARGV[i]) end
end
if tonumber(ARGV[16]) > 0 then redis.call('ZADD', KEYS[3], ARGV[6], ARGV[6]) end
redis.call('HSET', KEYS[1], 'seg', ARGV[5], 'pos', ARGV[6], 'closed', ARGV[7],
  'touched', ARGV[12], 'rq', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'ver', 1)
redis.call('HINCRBY', KEYS[1], 'size', added)
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'lseq', ARGV[8]) end
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'cby', ARGV[9]) end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[4], ARGV[10], ARGV[11]) end
redis.call('INCRBY', KEYS[5], added)
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[15], '*', 'p', ARGV[13], 'g', ARGV[14],
  's', ARGV[5], 'n', ARGV[6], 'c', ARGV[7])
return 'ok'
