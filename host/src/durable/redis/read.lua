-- A stream's metadata and its items from a position, in one atomic step.
-- KEYS: 1 meta, 2 data
-- ARGV: 1 first position, 2 most bytes (at least one item when any exists)
-- Returns {} when there is no stream, else {metadata as HGETALL, items}.
local m = redis.call('HGETALL', KEYS[1])
if #m == 0 then return {} end
local begin = tonumber(ARGV[1])
local max = math.max(tonumber(ARGV[2]), 1)
local items = {}
local kind = redis.call('TYPE', KEYS[2])['ok']
if kind == 'string' then
  local s = redis.call('GETRANGE', KEYS[2], begin, begin + max - 1)
  if #s > 0 then items[1] = s end
elseif kind == 'list' then
  local taken, at, done = 0, begin, false
  -- At most 64 batches of 64 messages.
  for _ = 1, 64 do
    local part = redis.call('LRANGE', KEYS[2], at, at + 63)
    for _, msg in ipairs(part) do
      if #items > 0 and taken + #msg > max then
        done = true
        break
      end
      taken = taken + #msg
      items[#items + 1] = msg
    end
    if done or #part < 64 then break end
    at = at + 64
  end
end
return {m, items}
