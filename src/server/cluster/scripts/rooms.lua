-- The server API's list of rooms: every room of the cluster with its members.
-- ARGV: none.
-- Returns three fields per room: name, members, 1 if locked else 0.
local out = {}
for _, room in ipairs(redis.call('SMEMBERS', K.rooms)) do
  out[#out + 1] = room
  out[#out + 1] = redis.call('ZCARD', K.members(room))
  out[#out + 1] = redis.call('EXISTS', K.locked(room))
end
return out
