-- Members leaving rooms.
-- ARGV: sid, reason, then the rooms it leaves (none: every room it is in).
-- Returns how many members each room still has (-1 where `sid` was not in it; nothing for
-- "every room").
local sid, reason = ARGV[1], ARGV[2]
local remaining = {}
if #ARGV == 2 then
  for _, room in ipairs(redis.call('SMEMBERS', K.rooms_of(sid))) do
    unseat(sid, room, reason)
  end
  return remaining
end
for i = 3, #ARGV do
  remaining[#remaining + 1] = unseat(sid, ARGV[i], reason) or -1
end
return remaining
