-- The rosters of some rooms, read in one go, with the sequence they are current at and the
-- registered instances.
-- ARGV: the rooms.
-- Returns {seq, n, n instances..., then per room: its member count, then its roster as
-- lib.lua's `roster` writes it}.
local now = now_ms()
local live = redis.call('ZRANGEBYSCORE', K.nodes, now, '+inf')
local out = {tonumber(redis.call('GET', K.seq) or '0'), #live}
for _, node in ipairs(live) do
  out[#out + 1] = node
end
for _, room in ipairs(ARGV) do
  out[#out + 1] = redis.call('ZCARD', K.members(room))
  roster(room, out)
end
return out
