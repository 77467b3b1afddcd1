-- A join: seats the member if the room has a free seat, atomically, so a room's capacity
-- holds however many instances take joins for it at once.
-- ARGV: node, sid, room, name, capacity (seats if this join creates the room; 0: unlimited).
-- Returns {'seated', seq, capacity, roster...} (the roster as lib.lua's `roster` writes it,
-- the joiner included) or {'full', capacity}.
local node, sid, room, name = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local count = redis.call('ZCARD', K.members(room))
local capacity = tonumber(ARGV[5])
if count > 0 then
  capacity = tonumber(redis.call('GET', K.capacity(room)) or '0')
elseif capacity > 0 then
  redis.call('SET', K.capacity(room), capacity)
end
local seq
if redis.call('ZSCORE', K.members(room), sid) then
  -- Seated by an earlier join whose answer was lost: it keeps its seat.
  seq = tonumber(redis.call('GET', K.seq))
elseif capacity > 0 and count >= capacity then
  return {'full', capacity}
else
  seq = seat(node, sid, room, name, nil)
end
return roster(room, {'seated', seq, capacity})
