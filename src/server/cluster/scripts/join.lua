-- A join: seats the member if the room has a free seat, atomically, so a room's capacity
-- holds however many instances take joins for it at once.
-- ARGV: node, sid, room, name, capacity (seats if this join creates the room; 0: unlimited),
-- the digest of the joiner's token ('' without one), its token's subject ('' without one), when
-- it joins (ms since the epoch, the instance's clock).
-- Returns {'seated', seq, capacity, roster...} (the roster as lib.lua's `roster` writes it,
-- the joiner included), {'full', capacity}, {'locked'} or {'banned'}.
local node, sid, room, name, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[6]
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
elseif redis.call('EXISTS', K.locked(room)) == 1 then
  return {'locked'}
elseif token ~= '' and tonumber(redis.call('ZSCORE', K.bans(room), token) or '0') > now_ms() then
  return {'banned'}
elseif capacity > 0 and count >= capacity then
  return {'full', capacity}
else
  seq = seat(node, sid, room, name, nil, ARGV[7], ARGV[8])
end
return roster(room, {'seated', seq, capacity})
