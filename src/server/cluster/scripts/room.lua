-- The server API's view of one room: its members in join order, on every instance.
-- ARGV: room.
-- Returns {locked (1 or 0), six fields per member: sid, order, node, name, sub, since}; {} if
-- the room has no members.
local room = ARGV[1]
if redis.call('EXISTS', K.members(room)) == 0 then
  return {}
end
return roster(room, {redis.call('EXISTS', K.locked(room))}, true)
