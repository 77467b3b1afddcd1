-- Members of instance `node` leaving rooms. A seat another instance holds now (it adopted the
-- member while `node` was taken for dead) is not `node`'s to free.
-- ARGV: node, sid, reason, then the rooms it leaves (none: every room it is in).
-- Returns, for each room it was in and left, the room and how many members it still has on
-- every instance: {room, remaining, room, remaining, ...}.
local node, sid, reason = ARGV[1], ARGV[2], ARGV[3]
local rooms = {}
if #ARGV == 3 then
  rooms = redis.call('SMEMBERS', K.rooms_of(sid))
else
  for i = 4, #ARGV do
    rooms[#rooms + 1] = ARGV[i]
  end
end
local left = {}
for _, room in ipairs(rooms) do
  local remaining = holder(room, sid) == node and unseat(sid, room, reason)
  if remaining then
    left[#left + 1] = room
    left[#left + 1] = remaining
  end
end
return left
