-- A moderator locks a room to new joins, or unlocks it. A room without members has nothing to
-- lock (its lock would outlive it and shut out its next first joiner).
-- ARGV: room, '1' to lock or '0' to unlock.
-- Returns 1 if the room exists, else 0.
local room, lock = ARGV[1], ARGV[2] == '1'
if redis.call('EXISTS', K.members(room)) == 0 then
  return 0
end
if lock then
  redis.call('SET', K.locked(room), '1')
else
  redis.call('DEL', K.locked(room))
end
return 1
